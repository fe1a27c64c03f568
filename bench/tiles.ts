// Map tiles under load (issue 17): GET /v1/tiles/{z}/{x}/{y}.mvt on N location points of one user
// over two years, a real server on loopback, and the load generator of bench/api-load.ts in a
// separate process (bench/support/api-load-client.ts, autocannon) asking tiles along the track,
// one zoom band after the other:
//   z0-4     the whole world to a country: cells from the coarse levels of location_tiles
//   z5-8     a region
//   z9-12    a city: cells from levels 14 to 18
//   z13-15   a district: the finest cells (levels 18 and 20, about 25 m in Berlin)
//   z16-18   street zoom: points, found by the 0.01° grid cells of the points' index
// A third of each band's requests carry a time range of whole days (from, to: dates), the rest
// none. Prints per band requests per second, latency p50/p95/p99 and max, errors, the mean tile
// size, and the peak RSS of this process (the API server; embedded, the PGlite database too).
//
//   node --import tsx bench/tiles.ts [--backend embedded|server|both] [--points 10000000]
//        [--seconds 15] [--connections 8] [--only z0-4,...] [--reuse]
//
// Set-up, not measured: the points are made by INSERT ... SELECT FROM generate_series on the
// maintenance connection in 100,000-row statements (the loader's path is measured by
// bench/import.ts), then location_tiles in one pass as migrations 0024 and 0026 back-fill it,
// then VACUUM and ANALYZE; the load time of each is printed.
// The track: a walk around Berlin with daily loops of a few kilometres and a slow drift, plus a
// two-day trip to Paris every four months. With --backend server it uses LAKE_TEST_DATABASE_URL (or
// `scripts/postgres-server.sh url`) and a fresh database, dropped afterwards; embedded, a fresh
// data directory under the system temp dir. --reuse keeps them (database lake_bench_tiles,
// directory lake-bench-tiles in the temp dir) and loads nothing when they already hold the data.
// The rate limit is off for the run (LAKE_API_RATE_LIMIT=0).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { buildServer } from '../src/api/server.js';
import { loadConfig } from '../src/config/config.js';
import { worldPosition } from '../src/geo/mvt.js';
import { Lake } from '../src/lake.js';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { makeRandom } from './support/random.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'embedded' },
    points: { type: 'string', default: '10000000' },
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '8' },
    only: { type: 'string' },
    reuse: { type: 'boolean', default: false },
  },
});
const here = path.dirname(new URL(import.meta.url).pathname);
const POINTS = Number(args.points);
const START = Date.parse('2023-01-01T00:00:00Z');
const SPAN_MS = 730 * 86_400_000;
const DAY_MS = 86_400_000;
const CHUNK = 100_000;
const BANDS: Record<string, readonly number[]> = { 'z0-4': [0, 1, 2, 3, 4], 'z5-8': [5, 6, 7, 8], 'z9-12': [9, 10, 11, 12], 'z13-15': [13, 14, 15], 'z16-18': [16, 17, 18] };

/** Point i of the track (the SQL of the load, in JavaScript): [lat, lon]. */
function trackAt(i: number): [number, number] {
  if (Math.floor(i / (POINTS / 12)) % 2 === 1 && i % Math.floor(POINTS / 12) < POINTS / 365) return [48.8566 + 0.02 * Math.sin(i / 500), 2.3522 + 0.03 * Math.cos(i / 500)];
  return [52.52 + 0.05 * Math.sin((i / 2743) * 2 * Math.PI) + 0.1 * Math.sin(i / 90000), 13.405 + 0.08 * Math.cos((i / 2743) * 2 * Math.PI) + 0.1 * Math.cos(i / 70000)];
}

// The same track in SQL: a stretch of each twelfth (every other one) is in Paris.
const TRACK_SQL = (n: string) => `CASE WHEN (floor(${n} / ($6::float8 / 12))::bigint % 2 = 1) AND (${n} % floor($6::float8 / 12)::bigint < $6::float8 / 365)
  THEN ARRAY[48.8566 + 0.02 * sin(${n} / 500.0), 2.3522 + 0.03 * cos(${n} / 500.0)]
  ELSE ARRAY[52.52 + 0.05 * sin(${n} / 2743.0 * 2 * pi()) + 0.1 * sin(${n} / 90000.0), 13.405 + 0.08 * cos(${n} / 2743.0 * 2 * pi()) + 0.1 * cos(${n} / 70000.0)] END`;

