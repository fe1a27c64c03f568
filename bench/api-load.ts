// Concurrent load on the read API (issue 5): 1,000,000 location points (and 200,000 timeline
// items) of one user over one year, a real server on loopback, and a load generator in a separate
// process (bench/support/api-load-client.ts, autocannon) asking random windows, per scenario:
//   timeline-day     /v1/timeline, a random one-day window, 100 items a page
//   geojson-day      /v1/locations, a random one-day window (about 2,700 points, one page)
//   geojson-year-simplified   /v1/locations, a one-year window starting on a random day of the
//                    first week, simplify=3600 (one point an hour: about 8,700 features, one page)
//   geojson-year-raw /v1/locations, the same window without simplification: its first page of
//                    10,000 features (for reference; the whole year would be 100 pages)
// Prints requests per second, latency p50/p95/p99, errors and the server's peak RSS (this process
// holds the server and, embedded, the PGlite database) per scenario.
//
//   node --import tsx bench/api-load.ts [--backend embedded|server] [--points 1000000] [--items 200000]
//        [--seconds 15] [--connections 8] [--only geojson-day,...] [--reuse]
//
// Set-up, not measured: the rows are made by INSERT ... SELECT FROM generate_series on the
// maintenance connection (the loader's per-record path would take minutes and is measured by
// bench/import.ts), in 100,000-row statements, then the hourly summary and ANALYZE. The track is a deterministic walk
// around Berlin, a point every ~31.5 s; items are searches and page visits every ~158 s. With
// --backend server it uses LAKE_TEST_DATABASE_URL (or `scripts/postgres-server.sh url`) and a
// fresh database, dropped afterwards; embedded, a fresh data directory under the system temp dir.
// --reuse keeps them instead (database lake_bench_api, directory lake-bench-api in the temp dir)
// and loads nothing when they already hold the data: for repeated runs.
// The rate limit is off for the run (LAKE_API_RATE_LIMIT=0): it measures the API, not the limiter.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { buildServer } from '../src/api/server.js';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'embedded' },
    points: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '200000' },
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '8' },
    only: { type: 'string' },
    reuse: { type: 'boolean', default: false },
  },
});
const here = path.dirname(new URL(import.meta.url).pathname);
const POINTS = Number(args.points);
const ITEMS = Number(args.items);
const START = Date.parse('2024-01-01T00:00:00Z');
const YEAR_MS = 366 * 86_400_000;
const DAY_MS = 86_400_000;
const CHUNK = 100_000;

