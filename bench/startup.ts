// Start-up of the `lake` command (issue 16): wall time, CPU time and peak RSS of real `lake`
// processes, and where the time goes (the marks Lake.open sets: modules and configuration until
// `lake:open`, the database started by `lake:database`, the schema checked by `lake:schema`, the
// command's own work until `lake:close`, then closing).
//
//   node --import tsx bench/startup.ts [--runs 5] [--import-mb 200]
//
// Scenarios, each run --runs times (medians printed, one JSON line each):
//   help            lake --help (must never open the database)
//   doctor          lake doctor on an existing embedded data directory
//   users-list      lake users list on an existing embedded data directory
//   new-dir         lake users list on a new data directory, this installation's cache made
//   new-install     lake users list on a new data directory with an empty cache (LAKE_CACHE_DIR):
//                   the first command a new installation runs
// With --import-mb N: `lake import` of an N MB Records.json (bench/gen-records.ts) into a new
// embedded data directory and into a new database on the PostgreSQL server (LAKE_TEST_DATABASE_URL
// or scripts/postgres-server.sh url), alternating, with the ratio of the medians.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'import-mb': { type: 'string' } } });
const runs = Number(args.runs);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const work = await mkdtemp(path.join(os.tmpdir(), 'lake-bench-startup-'));
const cacheDir = path.join(work, 'cache');

interface Usage {
  endMs: number;
  maxRssKB: number;
  cpuMs: number;
  marks: Record<string, number>;
}

interface Run {
  wallMs: number;
  usage: Usage;
}

/** One `lake` process as a user starts it (bin/lake.js, with its heap bound), measured from outside and inside. */
async function lake(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const usageFile = path.join(work, `usage-${process.hrtime.bigint()}.json`);
  const started = performance.now();
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=192', '--import', path.join(root, 'bench/support/usage-report.mjs'), path.join(root, 'bin/lake.js'), ...argv], {
      env: { ...process.env, LAKE_CACHE_DIR: cacheDir, LAKE_BENCH_USAGE_FILE: usageFile, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(0) : reject(new Error(`lake ${argv.join(' ')} exited ${status}: ${stderr}`))));
  });
  const wallMs = performance.now() - started;
  return { wallMs: code === 0 ? wallMs : Number.NaN, usage: JSON.parse(await readFile(usageFile, 'utf8')) as Usage };
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Median figures of `results`, each phase's time between the marks that bound it. */
function summary(scenario: string, results: Run[]): Record<string, unknown> {
  const phase = (from: string | null, to: string | null) =>
    Math.round(
      median(
        results.map(({ usage }) => {
          const start = from === null ? 0 : usage.marks[from];
          const end = to === null ? usage.endMs : usage.marks[to];
          return start === undefined || end === undefined ? Number.NaN : end - start;
        }),
      ),
    );
  const phases = results[0]!.usage.marks['lake:open'] === undefined ? {} : {
    modulesMs: phase(null, 'lake:open'),
    databaseMs: phase('lake:open', 'lake:database'),
    schemaMs: phase('lake:database', 'lake:schema'),
    commandMs: phase('lake:schema', 'lake:close'),
    closeMs: phase('lake:close', null),
  };
  return {
    scenario,
    runs: results.length,
    wallMs: Math.round(median(results.map((r) => r.wallMs))),
    wallMsMax: Math.round(Math.max(...results.map((r) => r.wallMs))),
    cpuMs: Math.round(median(results.map((r) => r.usage.cpuMs))),
    peakRssMB: Math.round(median(results.map((r) => r.usage.maxRssKB)) / 1024),
    ...phases,
    load1: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

async function scenario(name: string, once: (i: number) => Promise<Run>): Promise<void> {
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) results.push(await once(i));
  console.log(JSON.stringify(summary(name, results)));
}

try {
  const existing = path.join(work, 'existing');
  await lake(['--data-dir', existing, 'users', 'list']); // made once: the scenarios below open it
  await scenario('help', () => lake(['--help']));
  await scenario('doctor', () => lake(['--data-dir', existing, 'doctor']));
  await scenario('users-list', () => lake(['--data-dir', existing, 'users', 'list']));
  await scenario('new-dir', (i) => lake(['--data-dir', path.join(work, `new-${i}`), 'users', 'list']));
  await scenario('new-install', (i) =>
    lake(['--data-dir', path.join(work, `install-${i}`), 'users', 'list'], { LAKE_CACHE_DIR: path.join(work, `cache-${i}`) }),
  );
  if (args['import-mb']) await importScenarios(Number(args['import-mb']));
} finally {
  await rm(work, { recursive: true, force: true });
}

/** `lake import` end to end into the embedded database and into the server, alternating, and the ratio. */
async function importScenarios(mb: number): Promise<void> {
  const file = path.join(os.tmpdir(), `lake-bench-records-${mb}mb.json`);
  if (!existsSync(file)) {
    execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'bench/gen-records.ts'), '--mb', String(mb), '--out', file], { stdio: 'inherit' });
  }
  const base = process.env.LAKE_TEST_DATABASE_URL || execFileSync('bash', [path.join(root, 'scripts/postgres-server.sh'), 'url']).toString().trim();
  const embedded: Run[] = [];
  const server: Run[] = [];
  for (let i = 0; i < runs; i++) {
    embedded.push(await lake(['--data-dir', path.join(work, `import-e-${i}`), 'import', file, '--user', 'bench']));
    await rm(path.join(work, `import-e-${i}`), { recursive: true, force: true });
    const name = `lake_bench_startup_${process.pid}_${i}`;
    await admin(base, `CREATE DATABASE ${name}`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    try {
      server.push(await lake(['--data-dir', path.join(work, `import-s-${i}`), 'import', file, '--user', 'bench'], { DATABASE_URL: url.toString() }));
    } finally {
      await admin(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  }
  const e = summary(`import-${mb}mb-embedded`, embedded);
  const s = summary(`import-${mb}mb-server`, server);
  console.log(JSON.stringify(e));
  console.log(JSON.stringify(s));
  console.log(JSON.stringify({ scenario: `import-${mb}mb-ratio`, embeddedOverServer: Number(((e.wallMs as number) / (s.wallMs as number)).toFixed(2)) }));
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
