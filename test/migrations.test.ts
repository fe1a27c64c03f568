// Migrations apply once, record themselves, and leave a database whose schema matches the
// committed snapshot on both backends.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { migrate, migrationStatus } from '../src/db/migrate.js';
import { schemaSnapshot, SNAPSHOT_FILE } from '../src/db/snapshot.js';
import { LakeError } from '../src/errors.js';
import { BACKEND, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
before(async () => {
  // Created empty and migrated here, not copied from the template: these tests are about migrating.
  t = await openTestLake({}, { fresh: true });
});
after(() => t.dispose());

test('a fresh database gets every migration whose extensions it has; the rest are recorded as skipped', async () => {
  const result = t.lake.migrations!;
  const applied = result.applied.map((m) => m.name);
  assert.deepEqual(applied, ['foundation', 'geography', 'fuzzy_search', 'embeddings', 'messages', 'blobs', 'api_keys', 'contacts_calendar', 'media', 'documents', 'import_jobs', 'revisions', 'location_hours', 'location_cells', 'location_points_no_gist', 'location_points_geography_view', 'private_item_ids', 'lake_identity', 'job_runners', 'file_counts', 'sql_access', 'typed_geography_view', 'location_tiles', 'console_links', 'location_tiles_all', 'location_points_position_index', 'sql_port_hardening']);
  // pg_cron exists only in the server's `lake` database (cron.database_name), never in a test database or PGlite.
  assert.deepEqual(
    result.skipped.map((m) => [m.name, m.reason]),
    [['scheduled_maintenance', 'needs pg_cron']],
  );
  const status = await migrationStatus(t.lake.db, t.lake.profile);
  assert.ok(status.every((m) => m.state === 'applied' || m.state === 'skipped'));
});

test('migrating an already-migrated database changes nothing', async () => {
  const before = await schemaSnapshot(t.lake.db);
  const ledgerBefore = await t.lake.db.query(`SELECT version, status, recorded_at FROM lake.migrations ORDER BY version`);
  const again = await migrate(t.lake.db, t.lake.profile);
  assert.deepEqual(again, { applied: [], skipped: [] });
  assert.equal(await schemaSnapshot(t.lake.db), before);
  const ledgerAfter = await t.lake.db.query(`SELECT version, status, recorded_at FROM lake.migrations ORDER BY version`);
  assert.deepEqual(ledgerAfter.rows, ledgerBefore.rows);
});

test('the schema matches the committed snapshot (run `npm run schema:snapshot` after a schema change)', async () => {
  const committed = await readFile(SNAPSHOT_FILE, 'utf8');
  assert.equal(await schemaSnapshot(t.lake.db), committed);
});

test('an applied migration whose file changed is refused', async () => {
  const original = await t.lake.db.query<{ checksum: string }>(`SELECT checksum FROM lake.migrations WHERE version = 1`);
  await t.lake.db.query(`UPDATE lake.migrations SET checksum = 'edited' WHERE version = 1`);
  try {
    await assert.rejects(migrate(t.lake.db, t.lake.profile), (e: unknown) => e instanceof LakeError && e.code === 'MIGRATION_CHANGED');
    const status = await migrationStatus(t.lake.db, t.lake.profile);
    assert.equal(status[0]!.state, 'changed');
  } finally {
    await t.lake.db.query(`UPDATE lake.migrations SET checksum = $1 WHERE version = 1`, [original.rows[0]!.checksum]);
  }
});

test(`time tables are ${BACKEND === 'server' ? 'TimescaleDB hypertables' : 'native monthly partitions'} on this backend`, async () => {
  const tables = await t.lake.db.query<{ table_name: string; partitioning: string }>(
    `SELECT table_name, partitioning FROM lake.time_tables ORDER BY 1`,
  );
  const expected = t.lake.profile.features.hypertables.enabled ? 'hypertable' : 'native';
  assert.deepEqual(
    tables.rows,
    ['timeseries.location_points', 'timeseries.measurements', 'user_data.items', 'user_data.messages'].map((table_name) => ({ table_name, partitioning: expected })),
  );
});
