// The `lake` command as a user runs it: a real process, real files, exit codes and one-line errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { buildZip } from './support/archives.js';
import { CLI_TIMEOUT_MS, cliTestLake, lakeEnvironment, type CliTestLake } from './support/lake-cli.js';
import { SERVER_URL } from './support/lake.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `lake`; `uid`: as that user (set only when this process is root). */
async function lake(args: string[], env: Record<string, string> = {}, uid?: number): Promise<Outcome> {
  try {
    const as = uid === undefined ? {} : { uid, gid: uid };
    const { stdout, stderr } = await run(process.execPath, [LAKE, ...args], { env: lakeEnvironment(env), timeout: CLI_TIMEOUT_MS, ...as });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let cli: CliTestLake;
let dir: string;
let env: Record<string, string>;

before(async () => {
  // Nothing made yet: the first command creates and migrates the lake, as on a user's first run.
  cli = await cliTestLake('lake-cli-', { fresh: true });
  ({ dir, env } = cli);
});
after(() => cli?.dispose());

test('migrate applies the migrations once, then finds nothing to do', async () => {
  const first = await lake(['migrate', '--json'], env);
  assert.equal(first.code, 0, first.stderr);
  const result = JSON.parse(first.stdout) as { applied: { name: string }[]; copiedFromTemplate?: true };
  // A new embedded database is a copy of the installation's migrated template (unless another
  // process was making that template just then); a server database is migrated in place.
  if (SERVER_URL || !result.copiedFromTemplate) assert.ok(result.applied.some((m) => m.name === 'foundation'), first.stdout);
  else assert.deepEqual(result.applied, []);
  const doctor = JSON.parse((await lake(['doctor', '--json'], env)).stdout) as { migrations: { state: string }[] };
  assert.ok(doctor.migrations.every((m) => m.state === 'applied' || m.state === 'skipped'), 'every migration is in the database');
  const second = await lake(['migrate'], env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.trim(), 'up to date');
});

test('doctor --json lists the backend, its extensions and features, the tiers and the migrations', async () => {
  const out = await lake(['doctor', '--json'], env);
  assert.equal(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout);
  assert.equal(report.backend, SERVER_URL ? 'server' : 'embedded');
  assert.equal(report.extensions.postgis.state, 'installed');
  assert.equal(report.extensions.vector.state, 'installed');
  assert.equal(report.features.geo.enabled, true);
  if (SERVER_URL) {
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

/** With the lake the commands use, opened here while no command runs. */
async function withLake<T>(work: (lake: Lake) => Promise<T>): Promise<T> {
  const opened = await Lake.open(loadConfig(env), { migrate: false });
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

const jobCount = () => withLake(async (l) => (await l.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM imports.jobs`)).rows[0]!.n);
/** Error lines (`lake: ... [CODE]`) on stderr, without the progress lines. */
const errorLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('lake: '));

test('lake import exits 0 when every file is done, 1 for an empty or refused file, 6 for an unreadable archive: report on stdout, error on stderr', async () => {
  const inputs = path.join(dir, 'inputs');
  await mkdir(inputs, { recursive: true });
  const good = path.join(inputs, 'Records.json');
  await writeFile(good, '{"locations":[{"timestampMs":"1500000000000","latitudeE7":520000000,"longitudeE7":130000000}]}');
  const empty = path.join(inputs, 'empty.json');
  await writeFile(empty, '');
  const refused = path.join(inputs, 'refused.zip');
  await writeFile(refused, buildZip([{ name: '../escape.txt', content: Buffer.from('out') }]));
  const broken = path.join(inputs, 'broken.zip');
  await writeFile(broken, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 7)]));

  const done = await lake(['import', good, '--user', 'exits'], env);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /^done: 1 files, 1 point \(1 row\) loaded/m);
  assert.deepEqual(errorLines(done.stderr), []);

  for (const [input, status] of [[empty, 'empty'], [refused, 'refused']] as const) {
    const out = await lake(['import', input, '--user', 'exits'], env);
    assert.equal(out.code, 1, `${status}: ${out.stderr}`);
    assert.match(out.stdout, new RegExp(`^${status} `, 'm'));
    assert.match(out.stdout, /^partial: 1 files/m);
    assert.deepEqual(errorLines(out.stderr), []);
  }

  const unreadable = await lake(['import', broken, '--user', 'exits'], env);
  assert.equal(unreadable.code, 6, unreadable.stderr);
  assert.match(unreadable.stdout, /^failed: 0 files/m);
  assert.doesNotMatch(unreadable.stdout, /ARCHIVE_INVALID/);
  assert.equal(errorLines(unreadable.stderr).length, 1, unreadable.stderr);
  assert.match(errorLines(unreadable.stderr)[0]!, /^lake: broken\.zip: not a readable zip .* \[ARCHIVE_INVALID\]$/);

  const json = await lake(['import', broken, '--user', 'exits', '--json'], env);
  assert.equal(json.code, 6);
  const report = JSON.parse(json.stdout) as { status: string; error: { code: string } };
  assert.deepEqual([report.status, report.error.code], ['failed', 'ARCHIVE_INVALID']);
});

test('lake import of a path that is not there, or with a bad option: exit 2, one line on stderr, nothing on stdout, no job', async () => {
  const before = await jobCount();
  const missing = path.join(dir, 'no-such', 'takeout.zip');
  const out = await lake(['import', missing], env);
  assert.equal(out.code, 2);
  assert.equal(out.stdout, '');
  assert.equal(out.stderr, `lake: ${missing}: no such file or folder [INPUT_NOT_FOUND]\n`);
  const option = await lake(['import', dir, '--batch-size', '0'], env);
  assert.equal(option.code, 2);
  assert.match(option.stderr, /^lake: --batch-size 0 is not valid: .* \[USAGE\]\n$/);
  assert.equal(await jobCount(), before);
});

// Root reads whatever the permissions say: the commands run as `nobody` then, which a root test may start.
const asUid = process.getuid?.() === 0 ? 65534 : undefined;

test('an input, or a file inside one, that the process may not read: exit 6 with its path, before any job for a top-level input', async () => {
  const before = await jobCount();
  await chmod(dir, 0o755);
  const closed = path.join(dir, 'closed');
  await mkdir(closed);
  await writeFile(path.join(closed, 'notes.json'), '{"a":1}');
  await chmod(closed, 0o700);
  if (asUid === undefined) await chmod(closed, 0o000);
  const top = await lake(['import', closed], env, asUid);
  assert.equal(top.code, 6, top.stderr);
  assert.equal(top.stdout, '');
  assert.match(top.stderr, new RegExp(`^lake: ${closed}: permission denied \\(EACCES on access\\): this process \\(uid \\d+\\) may not read it \\[INPUT_UNREADABLE\\]\\n$`));
  assert.equal(await jobCount(), before);
  await chmod(closed, 0o700);

  // A folder that may be read, one of whose files may not: the import stops there, naming it.
  const open = path.join(dir, 'open');
  await mkdir(open);
  await writeFile(path.join(open, 'a.json'), '{"a":1}');
  const secret = path.join(open, 'secret.json');
  await writeFile(secret, '{"b":2}');
  await chmod(secret, asUid === undefined ? 0o000 : 0o600);
  const dataDir = env.LAKE_DATA_DIR!;
  if (asUid !== undefined) await chownTree(dataDir, asUid);
  try {
    const inside = await lake(['import', open, '--user', 'exits'], env, asUid);
    assert.equal(inside.code, 6, inside.stderr);
    assert.match(inside.stdout, /^done +a\.json/m);
    assert.deepEqual(errorLines(inside.stderr), [`lake: ${secret}: permission denied (EACCES on open): this process (uid ${asUid ?? process.getuid!()}) may not read it [INPUT_UNREADABLE]`]);
  } finally {
    if (asUid !== undefined) await chownTree(dataDir, 0);
  }
});

async function chownTree(top: string, uid: number): Promise<void> {
  const { readdir } = await import('node:fs/promises');
  await chown(top, uid, uid);
  for (const entry of await readdir(top, { recursive: true })) await chown(path.join(top, entry), uid, uid);
}

test('lake import: exit 3 for an unwritable data directory, 4 for an unreachable database', async () => {
  const file = path.join(dir, 'a-file');
  await writeFile(file, '');
  const unwritable = await lake(['import', dir, '--data-dir', path.join(file, 'lake')], env);
  assert.equal(unwritable.code, 3, unwritable.stderr);
  assert.match(unwritable.stderr, /\[DATA_DIR_UNWRITABLE\]\n$/);
  const unreachable = await lake(['import', dir], { ...env, DATABASE_URL: 'postgres://lake:x@127.0.0.1:1/lake' });
  assert.equal(unreachable.code, 4, unreachable.stderr);
  assert.match(unreachable.stderr, /\(ECONNREFUSED\) \[DB_UNREACHABLE\]\n$/);
});

test('migrations: exit 1 from doctor while one is pending, 5 when applying it fails or a recorded one changed', async () => {
  const first = await withLake(async (l) =>
    (await l.db.query<{ version: number; name: string; checksum: string; status: string; reason: string | null }>(`SELECT * FROM lake.migrations WHERE version = 1`)).rows[0]!,
  );
  try {
    // Forgotten by the ledger, so pending; applying it again fails on what it already made.
    await withLake((l) => l.db.query(`DELETE FROM lake.migrations WHERE version = 1`));
    const pending = await lake(['doctor'], env);
    assert.equal(pending.code, 1, pending.stderr);
    const failed = await lake(['migrate'], env);
    assert.equal(failed.code, 5, failed.stderr);
    assert.match(failed.stderr, /^lake: migration 1 \(foundation\) failed: .* \[MIGRATION_FAILED\]\n$/);
    await withLake((l) =>
      l.db.query(`INSERT INTO lake.migrations (version, name, checksum, status, reason) VALUES ($1, $2, $3, $4, $5)`, [
        first.version,
        first.name,
        first.checksum,
        first.status,
        first.reason,
      ]),
    );
    await withLake((l) => l.db.query(`UPDATE lake.migrations SET checksum = 'edited' WHERE version = 1`));
    const changed = await lake(['migrate'], env);
    assert.equal(changed.code, 5, changed.stderr);
    assert.match(changed.stderr, /\[MIGRATION_CHANGED\]\n$/);
  } finally {
    await withLake((l) => l.db.query(`UPDATE lake.migrations SET checksum = $1 WHERE version = 1`, [first.checksum]));
  }
  assert.equal((await lake(['migrate'], env)).code, 0);
});
