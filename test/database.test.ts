// The database interface both adapters implement: bulk loads inside transactions, atomicity,
// the capability profile, and one-line errors for a database that cannot be reached.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { bulkInsert, copyDirect } from '../src/db/bulk.js';
import { LakeError } from '../src/errors.js';
import { Lake } from '../src/lake.js';
import { BACKEND, createUser, openTestLake, SERVER_URL, type TestLake } from './support/lake.js';

let t: TestLake;
let user: string;
before(async () => {
  t = await openTestLake();
  user = await createUser(t.lake, 'loader');
});
after(() => t.dispose());

const COLUMNS = ['user_id', 'recorded_at', 'content_hash', 'lat', 'lon', 'source'];

function copyRows(count: number, offset = 0): string {
  let text = '';
  for (let i = offset; i < offset + count; i++) {
    const at = new Date(Date.UTC(2024, 2, 1) + i * 60_000).toISOString();
    text += `${user}\t${at}\t\\\\x${i.toString(16).padStart(8, '0')}\t${(i % 90) - 45}\t${(i % 360) - 180}\tcopy-test\n`;
  }
  return text;
}

async function countCopied(): Promise<number> {
  const r = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points WHERE source = 'copy-test'`),
  );
  return r.rows[0]!.n;
}

const load = (data: Parameters<typeof bulkInsert>[3], as = user) =>
  t.lake.db.asUser(as, (tx) => bulkInsert(tx, 'timeseries.location_points', COLUMNS, data));

test('bulkInsert loads COPY text, from a string or a stream of chunks, inside a user transaction', async () => {
  assert.deepEqual(await load(copyRows(1000)), { received: 1000, inserted: 1000, updated: 0, duplicates: 0 });
  async function* chunks() {
    const text = copyRows(500, 1000);
    for (let i = 0; i < text.length; i += 4096) yield Buffer.from(text.slice(i, i + 4096));
  }
  assert.deepEqual(await load(chunks()), { received: 500, inserted: 500, updated: 0, duplicates: 0 });
  assert.equal(await countCopied(), 1500);
});

test('loading the same rows again inserts nothing and counts them as duplicates', async () => {
  assert.deepEqual(await load(copyRows(300, 200)), { received: 300, inserted: 0, updated: 0, duplicates: 300 });
  assert.deepEqual(await load(copyRows(20, 1490)), { received: 20, inserted: 10, updated: 0, duplicates: 10 });
  assert.equal(await countCopied(), 1510);
});

test('copyFrom refuses to write anywhere but a temporary staging table', async () => {
  await assert.rejects(
    t.lake.db.asUser(user, (tx) => tx.copyFrom('timeseries.location_points', COLUMNS, copyRows(1))),
    /temporary staging tables only/,
  );
});

test('loadAsUser: only its direct part may COPY into a user table, and only where the user has no row in the batch\'s range', async () => {
  const range = (from: number, count: number) => ({
    userId: user, column: 'recorded_at', from: new Date(Date.UTC(2024, 2, 1) + from * 60_000), to: new Date(Date.UTC(2024, 2, 1) + (from + count - 1) * 60_000),
  });
  const before = await countCopied();
  const direct = (rows: string, r: ReturnType<typeof range>) =>
    t.lake.db.loadAsUser(user, (tx) => copyDirect(tx, 'timeseries.location_points', COLUMNS, rows, r), async (tx, result) => {
      // Once the transaction is the user's, the direct part is over.
      await assert.rejects(tx.copyFrom('timeseries.location_points', COLUMNS, copyRows(1, 900_000)), /temporary staging tables only/);
      return result;
    });
  // A range with no stored row: loaded straight.
  assert.deepEqual(await direct(copyRows(50, 800_000), range(800_000, 50)), { received: 50, inserted: 50, updated: 0, duplicates: 0 });
  assert.equal(await countCopied(), before + 50);
  // Stored rows in the range (an overlapping batch): left to bulkInsert, nothing written.
  assert.equal(await direct(copyRows(50, 800_040), range(800_040, 50)), null);
  // A row repeated inside a batch meets itself: rolled back to the savepoint, nothing written.
  assert.equal(await direct(copyRows(3, 810_000) + copyRows(1, 810_000), range(810_000, 3)), null);
  assert.equal(await countCopied(), before + 50);
});

test('a failing transaction leaves none of its COPY rows visible, and the connection works afterwards', async () => {
  const before = await countCopied();
  await assert.rejects(
    t.lake.db.asUser(user, async (tx) => {
      await bulkInsert(tx, 'timeseries.location_points', COLUMNS, copyRows(200, 5000));
      await tx.query('SELECT 1/0');
    }),
    /division by zero/,
  );
  assert.equal(await countCopied(), before);
});

test("a loaded row for another user is refused by row-level security, and the batch with it", async () => {
  const other = await createUser(t.lake, 'other');
  const before = await countCopied();
  const forged = copyRows(10, 9000) + copyRows(1, 9100).replace(user, other);
  await assert.rejects(load(forged), /row-level security/);
  assert.equal(await countCopied(), before);
});

test('with PostGIS the points\' geography is derived from lat/lon, in a view that keeps row-level security', async (ctx) => {
  if (!t.lake.profile.features.geo.enabled) return ctx.skip('no PostGIS on this backend');
  const r = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ meters: number }>(
      `SELECT round(ST_Distance(geog, ST_SetSRID(ST_MakePoint(lon, lat + 1), 4326)::geography))::int AS meters
         FROM timeseries.location_points_geography WHERE source = 'copy-test' LIMIT 1`,
    ),
  );
  assert.ok(Math.abs(r.rows[0]!.meters - 111_000) < 1_500, `one degree of latitude is about 111 km, got ${r.rows[0]!.meters}`);
  const stranger = await createUser(t.lake, 'geography-stranger');
  const seen = await t.lake.db.asUser(stranger, (tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points_geography WHERE source = 'copy-test'`));
  assert.equal(seen.rows[0]!.n, 0, 'another user sees none of the points through the view');
});

