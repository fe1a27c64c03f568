// Import throughput and memory for a synthetic Records.json (--kind records, issue 3) or Gmail
// mbox with attachments (--kind mbox, issue 4), through the real pipeline (extract → detect →
// parse → normalize → validate → load, attachments into the blob store), into PGlite or a
// PostgreSQL server.
//
//   node --import tsx bench/import.ts --mb 200 [--kind records|mbox] [--backend embedded|server] [--batch-size 10000] [--parse-worker-mb 32] [--file F] [--again | --overlap]
//
// --again imports the same file a second time and prints a second line for it: the checked path,
// where every record meets a stored one and counts as a duplicate (records: those received).
// --overlap does the same after relabelling the stored points as another source's: every record
// is then the same fix as another export's (ingest/load/same-fix.ts), the costliest re-import.
//
// With --backend server it uses LAKE_TEST_DATABASE_URL (or `scripts/postgres-server.sh url`) and a
// fresh database, dropped afterwards. Prints MB/s, points/s and the peak RSS of this process,
// which holds the whole lake (and, embedded, the PGlite WebAssembly heap), and its CPU time per
// point (on a shared machine a steadier figure than the rate): the whole process's, its main
// thread's, and with a server on this machine the server's; and how busy the machine's cores
// were (Linux /proc; left out elsewhere). Run it with the heap
// bound the `lake` command uses (bin/lake.js): node --max-old-space-size=192 --import tsx ...
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import pg from 'pg';
import { loadConfig } from '../src/config/config.js';
import { runImport } from '../src/ingest/runner.js';
import { Lake } from '../src/lake.js';
import { ensureUser } from '../src/query/users.js';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '200' },
    kind: { type: 'string', default: 'records' },
    backend: { type: 'string', default: 'embedded' },
    'batch-size': { type: 'string', default: '10000' },
    'parse-worker-mb': { type: 'string' },
    file: { type: 'string' },
    again: { type: 'boolean', default: false },
    overlap: { type: 'boolean', default: false },
  },
});
const here = path.dirname(new URL(import.meta.url).pathname);
const KINDS = { records: { generator: 'gen-records.ts', file: 'records', extension: 'json' }, mbox: { generator: 'gen-mbox.ts', file: 'mail', extension: 'mbox' } };
const kind = KINDS[args.kind as keyof typeof KINDS];
if (!kind) {
  console.error(`--kind must be records or mbox, got ${args.kind}`);
  process.exit(2);
}
const file = args.file ?? path.join(os.tmpdir(), `lake-bench-${kind.file}-${args.mb}mb.${kind.extension}`);
if (!existsSync(file)) {
  console.error(`generating ${file} (${args.mb} MB)...`);
  execFileSync(process.execPath, ['--import', 'tsx', path.join(here, kind.generator), '--mb', args.mb!, '--out', file], { stdio: 'inherit' });
}
const bytes = statSync(file).size;

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lake-bench-'));
let databaseUrl: string | undefined;
let dropDatabase = async () => {};
if (args.backend === 'server') {
  const base = process.env.LAKE_TEST_DATABASE_URL || execFileSync('bash', [path.join(here, '../scripts/postgres-server.sh'), 'url']).toString().trim();
  const name = `lake_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  dropDatabase = async () => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
}

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture Node runs on

/** CPU seconds (user and system) of a /proc/…/stat line. */
function cpuSecondsOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds of this machine's PostgreSQL processes alive now, or null where /proc cannot tell. */
function postgresCpuSeconds(): number | null {
  if (!existsSync('/proc/self/stat')) return null;
  let seconds = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (stat.includes('(postgres)')) seconds += cpuSecondsOf(stat);
    } catch {
      // the process ended between listing and reading
    }
  }
  return seconds;
}

/**
 * CPU seconds of this process's main thread alone, or null where /proc cannot tell: the thread
 * that parses and encodes (process.cpuUsage() also counts the GC's and libuv's helper threads).
 */
function mainThreadCpuSeconds(): number | null {
  const stat = `/proc/self/task/${process.pid}/stat`;
  return existsSync(stat) ? cpuSecondsOf(readFileSync(stat, 'latin1')) : null;
}

/** Busy and total CPU time of the whole machine (all cores) so far, or null where /proc cannot tell. */
function machineCpuTicks(): { busy: number; total: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const [, ...ticks] = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0); // user … steal
  return { busy: total - ticks[3]! - ticks[4]!, total }; // less idle and iowait
}

const lake = await Lake.open(loadConfig({ LAKE_DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) }));
try {
  await measureImport('first');
  if (args.again) await measureImport('again');
  if (args.overlap) {
    await lake.db.query(`UPDATE timeseries.location_points SET source = 'bench.other'`);
    await measureImport('overlap');
  }
} finally {
  await lake.close();
  await dropDatabase();
  await rm(dataDir, { recursive: true, force: true });
}

async function measureImport(run: 'first' | 'again' | 'overlap'): Promise<void> {
  const userId = await ensureUser(lake.db, 'bench');
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = databaseUrl ? postgresCpuSeconds() : null;
  const mainCpuBefore = mainThreadCpuSeconds();
  const machineBefore = machineCpuTicks();
  const parseWorkerMinBytes = args['parse-worker-mb'] === undefined ? undefined : Number(args['parse-worker-mb']) * 1024 * 1024;
  const report = await runImport(lake.db, { userId, inputs: [file], batchSize: Number(args['batch-size']), blobs: lake.blobs, parseWorkerMinBytes });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // Read before the pool closes: a backend's CPU is gone from /proc once it exits.
  const serverCpuAfter = serverCpuBefore === null ? null : postgresCpuSeconds();
  const mainCpuAfter = mainThreadCpuSeconds();
  const machineAfter = machineCpuTicks();
  const records = run === 'first' ? report.totals.records : report.totals.records + report.totals.duplicates;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  const blobs = await lake.blobs.summarize();
  console.log(
    JSON.stringify({
      run,
      backend: lake.db.backend,
      hypertables: lake.profile.features.hypertables.enabled,
      fileMB: +(bytes / 1e6).toFixed(1),
      kind: args.kind,
      // Points for records, messages and attachment references for mbox.
      records,
      // Of them, stored (the rest were duplicates).
      stored: report.totals.records,
      quarantined: report.totals.quarantined,
      blobs: blobs.total.blobs,
      seconds: +seconds.toFixed(2),
      mbPerSecond: +(bytes / 1e6 / seconds).toFixed(1),
      recordsPerSecond: Math.round(records / seconds),
      peakRssMB: Math.round(rssMb),
      // CPU of this process per record (parse, transform, COPY encoding; with PGlite also the database).
      lakeCpuMicrosPerRecord: +((cpu.user + cpu.system) / records).toFixed(2),
      ...(mainCpuBefore !== null && mainCpuAfter !== null ? { mainThreadCpuMicrosPerRecord: +(((mainCpuAfter - mainCpuBefore) * 1e6) / records).toFixed(2) } : {}),
      // With a server on this machine: CPU of all its processes (backends, WAL writer, checkpointer,
      // autovacuum workers still running) per record, over the import alone.
      ...(serverCpuAfter !== null && serverCpuBefore !== null ? { serverCpuMicrosPerRecord: +(((serverCpuAfter - serverCpuBefore) * 1e6) / records).toFixed(2) } : {}),
      // How busy all of this machine's cores were over the import (every process counted).
      ...(machineBefore && machineAfter ? { machineBusyPercent: Math.round((100 * (machineAfter.busy - machineBefore.busy)) / (machineAfter.total - machineBefore.total)) } : {}),
      heapLimitMB: Math.round(getHeapStatistics().heap_size_limit / 1e6),
      batchSize: Number(args['batch-size']),
    }),
  );
}
