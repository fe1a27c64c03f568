// The per-user archive (issue 15): how fast `lake export` writes it and `lake import` restores it,
// and the peak RSS. One user with --points location points and --items timeline items (made by
// INSERT ... SELECT generate_series, not measured) and --blobs random blobs of --blob-mb MiB each;
// the archive written to a file (userArchive, what `lake export` runs), then restored into a fresh
// lake (restoreUserArchive: the whole check, the blobs, the rows in one transaction).
// MB/s are of the NDJSON rows plus blob bytes (the archive's content), and of the file.
//
//   node --import tsx bench/user-archive.ts [--backend embedded|server] [--points 1000000] [--items 200000]
//        [--blobs 4] [--blob-mb 32]
//
// Embedded: data directories under the system temp dir; server: LAKE_TEST_DATABASE_URL (or
// `scripts/postgres-server.sh url`), two fresh databases, dropped afterwards.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { userArchive } from '../src/backup/user-archive.js';
import { restoreUserArchive } from '../src/backup/user-archive-restore.js';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { addRef } from '../src/store/blob-refs.js';
import { createUser } from '../src/query/users.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'embedded' },
    points: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '200000' },
    blobs: { type: 'string', default: '4' },
    'blob-mb': { type: 'string', default: '32' },
  },
});
const POINTS = Number(args.points);
const ITEMS = Number(args.items);
const BLOBS = Number(args.blobs);
const BLOB_BYTES = Number(args['blob-mb']) * 1024 * 1024;
const CHUNK = 100_000;
const START = Date.UTC(2023, 0, 1);
const YEAR_MS = 365 * 24 * 3600 * 1000;

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-bench-archive-'));
const drops: (() => Promise<void>)[] = [];

async function openLake(name: string): Promise<Lake> {
  const env: Record<string, string> = { LAKE_DATA_DIR: path.join(dir, name) };
  if (args.backend === 'server') {
    const admin = process.env.LAKE_TEST_DATABASE_URL || execFileSync('bash', ['scripts/postgres-server.sh', 'url'], { encoding: 'utf8' }).trim();
    const database = `lake_bench_archive_${name}_${process.pid}`;
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`CREATE DATABASE ${database}`);
    await client.end();
    const url = new URL(admin);
    url.pathname = `/${database}`;
    env.DATABASE_URL = url.toString();
    drops.push(async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await c.end();
    });
  }
  return Lake.open(loadConfig(env));
}

try {
  const source = await openLake('source');
  const userId = (await createUser(source.db, 'alice')).userId;
  const setup = performance.now();
  for (const table of ['timeseries.location_points', 'user_data.items']) {
    await source.db.transaction((tx) => tx.query(`SELECT lake.ensure_month_partitions($1, $2, $3)`, [table, new Date(START), new Date(START + YEAR_MS)]));
  }
  for (let from = 0; from < POINTS; from += CHUNK) {
    await source.db.query(
      `INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, accuracy_m, source)
       SELECT $1, timestamptz 'epoch' + ($2::float8 + i * $3::float8) * interval '1 second', sha256(int8send(i)),
              52.52 + 0.05 * sin(i / 2743.0), 13.405 + 0.08 * cos(i / 2743.0), 5 + i % 20, 'bench.synthetic'
         FROM generate_series($4::bigint, $5::bigint) i`,
      [userId, START / 1000, YEAR_MS / 1000 / POINTS, from, Math.min(from + CHUNK, POINTS) - 1],
    );
  }
  for (let from = 0; from < ITEMS; from += CHUNK) {
    await source.db.query(
      `INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source, title, url)
       SELECT $1, timestamptz 'epoch' + ($2::float8 + i * $3::float8) * interval '1 second', sha256(int8send(i)),
              'search', 'bench.synthetic', 'synthetic item ' || i || ' about rivers and maps', 'https://example.org/' || i
         FROM generate_series($4::bigint, $5::bigint) i`,
      [userId, START / 1000, YEAR_MS / 1000 / Math.max(ITEMS, 1), from, Math.min(from + CHUNK, ITEMS) - 1],
    );
  }
  for (let i = 0; i < BLOBS; i++) {
    const put = await source.blobs.put(randomBytes(BLOB_BYTES));
    await source.db.asUser(userId, (tx) => addRef(tx, { sha256: put.sha256, sizeBytes: BLOB_BYTES, source: 'bench', originalName: `blob-${i}.bin` }));
  }
  // As bench/api-load.ts: statistics, which the embedded database (no autovacuum) lacks until someone runs ANALYZE.
  await source.db.query('ANALYZE');
  console.error(`${source.db.backend}: ${POINTS} points, ${ITEMS} items, ${BLOBS} blobs of ${BLOB_BYTES >> 20} MiB made in ${((performance.now() - setup) / 1000).toFixed(1)} s`);

  const file = path.join(dir, 'alice.tar.zst');
  let content = 0;
  peakRss = 0;
  const writing = performance.now();
  await pipeline(
    userArchive({ db: source.db, asUser: (work) => source.db.asUser(userId, work), blobs: source.blobs, userName: 'alice', onEntry: (e) => (content += e.size) }),
    createWriteStream(file),
  );
  const writeSeconds = (performance.now() - writing) / 1000;
  const writeRss = peakRss;
  const fileBytes = (await stat(file)).size;
  await source.close();

  const target = await openLake('target');
  peakRss = 0;
  const restoring = performance.now();
  const report = await restoreUserArchive(target, file, { onPhase: (phase) => console.error(`${phase} at ${((performance.now() - restoring) / 1000).toFixed(1)} s`) });
  const restoreSeconds = (performance.now() - restoring) / 1000;
  await target.close();

  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  console.log(`backend ${args.backend}: ${report.rowsAdded} rows and ${report.blobs.added} blobs; content ${mb(content)} MB, file ${mb(fileBytes)} MB`);
  console.log(`write:   ${writeSeconds.toFixed(1)} s, ${mb(content / writeSeconds)} MB/s of content, ${mb(fileBytes / writeSeconds)} MB/s of file, peak RSS ${mb(writeRss)} MB`);
  console.log(`restore: ${restoreSeconds.toFixed(1)} s, ${mb(content / restoreSeconds)} MB/s of content (check + load), peak RSS ${mb(peakRss)} MB`);
} finally {
  clearInterval(sampler);
  for (const drop of drops) await drop().catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
