// Partitions (or TimescaleDB chunks) are made for the months a batch's rows fall in, never for the
// months between: two points decades apart posted by any API user make two partitions per table,
// not hundreds that slow every other user's queries. Their rows load and read back. Runs on
// PGlite (native partitions), or on the server (hypertables) with LAKE_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { monthsOfRows, prepareBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { allPages, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let server: TestServer;
let hypertables: boolean;
const users: Record<'mallory' | 'carol', { id: string; key: string }> = {} as never;

const TABLES = ['timeseries.location_points', 'timeseries.measurements'] as const;

before(async () => {
  t = await openTestLake();
  hypertables = t.lake.profile.features.hypertables.enabled;
  for (const name of ['mallory', 'carol'] as const) {
    const { userId } = await createUser(t.lake.db, name);
    users[name] = { id: userId, key: (await createApiKey(t.lake.db, name)).key };
  }
  server = await startTestServer(t.lake);
});
after(async () => {
  await server?.close();
  await t.dispose();
});

async function post(path: string, key: string, lines: object[]): Promise<{ status: number; body: { accepted: number; rejected_count: number } }> {
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    body: `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`,
  });
  return { status: response.status, body: await response.json() as never };
}

/** Every partition (tables only, not their indexes' partitions) and chunk in the database. */
async function allPartitions(): Promise<number> {
  const native = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relispartition AND relkind IN ('r', 'p')`);
  if (!hypertables) return native.rows[0]!.n;
  const chunks = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timescaledb_information.chunks`);
  return native.rows[0]!.n + chunks.rows[0]!.n;
}

/** The table's monthly partitions (YYYY_MM), or its chunks' start days (YYYY-MM-DD) on a hypertable. */
async function partitionsOf(table: string): Promise<string[]> {
  const [schema, name] = table.split('.');
  const rows = hypertables
    ? await t.lake.db.query<{ part: string }>(
      `SELECT to_char(range_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS part FROM timescaledb_information.chunks
        WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY 1`, [schema, name])
    : await t.lake.db.query<{ part: string }>(
      `SELECT substring(c.relname from '_p(\\d{4}_\\d{2})$') AS part FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = $1::regclass AND c.relname ~ '_p\\d{4}_\\d{2}$' ORDER BY 1`, [table]);
  return rows.rows.map((r) => r.part);
}

function added(before: string[], after: string[]): string[] {
  return after.filter((p) => !before.includes(p));
}

test('months with rows, never the span between: the months are read from the rows themselves', () => {
  const at = (iso: string, key: number): LakeRecord => ({ type: 'location_point', source: 'test', key: [key], recordedAt: new Date(iso), lat: 1, lon: 2 });
  const months = (...isos: string[]) => {
    const [table] = prepareBatch({ userId: '00000000-0000-4000-8000-000000000001', jobId: null, fileId: null }, { records: isos.map(at) }).tables;
    return monthsOfRows(table!);
  };
  assert.deepEqual(months('2024-05-01T00:00:00Z', '2024-05-31T23:59:59.999Z'), ['2024-05']);
  assert.deepEqual(months('2024-05-31T23:59:59.999Z', '2024-06-01T00:00:00Z'), ['2024-05', '2024-06']);
  assert.deepEqual(months('1970-01-02T00:00:00Z', '2026-12-07T00:00:00Z'), ['1970-01', '2026-12']);
  // Out of order, either side of PostgreSQL's epoch (2000-01-01: negative binary timestamps), a year's turn.
  assert.deepEqual(
    months('2026-12-07T00:00:00Z', '1999-12-31T23:59:59.999Z', '2000-01-01T00:00:00Z', '1970-01-02T00:00:00Z', '1999-12-01T00:00:00Z', '2011-02-28T12:00:00Z'),
    ['1970-01', '1999-12', '2000-01', '2011-02', '2026-12'],
  );
});