// --- the database -------------------------------------------------------------------------------
const reuse = args.reuse!;
const dataDir = reuse ? path.join(os.tmpdir(), 'lake-bench-api') : await mkdtemp(path.join(os.tmpdir(), 'lake-bench-api-'));
let databaseUrl: string | undefined;
let dropDatabase = async () => {};
if (args.backend === 'server') {
  const base = process.env.LAKE_TEST_DATABASE_URL || execFileSync('bash', [path.join(here, '../scripts/postgres-server.sh'), 'url']).toString().trim();
  const name = reuse ? 'lake_bench_api' : `lake_bench_api_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const exists = (await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])).rowCount! > 0;
  if (!exists) await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  if (!reuse) dropDatabase = async () => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
} else if (args.backend !== 'embedded') {
  console.error(`--backend must be embedded or server, got ${args.backend}`);
  process.exit(2);
}

const config = loadConfig({ LAKE_DATA_DIR: dataDir, LAKE_API_RATE_LIMIT: '0', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
const lake = await Lake.open(config);
try {
  const existing = await lake.db.query<{ user_id: string }>(`SELECT user_id FROM user_data.users WHERE name = 'bench'`);
  const loaded = existing.rows.length > 0;
  const userId = loaded ? existing.rows[0]!.user_id : (await createUser(lake.db, 'bench')).userId;
  const { key } = await createApiKey(lake.db, 'bench');
  if (loaded) {
    const n = await lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points WHERE user_id = $1`, [userId]);
    console.error(`${lake.db.backend}: reusing ${n.rows[0]!.n} points (--reuse)`);
  } else {
  console.error(`${lake.db.backend}: loading ${POINTS} points and ${ITEMS} items...`);
  const setup = performance.now();
  await lake.db.transaction((tx) => tx.query(`SELECT lake.ensure_month_partitions('timeseries.location_points', $1, $2)`, [new Date(START), new Date(START + YEAR_MS)]));
  await lake.db.transaction((tx) => tx.query(`SELECT lake.ensure_month_partitions('user_data.items', $1, $2)`, [new Date(START), new Date(START + YEAR_MS)]));
  const pointStep = YEAR_MS / 1000 / POINTS;
  for (let from = 0; from < POINTS; from += CHUNK) {
    // A walk: slow drift plus daily loops of a few kilometres.
    await lake.db.query(
      `INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, accuracy_m, source)
       SELECT $1, timestamptz 'epoch' + ($2::float8 + i * $3::float8) * interval '1 second',
              sha256(int8send(i)), 52.52 + 0.05 * sin(i / 2743.0 * 2 * pi()) + 0.1 * sin(i / 90000.0),
              13.405 + 0.08 * cos(i / 2743.0 * 2 * pi()) + 0.1 * cos(i / 70000.0), 5 + i % 20, 'bench.synthetic'
         FROM generate_series($4::bigint, $5::bigint) i`,
      [userId, START / 1000, pointStep, from, Math.min(from + CHUNK, POINTS) - 1],
    );
  }
  const itemStep = YEAR_MS / 1000 / Math.max(ITEMS, 1);
  for (let from = 0; from < ITEMS; from += CHUNK) {
    await lake.db.query(
      `INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source, title, url)
       SELECT $1, timestamptz 'epoch' + ($2::float8 + i * $3::float8) * interval '1 second', sha256(int8send(i)),
              CASE WHEN i % 3 = 0 THEN 'search' ELSE 'page_visit' END, 'bench.synthetic',
              'synthetic item ' || i || ' about ' || (ARRAY['rivers','maps','coffee','trains','music'])[1 + i % 5], 'https://example.org/' || i
         FROM generate_series($4::bigint, $5::bigint) i`,
      [userId, START / 1000, itemStep, from, Math.min(from + CHUNK, ITEMS) - 1],
    );
  }
  // The hourly summary the loader keeps (migration 0014), made here in one statement like the
  // migration's backfill, since these rows bypass the loader.
  await lake.db.asUser(userId, (tx) =>
    tx.query(`SELECT timeseries.refresh_location_hours(ARRAY(
                SELECT generate_series(timestamptz 'epoch' + $1::float8 * interval '1 second', timestamptz 'epoch' + $2::float8 * interval '1 second', interval '1 hour')))`,
      [START / 1000, (START + YEAR_MS) / 1000]),
  );
  await lake.db.query('ANALYZE');
  console.error(`loaded in ${((performance.now() - setup) / 1000).toFixed(1)} s`);
  }

  // --- the server and the scenarios ---------------------------------------------------------------
  const app = await buildServer(lake, { logLevel: false });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const days = Array.from({ length: 360 }, (_, d) => new Date(START + d * DAY_MS).toISOString().slice(0, 10));
  const nextDay = (day: string) => new Date(Date.parse(day) + DAY_MS).toISOString().slice(0, 10);
  const yearFrom = days.slice(0, 7);
  const scenarios: Record<string, string[]> = {
    'timeline-day': days.map((d) => `/v1/timeline?from=${d}&to=${nextDay(d)}&limit=100`),
    'geojson-day': days.map((d) => `/v1/locations?from=${d}&to=${nextDay(d)}&limit=10000`),
    'geojson-year-simplified': yearFrom.map((d) => `/v1/locations?from=${d}&to=${new Date(Date.parse(d) + 365 * DAY_MS).toISOString().slice(0, 10)}&simplify=3600&limit=10000`),
    'geojson-year-raw': yearFrom.map((d) => `/v1/locations?from=${d}&to=${new Date(Date.parse(d) + 365 * DAY_MS).toISOString().slice(0, 10)}&limit=10000`),
  };
  const only = args.only?.split(',');
  const results: Record<string, unknown>[] = [];
  for (const [name, paths] of Object.entries(scenarios)) {
    if (only && !only.includes(name)) continue;
    // One request first: it must answer 200 with content, or the figures mean nothing.
    const probe = await fetch(url + paths[0], { headers: { authorization: `Bearer ${key}` } });
    const probeBody = await probe.text();
    if (probe.status !== 200) throw new Error(`${name}: ${probe.status} ${probeBody.slice(0, 300)}`);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const cpuBefore = process.cpuUsage();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'support/api-load-client.ts'), JSON.stringify({ url, key, connections: Number(args.connections), seconds: Number(args.seconds), paths })],
      { maxBuffer: 1 << 20 },
    );
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpuBefore);
    const figures = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const row = {
      scenario: name,
      'req/s': Math.round(figures.rps * 10) / 10,
      'p50 ms': figures.p50,
      'p95 ms': figures.p95,
      'p99 ms': figures.p99,
      'max ms': figures.max,
      requests: figures.requests,
      errors: figures.errors + figures.non2xx + figures.timeouts,
      'KB/response': Math.round(probeBody.length / 1024),
      'server CPU s': Math.round((cpu.user + cpu.system) / 1e4) / 100,
      'server peak RSS MB': Math.round(peakRss / 1048576),
    };
    results.push(row);
    console.error(JSON.stringify(row));
  }
  await app.close();
  console.log(`backend ${lake.db.backend}, ${POINTS} points, ${ITEMS} items, ${args.connections} connections, ${args.seconds} s per scenario, ${os.cpus().length} CPUs (shared)`);
  console.table(results);
} finally {
  await lake.close();
  await dropDatabase();
  if (!reuse) await rm(dataDir, { recursive: true, force: true });
}
