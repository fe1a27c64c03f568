// Monthly time partitioning: partitions made ahead and on demand, rows never refused for their
// date, rows parked in the default partition moved when their month gets a partition, and a
// one-month query that reads one partition.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let user: string;
let hypertables: boolean;

before(async () => {
  t = await openTestLake();
  user = await createUser(t.lake, 'walker');
  hypertables = t.lake.profile.features.hypertables.enabled;
});
after(() => t.dispose());

async function insertPoints(times: string[]): Promise<void> {
  await t.lake.db.asUser(user, async (tx) => {
    for (const [i, at] of times.entries()) {
      await tx.query(
        `INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, source)
         VALUES ($1, $2, $3, 48.85, 2.35, 'test')`,
        [user, at, Buffer.from(`${at}-${i}`)],
      );
    }
  });
}

/** The leaf relations (partitions or chunks) a query's plan scans. */
async function scannedRelations(sql: string): Promise<string[]> {
  const plan = await t.lake.db.asUser(user, (tx) => tx.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${sql}`));
  const names = new Set<string>();
  const walk = (node: Record<string, unknown>): void => {
    if (typeof node['Relation Name'] === 'string') names.add(node['Relation Name']);
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  const root = plan.rows[0]!['QUERY PLAN'];
  walk((Array.isArray(root) ? root[0] : JSON.parse(String(root))[0]).Plan);
  return [...names].sort();
}

test('start-up makes partitions for this month and the months ahead', async (ctx) => {
  if (hypertables) return ctx.skip('TimescaleDB makes chunks on demand; nothing is made ahead');
  const months = t.config.partitionMonthsAhead + 1;
  const parts = await t.lake.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'timeseries.location_points'::regclass AND c.relname ~ '_p\\d{4}_\\d{2}$'`,
  );
  assert.equal(parts.rows[0]!.n, months);
});

test('a row of any date is accepted, and is moved out of the default partition when its month gets one', async (ctx) => {
  await insertPoints(['1999-12-31T23:59:59Z', '2031-06-15T00:00:00Z']);
  if (hypertables) {
    const n = await t.lake.db.asUser(user, (tx) => tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points`));
    assert.equal(n.rows[0]!.n, 2);
    return ctx.skip('hypertables have no default partition');
  }
  const inDefault = () =>
    t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points_default`).then((r) => r.rows[0]!.n);
  assert.equal(await inDefault(), 2);
  const created = await t.lake.db.query<{ n: number }>(
    `SELECT lake.ensure_month_partitions('timeseries.location_points', '1999-12-01', '2000-01-01') AS n`,
  );
  assert.equal(created.rows[0]!.n, 1);
  assert.equal(await inDefault(), 1);
  const moved = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points_p1999_12`);
  assert.equal(moved.rows[0]!.n, 1);
  // Calling it again makes nothing new.
  const again = await t.lake.db.query<{ n: number }>(
    `SELECT lake.ensure_month_partitions('timeseries.location_points', '1999-12-01', '2000-01-01') AS n`,
  );
  assert.equal(again.rows[0]!.n, 0);
});

test('a query over one month reads one partition', async () => {
  const times = ['2024-01-10', '2024-02-10', '2024-03-10', '2024-04-10', '2024-05-10', '2024-06-10'].map((d) => `${d}T12:00:00Z`);
  await t.lake.db.query(`SELECT lake.ensure_month_partitions('timeseries.location_points', '2024-01-01', '2024-07-01')`);
  await insertPoints(times);
  let from = '2024-03-01T00:00:00Z';
  let to = '2024-04-01T00:00:00Z';
  if (hypertables) {
    // The Apache build of TimescaleDB cuts fixed 30-day chunks, not calendar months: query the
    // 30-day chunk that holds March 10th.
    const chunk = await t.lake.db.query<{ range_start: Date; range_end: Date }>(
      `SELECT range_start, range_end FROM timescaledb_information.chunks
        WHERE hypertable_schema = 'timeseries' AND hypertable_name = 'location_points'
          AND range_start <= '2024-03-10T12:00:00Z' AND range_end > '2024-03-10T12:00:00Z'`,
    );
    from = chunk.rows[0]!.range_start.toISOString();
    to = chunk.rows[0]!.range_end.toISOString();
  }
  const scanned = await scannedRelations(
    `SELECT * FROM timeseries.location_points WHERE recorded_at >= '${from}' AND recorded_at < '${to}'`,
  );
  assert.equal(scanned.length, 1, `scanned ${scanned.join(', ')}`);
  if (!hypertables) assert.deepEqual(scanned, ['location_points_p2024_03']);
  const all = await scannedRelations(`SELECT * FROM timeseries.location_points`);
  assert.ok(all.length >= 6, `a query without a time range reads every partition (${all.length})`);
});
