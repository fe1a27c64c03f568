// The `lake` command as a user runs it: a real process, real files, exit codes and one-line errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { lakeEnvironment } from './support/lake-cli.js';
import { createServerDatabase, SERVER_URL } from './support/lake.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function lake(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [LAKE, ...args], { env: lakeEnvironment(env), timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
let database: Awaited<ReturnType<typeof createServerDatabase>>;
let env: Record<string, string>;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-cli-'));
  database = await createServerDatabase();
  env = { LAKE_DATA_DIR: path.join(dir, 'data'), ...(database ? { DATABASE_URL: database.url } : {}) };
});
after(async () => {
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

test('migrate applies the migrations once, then finds nothing to do', async () => {
  const first = await lake(['migrate', '--json'], env);
  assert.equal(first.code, 0, first.stderr);
  const result = JSON.parse(first.stdout) as { applied: { name: string }[] };
  assert.ok(result.applied.some((m) => m.name === 'foundation'));
  const second = await lake(['migrate'], env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.trim(), 'up to date');
});

test('doctor --json lists the backend, its extensions and features, the tiers and the migrations', async () => {
  const out = await lake(['doctor', '--json'], env);
  assert.equal(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout);
  assert.equal(report.backend, database ? 'server' : 'embedded');
  assert.equal(report.extensions.postgis.state, 'installed');
  assert.equal(report.extensions.vector.state, 'installed');
  assert.equal(report.features.geo.enabled, true);
  if (database) {
    assert.equal(report.extensions.timescaledb.state, 'installed');
    assert.equal(report.extensions.pg_stat_statements.state, 'installed');
    assert.equal(report.extensions.pg_partman.state, 'installed');
  } else {
    assert.equal(report.extensions.timescaledb.state, 'missing');
    assert.equal(report.features.hypertables.enabled, false);
    assert.deepEqual(report.features.hypertables.missing, ['timescaledb']);
  }
  assert.deepEqual(Object.keys(report.tiers).sort(), ['blobs', 'cold', 'hot', 'warm']);
  assert.equal(report.healthy, true);
  assert.ok(report.migrations.length >= 5);
});

test('doctor in a terminal-friendly form names what each missing extension turns off', async () => {
  const out = await lake(['doctor'], env);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^backend\s+(embedded|server) \(PostgreSQL 17/m);
  assert.match(out.stdout, /scheduled_maintenance\s+off .*needs pg_cron/);
});

test('a bad setting is one line naming it and what is allowed, exit code 2', async () => {
  const out = await lake(['doctor'], { ...env, LAKE_DB_POOL_MAX: 'lots' });
  assert.equal(out.code, 2);
  assert.equal(out.stderr, 'lake: LAKE_DB_POOL_MAX="lots" is not valid: expected an integer from 1 to 200 [CONFIG_INVALID]\n');
  const url = await lake(['doctor'], { ...env, DATABASE_URL: 'mysql://x' });
  assert.equal(url.code, 2);
  assert.match(url.stderr, /^lake: DATABASE_URL="mysql:\/\/x" is not valid: expected a postgres:\/\/ or postgresql:\/\/ URL/);
});

test('an unwritable data directory is one line and a non-zero exit', async () => {
  const file = path.join(dir, 'a-file');
  await writeFile(file, '');
  const out = await lake(['doctor', '--data-dir', path.join(file, 'lake')], env);
  assert.equal(out.code, 3);
  assert.match(out.stderr, /^lake: data directory .* is not writable: cannot write in .* \(ENOTDIR\) \[DATA_DIR_UNWRITABLE\]\n$/);
});

test('an unreachable database is one line and a non-zero exit', async () => {
  const out = await lake(['doctor'], { ...env, DATABASE_URL: 'postgres://lake:x@127.0.0.1:1/lake' });
  assert.equal(out.code, 4);
  assert.equal(out.stderr.split('\n').length, 2, out.stderr);
  assert.match(out.stderr, /cannot reach PostgreSQL at 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
});

test('two processes cannot open one embedded data directory', { skip: SERVER_URL ? 'the embedded lock only; a server serves many clients' : false }, async () => {
  const { Lake } = await import('../src/lake.js');
  const { loadConfig } = await import('../src/config/config.js');
  const holder = await Lake.open(loadConfig({ LAKE_DATA_DIR: env.LAKE_DATA_DIR! }), { migrate: false });
  try {
    const out = await lake(['doctor'], env);
    assert.equal(out.code, 3);
    assert.match(out.stderr, /in use by another lake process \(pid \d+\) \[DATA_DIR_LOCKED\]/);
  } finally {
    await holder.close();
  }
});