test('the profile reports the extensions this backend has', () => {
  const { extensions, features } = t.lake.profile;
  for (const name of ['postgis', 'vector', 'pg_trgm', 'hstore', 'fuzzystrmatch', 'pgcrypto', 'btree_gist', 'unaccent', 'uuid-ossp'] as const) {
    assert.equal(extensions[name].installed, true, name);
  }
  assert.equal(features.geo.enabled, true);
  assert.equal(features.vector_search.enabled, true);
  if (BACKEND === 'server') {
    for (const name of ['timescaledb', 'pg_partman', 'pg_stat_statements'] as const) assert.equal(extensions[name].installed, true, name);
    assert.equal(features.hypertables.enabled, true);
    assert.ok(t.lake.profile.serverVersionNum >= 170000);
  } else {
    assert.equal(extensions.timescaledb.installed, false);
    assert.equal(features.hypertables.enabled, false);
  }
});

test('vector similarity search runs on the embeddings table', async () => {
  const nearest = await t.lake.db.asUser(user, async (tx) => {
    for (const [key, v] of [['a', [1, 0, 0]], ['b', [0, 1, 0]], ['c', [0.9, 0.1, 0]]] as const) {
      await tx.query(
        `INSERT INTO vectors.embeddings (user_id, kind, model, model_version, dimensions, source_table, source_key, embedding)
         VALUES ($1, 'text', 'm', '1', 3, 'user_data.items', $2, $3)`,
        [user, key, JSON.stringify(v)],
      );
    }
    return tx.query<{ source_key: string }>(
      `SELECT source_key FROM vectors.embeddings ORDER BY embedding <=> '[1,0.05,0]' LIMIT 2`,
    );
  });
  assert.deepEqual(nearest.rows.map((r) => r.source_key), ['a', 'c']);
});

async function openFails(databaseUrl: string): Promise<LakeError> {
  const config = loadConfig({ LAKE_DATA_DIR: t.config.dataDir, DATABASE_URL: databaseUrl });
  try {
    const lake = await Lake.open(config);
    await lake.close();
  } catch (error) {
    assert.ok(error instanceof LakeError, String(error));
    return error;
  }
  assert.fail('opening should have failed');
}

test('an unreachable server is one clear error', async () => {
  const error = await openFails('postgres://lake:x@127.0.0.1:1/lake');
  assert.equal(error.code, 'DB_UNREACHABLE');
  assert.match(error.message, /cannot reach PostgreSQL at 127\.0\.0\.1:1/);
});

test('a wrong password and a missing database are each named', { skip: !SERVER_URL && 'needs a real server to refuse the login' }, async () => {
  const wrongPassword = new URL(SERVER_URL!);
  wrongPassword.password = 'not-the-password';
  const auth = await openFails(wrongPassword.toString());
  assert.equal(auth.code, 'DB_AUTH_FAILED');
  assert.match(auth.message, /authentication failed for user "lake"/);

  const missing = new URL(SERVER_URL!);
  missing.pathname = '/no_such_lake';
  const notFound = await openFails(missing.toString());
  assert.equal(notFound.code, 'DB_NOT_FOUND');
  assert.match(notFound.message, /database "no_such_lake" does not exist/);
});

test('a statement asked to be prepared is parsed once per connection and answers each call with its own parameters', async (ctx) => {
  if (t.lake.db.backend !== 'server') return ctx.skip('PGlite has no prepared statements of its own to reuse: it ignores the option');
  const sql = `SELECT $1::int * 2 AS doubled /* prepared-test */`;
  await t.lake.db.transaction(async (tx) => {
    const answers = [];
    for (const n of [1, 2, 3]) answers.push((await tx.query<{ doubled: number }>(sql, [n], { prepare: true })).rows[0]!.doubled);
    assert.deepEqual(answers, [2, 4, 6]);
    const prepared = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1`, [sql]);
    assert.equal(prepared.rows[0]!.n, 1);
  });
});

test('with LAKE_DB_PREPARED_STATEMENTS=off nothing is prepared (for poolers that cannot keep prepared statements)', async (ctx) => {
  if (t.lake.db.backend !== 'server') return ctx.skip('PGlite has no prepared statements of its own to reuse: it ignores the option');
  const unprepared = await openTestLake({ LAKE_DB_PREPARED_STATEMENTS: 'off' });
  try {
    const sql = `SELECT $1::int + 1 AS next /* unprepared-test */`;
    await unprepared.lake.db.transaction(async (tx) => {
      assert.equal((await tx.query<{ next: number }>(sql, [41], { prepare: true })).rows[0]!.next, 42);
      const prepared = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1`, [sql]);
      assert.equal(prepared.rows[0]!.n, 0);
    });
  } finally {
    await unprepared.dispose();
  }
});