test('a POST with rows in two distant months makes at most those two months per table; the rows load and read back', async () => {
  const times = ['1970-01-02T00:00:00.000Z', '2025-06-15T12:00:00.000Z'];
  const totalBefore = await allPartitions();
  const before = await Promise.all(TABLES.map(partitionsOf));

  const points = await post('/v1/ingest/locations', users.mallory.key, times.map((recorded_at, i) => ({ recorded_at, lat: 10 + i, lon: 20 })));
  assert.equal(points.status, 200);
  assert.equal(points.body.accepted, 2);
  const values = await post('/v1/ingest/measurements', users.mallory.key, times.map((measured_at, i) => ({ measured_at, metric: 'steps', value: i + 1, unit: 'count' })));
  assert.equal(values.status, 200);
  assert.equal(values.body.accepted, 2);

  const after = await Promise.all(TABLES.map(partitionsOf));
  for (const [i, table] of TABLES.entries()) {
    const made = added(before[i]!, after[i]!);
    assert.ok(made.length <= 2, `${table}: ${made.length} partitions made (${made.slice(0, 5).join(', ')}...)`);
    if (!hypertables) assert.deepEqual(made, ['1970_01', '2025_06'], table);
  }
  const totalAfter = await allPartitions();
  assert.ok(totalAfter - totalBefore <= 4, `${totalAfter - totalBefore} partitions or chunks made in all`);

  const read = await t.lake.db.asUser(users.mallory.id, async (tx) => ({
    points: (await tx.query<{ at: Date; lat: number }>(`SELECT recorded_at AS at, lat FROM timeseries.location_points ORDER BY 1`)).rows,
    values: (await tx.query<{ at: Date; value: number }>(`SELECT measured_at AS at, value FROM timeseries.measurements ORDER BY 1`)).rows,
  }));
  assert.deepEqual(read.points.map((r) => [new Date(r.at).toISOString(), r.lat]), [[times[0], 10], [times[1], 11]]);
  assert.deepEqual(read.values.map((r) => [new Date(r.at).toISOString(), Number(r.value)]), [[times[0], 1], [times[1], 2]]);

  // Through the API too, and another user's reads see none of it.
  type Page = { features: { properties: { recorded_at: string } }[]; next_cursor: string | null };
  const listed = (await allPages<Page>(server, '/v1/locations?limit=10000&from=1970-01-01&to=2026-01-01', users.mallory.key)).flatMap((p) => p.features);
  assert.deepEqual(listed.map((f) => new Date(f.properties.recorded_at).toISOString()).sort(), times);
  const carol = await t.lake.db.asUser(users.carol.id, (tx) => tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points`));
  assert.equal(carol.rows[0]!.n, 0);
});

test('rows in adjacent and distant months: each month with rows gets its partition and its rows, the gap none', async () => {
  const times = ['1971-03-31T23:00:00.000Z', '1971-04-01T01:00:00.000Z', '1975-08-10T00:00:00.000Z'];
  const before = await partitionsOf('timeseries.location_points');
  const reply = await post('/v1/ingest/locations', users.carol.key, times.map((recorded_at) => ({ recorded_at, lat: 1, lon: 2 })));
  assert.equal(reply.body.accepted, 3);
  const made = added(before, await partitionsOf('timeseries.location_points'));
  assert.ok(made.length <= 3, made.join(', '));
  const read = await t.lake.db.asUser(users.carol.id, (tx) => tx.query<{ at: Date }>(`SELECT recorded_at AS at FROM timeseries.location_points ORDER BY 1`));
  assert.deepEqual(read.rows.map((r) => new Date(r.at).toISOString()), times);
  if (hypertables) return; // chunks are TimescaleDB's (30 days each, for the rows inserted): no default partition
  assert.deepEqual(made, ['1971_03', '1971_04', '1975_08']);
  // Every row in its month's partition, none parked in the default one.
  const parked = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points_default`);
  assert.equal(parked.rows[0]!.n, 0);
});
