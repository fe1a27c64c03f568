// The point counts per map cell and period (timeseries.location_tiles, migrations 0024 and 0026:
// days, months, years and all time) equal what the points give, once the days marked stale are
// counted again, after every kind of write: loader batches by COPY and through the staging table,
// duplicates, points repeated within a batch, the same fix from another source, a batch split
// around a refused point, a file's rows removed, points deleted and moved with
// refresh_location_tiles called for their days (as the photo reconcile does); and in a lake
// counted before migration 0026, once migrated. Also the cell function against the Web Mercator
// tile formula.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import type { Database } from '../src/db/database.js';
import { installExtensions } from '../src/db/extensions.js';
import { migrate } from '../src/db/migrate.js';
import { loadBatch, prepareBatch } from '../src/ingest/load/loader.js';
import { loadResilient } from '../src/ingest/load/resilient.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { removeFileRows } from '../src/ingest/receive/ledger.js';
import { Lake } from '../src/lake.js';
import { morton } from '../src/query/tiles.js';
import { createUser as createLakeUser } from '../src/query/users.js';
import { createServerDatabase, createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let alice: string;
let bob: string;
const FILES = { first: '00000000-0000-4000-8000-0000000000c1', second: '00000000-0000-4000-8000-0000000000c2' };

before(async () => {
  t = await openTestLake();
  alice = await createUser(t.lake, 'alice');
  bob = await createUser(t.lake, 'bob');
  for (const user of [alice, bob]) {
    await t.lake.db.asUser(user, async (tx) => {
      for (const file of Object.values(FILES)) {
        await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [user, file]);
        await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'x.json')`, [user, file]);
      }
    });
  }
});
after(() => t.dispose());

/** Points every `stepMs` from `start`, walking north-east from (lat, lon); keyed by time and position. */
function points(start: string, count: number, stepMs: number, lat = 52.5, lon = 13.4, source = 'test.tiles'): LakeRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const at = Date.parse(start) + i * stepMs;
    const p = { lat: lat + i * 0.0007, lon: lon + i * 0.0011 };
    return { type: 'location_point', source, key: [at, p.lat, p.lon], recordedAt: new Date(at), ...p };
  });
}

/** The table's rows, and the rows computed from the points, as the user sees them. */
async function compare(user: string, db: Database = t.lake.db): Promise<{ stored: string[]; expected: string[] }> {
  return db.asUser(user, async (tx) => {
    const row = `concat_ws('|', level, period, cell, start, points, first_at, last_at)`;
    const stored = await tx.query<{ r: string }>(`SELECT ${row} AS r FROM timeseries.location_tiles ORDER BY level, period, cell, start`);
    const expected = await tx.query<{ r: string }>(
      `SELECT ${row} AS r FROM (
         SELECT l.level, p.period, c.cell >> (2 * (20 - l.level)) AS cell,
                CASE p.period WHEN 'all' THEN '-infinity' ELSE date_trunc(p.period, c.recorded_at, 'UTC') END AS start,
                count(*)::integer AS points, min(c.recorded_at) AS first_at, max(c.recorded_at) AS last_at
           FROM (SELECT timeseries.location_tile_cell(lat, lon) AS cell, recorded_at FROM timeseries.location_points) c
          CROSS JOIN (VALUES (8), (10), (12), (14), (16), (18), (20)) l (level)
          CROSS JOIN (VALUES ('day'), ('month'), ('year'), ('all')) p (period)
          GROUP BY 1, 2, 3, 4) counted
        ORDER BY level, period, cell, start`,
    );
    return { stored: stored.rows.map((x) => x.r), expected: expected.rows.map((x) => x.r) };
  });
}

/** Count the stale days again (as the end of an import and a tile's read do), then compare. */
async function assertCurrent(user: string, pointCount: number): Promise<void> {
  await t.lake.db.asUser(user, (tx) => tx.query(`SELECT timeseries.refresh_stale_location_tiles()`));
  const { stored, expected } = await compare(user);
  assert.deepEqual(stored, expected);
  const total = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number; p: number }>(`SELECT coalesce(sum(points), 0)::int AS n, (SELECT count(*)::int FROM timeseries.location_points) AS p
                                          FROM timeseries.location_tiles WHERE level = 8 AND period = 'year'`),
  );
  assert.equal(total.rows[0]!.p, pointCount, 'points stored');
  assert.equal(total.rows[0]!.n, pointCount, 'points counted');
}

test('the cell of a position is its Web Mercator cell at level 20, as a Morton code', async () => {
  const positions = [[52.52, 13.405], [-33.8688, 151.2093], [0, 0], [85.1, -180], [-89, 179.99999], [40.7128, -74.006]] as const;
  for (const [lat, lon] of positions) {
    const n = 2 ** 20;
    const clamped = Math.max(-85.0511287798066, Math.min(85.0511287798066, lat));
    const rad = (clamped * Math.PI) / 180;
    const x = Math.min(n - 1, Math.floor(((lon + 180) / 360) * n));
    const y = Math.min(n - 1, Math.max(0, Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n)));
    const row = await t.lake.db.query<{ cell: string }>(`SELECT timeseries.location_tile_cell($1, $2)::text AS cell`, [lat, lon]);
    // morton() takes coordinates below 2^16: the high bits of the level-20 code are those of (x >> 16, y >> 16).
    const expected = morton(x >> 16, y >> 16) * 2 ** 32 + morton(x & 0xffff, y & 0xffff);
    assert.equal(Number(row.rows[0]!.cell), expected, `${lat},${lon}`);
  }
});

test('batches by COPY and through staging, duplicates, repeats and another source\'s same fixes count each point once', async () => {
  const target = (file: string) => ({ userId: alice, jobId: file, fileId: file });
  // A first batch (COPY), then an overlapping one through the staging table, across midnight and a month's end.
  await loadBatch(t.lake.db, target(FILES.first), { records: points('2024-01-31T20:00:00Z', 120, 240_000) });
  // A batch marks its days stale (the loader counts nothing itself).
  const stale = await t.lake.db.asUser(alice, (tx) => tx.query<{ day: Date }>(`SELECT day FROM timeseries.location_tiles_stale ORDER BY day`));
  assert.deepEqual(stale.rows.map((r) => r.day.toISOString()), ['2024-01-31T00:00:00.000Z', '2024-02-01T00:00:00.000Z']);
  await assertCurrent(alice, 120);
  await loadBatch(t.lake.db, target(FILES.second), { records: points('2024-01-31T22:30:00Z', 60, 90_000, 48.1, 11.5) });
  await assertCurrent(alice, 180);
  // The first batch again: duplicates only.
  const again = await loadBatch(t.lake.db, target(FILES.first), { records: points('2024-01-31T20:00:00Z', 120, 240_000) });
  assert.equal(again.duplicates, 120);
  await assertCurrent(alice, 180);
  // Old and new points mixed, a new one repeated within the batch.
  const fresh = points('2024-02-01T12:00:00Z', 3, 1000, 40, -3.7);
  const mixed = await loadBatch(t.lake.db, target(FILES.first), { records: [...points('2024-01-31T20:00:00Z', 10, 240_000), ...fresh, fresh[1]!] });
  assert.equal(mixed.inserted, 3);
  await assertCurrent(alice, 183);
  // The same fixes from another source (other keys): dropped as duplicates, not counted.
  const same = await loadBatch(t.lake.db, target(FILES.second), { records: points('2024-01-31T20:00:00Z', 5, 240_000, 52.5, 13.4, 'test.other') });
  assert.equal(same.duplicates, 5);
  await assertCurrent(alice, 183);
  // Bob's points in the same cells and days are his alone.
  await loadBatch(t.lake.db, { userId: bob, jobId: FILES.first, fileId: FILES.first }, { records: points('2024-01-31T20:00:00Z', 7, 240_000) });
  await assertCurrent(bob, 7);
  await assertCurrent(alice, 183);
});

test('a batch split around a refused point counts the points stored', async () => {
  const target = { userId: alice, jobId: FILES.first, fileId: FILES.first };
  const records = points('2024-03-01T00:00:00Z', 6, 600_000);
  (records[2] as { lat: number }).lat = 123;
  const counts = await loadResilient(t.lake.db, target, prepareBatch(target, { records }), 'x.json');
  assert.equal(counts.inserted, 5);
  await assertCurrent(alice, 188);
});

test("removing a file's rows, and points deleted or moved then refreshed, recompute their days, months and years", async () => {
  await removeFileRows(t.lake.db, alice, FILES.second, ['timeseries.location_points']);
  await assertCurrent(alice, 128);
  await assertCurrent(bob, 7);
  // As the photo reconcile does: points moved in time and space, then their old and new days refreshed.
  await t.lake.db.asUser(alice, async (tx) => {
    // Deleted and inserted again (a TimescaleDB chunk keeps its rows: an UPDATE cannot move one to another month).
    const moved = await tx.query<{ old: Date[]; now: Date[] }>(
      `WITH gone AS (
         DELETE FROM timeseries.location_points
          WHERE (recorded_at, content_hash) IN (SELECT recorded_at, content_hash FROM timeseries.location_points ORDER BY recorded_at LIMIT 4)
         RETURNING *),
       back AS (
         INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, source, import_file_id)
         SELECT user_id, recorded_at + interval '40 days', content_hash, lat - 10, lon, source, import_file_id FROM gone
         RETURNING recorded_at)
       SELECT (SELECT array_agg(recorded_at) FROM gone) AS old, (SELECT array_agg(recorded_at) FROM back) AS now`,
    );
    assert.equal(moved.rows[0]!.now.length, 4);
    await tx.query(`SELECT timeseries.refresh_location_tiles($1::timestamptz[])`, [[...moved.rows[0]!.old, ...moved.rows[0]!.now]]);
  });
  await assertCurrent(alice, 128);
  await removeFileRows(t.lake.db, alice, FILES.first, ['timeseries.location_points']);
  await assertCurrent(alice, 0);
  await assertCurrent(bob, 7);
});

test('an import touching more cells than are recounted one by one recounts all time at once', async () => {
  // 12,000 points on a grid 0.05° apart: a cell of their own at levels 14 to 20, over 50,000 changed cells in all.
  const records = points('2023-06-01T00:00:00Z', 12_000, 60_000).map((r, i) => ({ ...r, lat: 30 + Math.floor(i / 120) * 0.05, lon: -20 + (i % 120) * 0.05, key: [i, 'grid'] }));
  const target = { userId: bob, jobId: FILES.second, fileId: FILES.second };
  await loadBatch(t.lake.db, target, { records });
  await assertCurrent(bob, 12_007);
  await removeFileRows(t.lake.db, bob, FILES.second, ['timeseries.location_points']);
  await assertCurrent(bob, 7);
});

test('refresh_location_tiles without a user identity changes nothing', async () => {
  await t.lake.db.query(`SELECT timeseries.refresh_location_tiles(ARRAY[timestamptz '2024-01-31T21:00:00Z'])`);
  await assertCurrent(bob, 7);
});

test('a lake counted before migration 0026 gets its all-time rows from its years when migrated', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lake-test-'));
  const database = await createServerDatabase();
  const config = loadConfig({ LAKE_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}) });
  try {
    // The lake as the release with migrations up to 0025 left it: points counted per day, month and year.
    const old = await Lake.open(config, { migrate: false });
    let user: string;
    try {
      await installExtensions(old.db);
      await migrate(old.db, await old.db.detectProfile(), { through: 25 });
      user = (await createLakeUser(old.db, 'carol')).userId;
      await old.db.asUser(user, async (tx) => {
        await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [user, FILES.first]);
        await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'x.json')`, [user, FILES.first]);
      });
      const target = { userId: user, jobId: FILES.first, fileId: FILES.first };
      await loadBatch(old.db, target, { records: [...points('2023-12-31T20:00:00Z', 90, 300_000), ...points('2024-05-01T00:00:00Z', 40, 600_000, 48.1, 11.5)] });
      await old.db.asUser(user, (tx) => tx.query(`SELECT timeseries.refresh_stale_location_tiles()`));
      const periods = await old.db.asUser(user, (tx) => tx.query<{ period: string }>(`SELECT DISTINCT period FROM timeseries.location_tiles ORDER BY 1`));
      assert.deepEqual(periods.rows.map((r) => r.period), ['day', 'month', 'year']);
    } finally {
      await old.close();
    }
    const migrated = await Lake.open(config);
    try {
      const { stored, expected } = await compare(user, migrated.db);
      assert.ok(stored.some((row) => row.includes('|all|')));
      assert.deepEqual(stored, expected);
    } finally {
      await migrated.close();
    }
  } finally {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
