// Per-user isolation inside the database, on every table that holds user data: user B reads,
// changes and deletes none of user A's rows; with no identity nothing is visible; the application
// role cannot be made to bypass row-level security.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APP_ROLE } from '../src/db/database.js';
import { assertAppRoleIsSafe } from '../src/db/schema.js';
import { LakeError } from '../src/errors.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

/** One representative row per user table; a table missing here fails the coverage test. */
const SAMPLE_ROWS: Record<string, { sql: string; params: (user: string, n: number) => unknown[] }> = {
  'user_data.users': { sql: '', params: () => [] }, // rows made by createUser
  'user_data.settings': { sql: `INSERT INTO user_data.settings (user_id, key, value) VALUES ($1, 'theme', '"dark"')`, params: (u) => [u] },
  'user_data.items': {
    sql: `INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source, title, lat, lon)
          VALUES ($1, '2024-03-10T12:00:00Z', $2, 'search', 'test', 'secret search', 52.5, 13.4)`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'user_data.messages': {
    sql: `INSERT INTO user_data.messages (user_id, sent_at, content_hash, message_id, subject, source)
          VALUES ($1, '2024-03-10T12:00:00Z', $2, 'm@example.org', 'secret mail', 'test')`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'user_data.blob_refs': {
    sql: `INSERT INTO user_data.blob_refs (user_id, sha256, size_bytes, mime_type, original_name, source)
          VALUES ($1, $2, 1024, 'application/pdf', 'secret.pdf', 'test')`,
    params: (u, n) => [u, Buffer.alloc(32, n)],
  },
  'user_data.api_keys': {
    sql: `INSERT INTO user_data.api_keys (user_id, prefix, secret_hash, name) VALUES ($1, $2, $3, 'secret key')`,
    params: (u, n) => [u, String(n).padStart(12, '0'), Buffer.alloc(32, n)],
  },
  'user_data.places': { sql: `INSERT INTO user_data.places (user_id, place_id, source, name) VALUES ($1, 'place-1', 'test', 'Home')`, params: (u) => [u] },
  'user_data.visits': {
    sql: `INSERT INTO user_data.visits (user_id, started_at, content_hash, ended_at, place_id, source)
          VALUES ($1, '2024-03-10T10:00:00Z', $2, '2024-03-10T11:00:00Z', 'place-1', 'test')`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'user_data.contacts': {
    sql: `INSERT INTO user_data.contacts (user_id, content_hash, full_name, emails, source) VALUES ($1, $2, 'Secret Friend', '{secret@example.org}', 'test')`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'user_data.calendar_events': {
    sql: `INSERT INTO user_data.calendar_events (user_id, starts_at, content_hash, uid, summary, source)
          VALUES ($1, '2024-03-10T12:00:00Z', $2, 'e1@google.com', 'secret meeting', 'test')`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'user_data.documents': {
    sql: `INSERT INTO user_data.documents (user_id, content_hash, sha256, path, kind, size_bytes, title, body, extraction, source)
          VALUES ($1, $2, $3, 'Takeout/Drive/secret.pdf', 'pdf', 10, 'secret document', 'secret text', 'text', 'test')`,
    params: (u, n) => [u, Buffer.from([n]), Buffer.alloc(32, n)],
  },
  'user_data.media': {
    sql: `INSERT INTO user_data.media (user_id, sha256, mime_type, size_bytes, description, source) VALUES ($1, $2, 'image/jpeg', 10, 'secret photo', 'test')`,
    params: (u, n) => [u, Buffer.alloc(32, n)],
  },
  'user_data.media_files': {
    sql: `INSERT INTO user_data.media_files (user_id, folder, file_name, sha256, pair_name, folder_kind, source)
          VALUES ($1, 'Takeout/Google Photos/Secret', 'IMG_1.jpg', $2, 'IMG_1.jpg', 'album', 'test')`,
    params: (u, n) => [u, Buffer.alloc(32, n)],
  },
  'user_data.media_sidecars': {
    sql: `INSERT INTO user_data.media_sidecars (user_id, folder, sidecar_name, pair_name, description, source)
          VALUES ($1, 'Takeout/Google Photos/Secret', 'IMG_1.jpg.json', 'IMG_1.jpg', 'secret caption', 'test')`,
    params: (u) => [u],
  },
  'user_data.media_albums': {
    sql: `INSERT INTO user_data.media_albums (user_id, folder, title, source) VALUES ($1, 'Takeout/Google Photos/Secret', 'Secret album', 'test')`,
    params: (u) => [u],
  },
  'timeseries.location_points': {
    sql: `INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, source)
          VALUES ($1, '2024-03-10T12:00:00Z', $2, 52.5, 13.4, 'test')`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'timeseries.location_hours': {
    sql: `INSERT INTO timeseries.location_hours (user_id, hour, recorded_at, content_hash, lat, lon, source)
          VALUES ($1, '2024-03-10T12:00:00Z', '2024-03-10T12:00:00Z', $2, 52.5, 13.4, 'test')`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'timeseries.location_tiles': {
    sql: `INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
          VALUES ($1, 20, 'day', $2, '2024-03-10T00:00:00Z', 1, '2024-03-10T12:00:00Z', '2024-03-10T12:00:00Z')`,
    params: (u, n) => [u, n],
  },
  'timeseries.location_tiles_stale': {
    sql: `INSERT INTO timeseries.location_tiles_stale (user_id, day) VALUES ($1, date_trunc('day', timestamptz '2024-03-10T00:00:00Z' + make_interval(days => $2::int), 'UTC'))`,
    params: (u, n) => [u, n],
  },
  'timeseries.measurements': {
    sql: `INSERT INTO timeseries.measurements (user_id, measured_at, content_hash, metric, value, unit, source)
          VALUES ($1, '2024-03-10T12:00:00Z', $2, 'steps', 100, 'count', 'test')`,
    params: (u, n) => [u, Buffer.from([n])],
  },
  'imports.jobs': { sql: `INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, params: (u, n) => [u, uuid(n, 1)] },
  'imports.files': {
    sql: `INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $3, 'Takeout/x.json')`,
    params: (u, n) => [u, uuid(n, 2), uuid(n, 1)],
  },
  'imports.checkpoints': { sql: `INSERT INTO imports.checkpoints (user_id, file_id, records_done) VALUES ($1, $2, 1)`, params: (u, n) => [u, uuid(n, 2)] },
  'imports.errors': {
    sql: `INSERT INTO imports.errors (user_id, job_id, category, code, message) VALUES ($1, $2, 'parse', 'PARSE_ERROR', 'x')`,
    params: (u, n) => [u, uuid(n, 1)],
  },
  'imports.quarantine': {
    sql: `INSERT INTO imports.quarantine (user_id, job_id, entry, category, reason, dedup_key) VALUES ($1, $2, 'x.json', 'malformed', 'bad', '\\x01')`,
    params: (u, n) => [u, uuid(n, 1)],
  },
  'imports.uploads': {
    sql: `INSERT INTO imports.uploads (user_id, upload_id, filename, size_bytes, sha256_declared, expires_at) VALUES ($1, $2, 'secret.zip', 10, $3, now())`,
    params: (u, n) => [u, uuid(n, 12), Buffer.alloc(32, n)],
  },
  'vectors.embeddings': {
    sql: `INSERT INTO vectors.embeddings (user_id, kind, model, model_version, dimensions, source_table, source_key, embedding)
          VALUES ($1, 'text', 'test-model', '1', 3, 'user_data.items', '1', '[1,2,3]')`,
    params: (u) => [u],
  },
  'analytics.daily_activity': {
    sql: `INSERT INTO analytics.daily_activity (user_id, day, source, kind, items) VALUES ($1, '2024-03-10', 'test', 'search', 1)`,
    params: (u) => [u],
  },
  'archive.archived_rows': {
    sql: `INSERT INTO archive.archived_rows (user_id, source_table, original_key, row_data, reason) VALUES ($1, 'user_data.items', '{}', '{}', 'test')`,
    params: (u) => [u],
  },
  'archive.archive_log': {
    sql: `INSERT INTO archive.archive_log (user_id, source_table, rows_archived, reason) VALUES ($1, 'user_data.items', 1, 'test')`,
    params: (u) => [u],
  },
  'audit.events': { sql: `INSERT INTO audit.events (user_id, actor, action) VALUES ($1, 'test', 'create')`, params: (u) => [u] },
  'lake.console_links': {
    sql: `INSERT INTO lake.console_links (user_id, token_hash, expires_at) VALUES ($1, $2, now() + interval '10 minutes')`,
    params: (u, n) => [u, Buffer.alloc(32, n)],
  },
};

function uuid(n: number, kind: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(6, '0')}${String(kind).padStart(6, '0')}`;
}

const LAKE_SCHEMAS = ['lake', 'imports', 'user_data', 'timeseries', 'vectors', 'analytics', 'archive', 'audit'];

let t: TestLake;
let alice: string;
let bob: string;
let userTables: string[];

before(async () => {
  t = await openTestLake();
  alice = await createUser(t.lake, 'alice');
  bob = await createUser(t.lake, 'bob');
  const tables = await t.lake.db.query<{ name: string }>(
    `SELECT format('%s.%s', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
      ORDER BY 1`,
    [LAKE_SCHEMAS],
  );
  userTables = tables.rows.map((r) => r.name);
  for (const [n, user] of [alice, bob].entries()) {
    // In SAMPLE_ROWS order, which respects foreign keys (jobs before files before checkpoints).
    for (const [table, sample] of Object.entries(SAMPLE_ROWS)) {
      if (sample.sql && userTables.includes(table)) await t.lake.db.query(sample.sql, sample.params(user, n + 1));
    }
  }
});

after(() => t.dispose());

test('every table with user data has a sample row here, so none escapes the checks below', () => {
  assert.ok(userTables.length >= 15, `found only ${userTables.length} user tables`);
  const missing = userTables.filter((table) => !(table in SAMPLE_ROWS));
  assert.deepEqual(missing, []);
});

test('every user table has row-level security enabled, forced, and a policy; its primary key leads with user_id', async () => {
  const rows = await t.lake.db.query<{ name: string; enabled: boolean; forced: boolean; policies: number; pk_first: string | null }>(
    `SELECT format('%s.%s', n.nspname, c.relname) AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
            (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)::int AS policies,
            (SELECT a.attname FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
              WHERE k.conrelid = c.oid AND k.contype = 'p') AS pk_first
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE format('%s.%s', n.nspname, c.relname) = ANY($1)`,
    [userTables],
  );
  for (const row of rows.rows) {
    assert.deepEqual(
      { name: row.name, enabled: row.enabled, forced: row.forced, hasPolicy: row.policies > 0, pkFirst: row.pk_first },
      { name: row.name, enabled: true, forced: true, hasPolicy: true, pkFirst: 'user_id' },
    );
  }
});

describe('user B against user A, table by table', () => {
  test('each user sees exactly their own row', async () => {
    for (const table of userTables) {
      for (const user of [alice, bob]) {
        const seen = await t.lake.db.asUser(user, (tx) =>
          tx.query<{ mine: number; others: number }>(
            `SELECT count(*) FILTER (WHERE user_id = $1)::int AS mine, count(*) FILTER (WHERE user_id <> $1)::int AS others FROM ${table}`,
            [user],
          ),
        );
        assert.deepEqual(seen.rows[0], { mine: 1, others: 0 }, `${table} as ${user === alice ? 'alice' : 'bob'}`);
      }
    }
  });

  test('with no identity set, no table shows any row', async () => {
    for (const table of userTables) {
      const seen = await t.lake.db.asUser(null, (tx) => tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`));
      assert.equal(seen.rows[0]!.n, 0, table);
    }
  });

  test("B's updates and deletes of A's rows touch nothing", async () => {
    for (const table of userTables) {
      const changed = await t.lake.db.asUser(bob, async (tx) => {
        const can = await tx.query<{ update: boolean; delete: boolean }>(
          `SELECT has_table_privilege($1, 'UPDATE') AS update, has_table_privilege($1, 'DELETE') AS delete`,
          [table],
        );
        let n = 0;
        if (can.rows[0]!.update) {
          const column = table === 'user_data.users' ? 'display_name' : 'user_id';
          n += (await tx.query(`UPDATE ${table} SET ${column} = ${column} WHERE user_id = $1`, [alice])).rowCount;
        }
        if (can.rows[0]!.delete) n += (await tx.query(`DELETE FROM ${table} WHERE user_id = $1`, [alice])).rowCount;
        return n;
      });
      assert.equal(changed, 0, table);
      const still = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1`, [alice]);
      assert.equal(still.rows[0]!.n, 1, `${table}: alice's row must survive`);
    }
  });

  test('B cannot write a row that claims to be A', async () => {
    for (const table of userTables) {
      const sample = SAMPLE_ROWS[table]!;
      if (!sample.sql) continue;
      const canInsert = await t.lake.db.asUser(bob, (tx) =>
        tx.query<{ ok: boolean }>(`SELECT has_table_privilege($1, 'INSERT') AS ok`, [table]),
      );
      if (!canInsert.rows[0]!.ok) continue;
      await assert.rejects(
        t.lake.db.asUser(bob, (tx) => tx.query(sample.sql, sample.params(alice, 9))),
        /row-level security/,
        table,
      );
    }
  });

  test('partitions and chunks cannot be read around the policies', async () => {
    const parts = await t.lake.db.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND (c.relispartition OR n.nspname = 'lake_chunks')`,
    );
    assert.ok(parts.rows.length > 0, 'the time tables have partitions or chunks');
    for (const { name } of parts.rows) {
      const readable = await t.lake.db.asUser(bob, async (tx) => {
        const r = await tx.query<{ ok: boolean }>(
          `SELECT has_schema_privilege(split_part($1, '.', 1), 'USAGE') AND has_table_privilege($1, 'SELECT') AS ok`,
          [name],
        );
        return r.rows[0]!.ok;
      });
      assert.equal(readable, false, `${name} is readable by ${APP_ROLE}`);
    }
  });
});

describe('the application role', () => {
  test('owns nothing, is no superuser and cannot bypass row-level security', async () => {
    await assertAppRoleIsSafe(t.lake.db);
    const role = await t.lake.db.query<{ rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean }>(
      `SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1`,
      [APP_ROLE],
    );
    assert.deepEqual(role.rows[0], { rolsuper: false, rolbypassrls: false, rolcanlogin: false });
  });

  test('the start-up check refuses a role that owns a table', async () => {
    await t.lake.db.query(`CREATE TABLE lake.owned_by_app (x int)`);
    await t.lake.db.query(`ALTER TABLE lake.owned_by_app OWNER TO ${APP_ROLE}`);
    try {
      await assert.rejects(assertAppRoleIsSafe(t.lake.db), (e: unknown) => e instanceof LakeError && e.code === 'DB_UNSAFE_ROLE');
    } finally {
      await t.lake.db.query(`DROP TABLE lake.owned_by_app`);
    }
  });

  test('the identity does not outlive its transaction', async () => {
    await t.lake.db.asUser(alice, (tx) => tx.query('SELECT 1'));
    const after = await t.lake.db.asUser(null, (tx) =>
      tx.query<{ id: string | null; role: string }>(`SELECT lake.current_user_id() AS id, current_user AS role`),
    );
    assert.deepEqual(after.rows[0], { id: null, role: APP_ROLE });
    const outside = await t.lake.db.query<{ setting: string | null; role: string }>(
      `SELECT nullif(current_setting('lake.user_id', true), '') AS setting, current_user AS role`,
    );
    assert.equal(outside.rows[0]!.setting, null);
    assert.notEqual(outside.rows[0]!.role, APP_ROLE);
  });
});