async function serverDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.LAKE_TEST_DATABASE_URL || execFileSync('bash', [path.join(here, '../scripts/postgres-server.sh'), 'url']).toString().trim();
  const name = args.reuse ? 'lake_bench_tiles' : `lake_bench_tiles_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const exists = (await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])).rowCount! > 0;
  if (!exists) await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const drop = async () => {
    if (args.reuse) return;
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
  return { url: url.toString(), drop };
}

async function load(lake: Lake, userId: string): Promise<void> {
  console.error(`${lake.db.backend}: loading ${POINTS} points...`);
  let began = performance.now();
  await lake.db.transaction((tx) => tx.query(`SELECT lake.ensure_month_partitions('timeseries.location_points', $1, $2)`, [new Date(START), new Date(START + SPAN_MS)]));
  const step = SPAN_MS / 1000 / POINTS;
  for (let from = 0; from < POINTS; from += CHUNK) {
    await lake.db.query(
      `INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, accuracy_m, source)
       SELECT $1, timestamptz 'epoch' + ($2::float8 + i * $3::float8) * interval '1 second', sha256(int8send(i)), ll[1], ll[2], 5 + i % 20, 'bench.synthetic'
         FROM (SELECT i, ${TRACK_SQL('i')} AS ll FROM generate_series($4::bigint, $5::bigint) i) AS track`,
      [userId, START / 1000, step, from, Math.min(from + CHUNK, POINTS) - 1, POINTS],
    );
  }
  console.error(`points loaded in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  began = performance.now();
  // location_tiles in one pass, as migration 0024 fills it for points already stored (the loader
  // keeps it batch by batch, and refresh_location_tiles day by day, both measured by the tests'
  // paths and bench/import.ts rather than here).
  await lake.db.query(
    `INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
     SELECT b.user_id, l.level, p.period, timeseries.tile_morton(b.x, b.y) >> (2 * (20 - l.level)), date_trunc(p.period, b.start, 'UTC'),
            sum(b.points), min(b.first_at), max(b.last_at)
       FROM (SELECT user_id, timeseries.tile_x(lon) AS x, timeseries.tile_y(lat) AS y, date_trunc('day', recorded_at, 'UTC') AS start,
                    count(*)::integer AS points, min(recorded_at) AS first_at, max(recorded_at) AS last_at
               FROM timeseries.location_points WHERE user_id = $1 GROUP BY 1, 2, 3, 4) b
      CROSS JOIN (VALUES (8), (10), (12), (14), (16), (18), (20)) l (level)
      CROSS JOIN (VALUES ('day'), ('month'), ('year')) p (period)
      GROUP BY 1, 2, 3, 4, 5`,
    [userId],
  );
  await lake.db.query(
    `INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
     SELECT user_id, level, 'all', cell, '-infinity', sum(points), min(first_at), max(last_at)
       FROM timeseries.location_tiles WHERE user_id = $1 AND period = 'year' GROUP BY user_id, level, cell`,
    [userId],
  );
  const rows = await lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_tiles`);
  console.error(`location_tiles: ${rows.rows[0]!.n} rows, made in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  began = performance.now();
  await lake.db.asUser(userId, (tx) =>
    tx.query(`SELECT timeseries.refresh_location_hours(ARRAY(SELECT generate_series($1::timestamptz, $2::timestamptz, interval '1 hour')))`, [new Date(START), new Date(START + SPAN_MS)]),
  );
  // As autovacuum leaves a loaded table on a server (the visibility map lets tiles read the counts
  // from the index alone); PGlite has no autovacuum, VACUUM here stands for a later one.
  await lake.db.query('VACUUM (ANALYZE) timeseries.location_tiles');
  await lake.db.query('ANALYZE');
  console.error(`location_hours, VACUUM and ANALYZE in ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

/** The tiles of each band along the track: for each zoom, the tiles of points spread over it, some with a range of whole days. */
function bandPaths(): Record<string, string[]> {
  const random = makeRandom(7);
  const paths: Record<string, string[]> = {};
  for (const [band, zooms] of Object.entries(BANDS)) {
    const list: string[] = [];
    for (const z of zooms) {
      const seen = new Set<string>();
      for (let k = 0; k < 400; k++) {
        const i = Math.floor(random() * POINTS);
        const [lat, lon] = trackAt(i);
        const [wx, wy] = worldPosition(lat, lon, z);
        const tile = `${z}/${Math.floor(wx)}/${Math.floor(wy)}`;
        if (seen.has(tile) && z > 4) continue;
        seen.add(tile);
        let query = '';
        if (k % 3 === 0) {
          const from = START + Math.floor(random() * 700) * DAY_MS;
          const to = from + (1 + Math.floor(random() * 60)) * DAY_MS;
          query = `?from=${new Date(from).toISOString().slice(0, 10)}&to=${new Date(to).toISOString().slice(0, 10)}`;
        }
        list.push(`/v1/tiles/${tile}.mvt${query}`);
      }
    }
    paths[band] = list;
  }
  return paths;
}

async function run(backend: 'embedded' | 'server'): Promise<Record<string, unknown>[]> {
  const dataDir = args.reuse ? path.join(os.tmpdir(), `lake-bench-tiles-${backend}`) : await mkdtemp(path.join(os.tmpdir(), 'lake-bench-tiles-'));
  const database = backend === 'server' ? await serverDatabase() : null;
  const config = loadConfig({ LAKE_DATA_DIR: dataDir, LAKE_API_RATE_LIMIT: '0', ...(database ? { DATABASE_URL: database.url } : {}) });
  const lake = await Lake.open(config);
  const results: Record<string, unknown>[] = [];
  try {
    const existing = await lake.db.query<{ user_id: string }>(`SELECT user_id FROM user_data.users WHERE name = 'bench'`);
    const userId = existing.rows[0]?.user_id ?? (await createUser(lake.db, 'bench')).userId;
    const { key } = await createApiKey(lake.db, 'bench');
    if (existing.rows.length === 0) await load(lake, userId);
    else console.error(`${backend}: reusing the loaded points (--reuse)`);
    const app = await buildServer(lake, { logLevel: false });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const only = args.only?.split(',');
    for (const [band, paths] of Object.entries(bandPaths())) {
      if (only && !only.includes(band)) continue;
      // Every tile once first: each must answer 200, and its size is noted (and the database warmed).
      let bytes = 0;
      const distinct = [...new Set(paths)];
      for (const p of distinct) {
        const reply = await fetch(url + p, { headers: { authorization: `Bearer ${key}` } });
        const body = Buffer.from(await reply.arrayBuffer());
        if (reply.status !== 200) throw new Error(`${p}: ${reply.status} ${body.toString().slice(0, 300)}`);
        bytes += body.length;
      }
      let peakRss = process.memoryUsage().rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', path.join(here, 'support/api-load-client.ts'), JSON.stringify({ url, key, connections: Number(args.connections), seconds: Number(args.seconds), paths })],
        { maxBuffer: 1 << 20 },
      );
      clearInterval(sampler);
      const figures = JSON.parse(stdout.trim().split('\n').at(-1)!);
      const row = {
        backend,
        band,
        tiles: distinct.length,
        'req/s': Math.round(figures.rps * 10) / 10,
        'p50 ms': figures.p50,
        'p95 ms': figures.p95,
        'p99 ms': figures.p99,
        'max ms': figures.max,
        requests: figures.requests,
        errors: figures.errors + figures.non2xx + figures.timeouts,
        'KB/tile': Math.round(bytes / distinct.length / 102.4) / 10,
        'peak RSS MB': Math.round(peakRss / 1048576),
      };
      results.push(row);
      console.error(JSON.stringify(row));
    }
    await app.close();
  } finally {
    await lake.close();
    await database?.drop();
    if (!args.reuse) await rm(dataDir, { recursive: true, force: true });
  }
  return results;
}

const backends = args.backend === 'both' ? (['embedded', 'server'] as const) : [args.backend];
const all: Record<string, unknown>[] = [];
for (const backend of backends) {
  if (backend !== 'embedded' && backend !== 'server') {
    console.error(`--backend must be embedded, server or both, got ${backend}`);
    process.exit(2);
  }
  all.push(...(await run(backend)));
}
console.log(`${POINTS} points over 730 days, ${args.connections} connections, ${args.seconds} s per band, ${os.cpus().length} CPUs (shared)`);
console.table(all);
