// The other `lake` commands while `lake serve` holds the embedded database: they go through the
// server's command socket (src/api/admin-socket.ts, src/db/adapters/remote.ts) instead of failing
// with DATA_DIR_LOCKED. Real processes: the server and each command are children of this test.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CLI_TIMEOUT_MS, cliTestLake, lakeImport, type CliTestLake } from './support/lake-cli.js';
import { BACKEND } from './support/lake.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const SKIP = BACKEND === 'server' ? 'embedded only: with DATABASE_URL every command connects to the PostgreSQL server itself, nothing is locked' : false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

interface Server {
  child: ChildProcessWithoutNullStreams;
  url: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

describe('lake commands while lake serve holds the embedded database', { skip: SKIP }, () => {
  let cli: CliTestLake;
  let server: Server;
  let key: string;

  async function lake(...args: string[]): Promise<Run> {
    const started = performance.now();
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [LAKE, ...args], { env: cli.env, timeout: CLI_TIMEOUT_MS });
      return { code: 0, stdout, stderr, ms: performance.now() - started };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr, ms: performance.now() - started };
    }
  }

  async function startServer(): Promise<Server> {
    const child = spawn(process.execPath, [LAKE, 'serve', '--port', '0'], { env: cli.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /serving (http:\/\/\S+)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`lake serve exited with ${code}: ${stderr}`)));
    });
    return { child, url, exited, stderr: () => stderr };
  }

  async function api(pathname: string, bearer = key): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${server.url}${pathname}`, { headers: { authorization: `Bearer ${bearer}` } });
    return { status: response.status, body: await response.json() };
  }

  async function assertReady(): Promise<void> {
    const response = await fetch(`${server.url}/health/ready`);
    assert.equal(response.status, 200, await response.text());
  }

  before(async () => {
    // No scheduled backup: its catch-up, a minute after start, would race the one made here.
    cli = await cliTestLake('lake-through-serve-', { settings: { LAKE_BACKUP_SCHEDULE: 'off' } });
    server = await startServer();
  });
  after(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await cli?.dispose();
  });

  test('users create and keys create go through the server; the key works on its API at once', async () => {
    const created = await lake('users', 'create', 'carol', '--json');
    assert.equal(created.code, 0, created.stderr);
    assert.equal((JSON.parse(created.stdout) as { name: string }).name, 'carol');
    // Never waits for the lock: answered by the running server.
    assert.ok(created.ms < 10_000, `users create took ${created.ms} ms`);
    const keyed = await lake('keys', 'create', '--user', 'carol', '--name', 'phone', '--json');
    assert.equal(keyed.code, 0, keyed.stderr);
    key = (JSON.parse(keyed.stdout) as { key: string }).key;
    assert.deepEqual(await api('/v1/timeline'), { status: 200, body: { items: [], next_cursor: null } });
    const again = await lake('users', 'create', 'carol');
    assert.deepEqual([again.code, again.stderr], [6, 'lake: user carol already exists [ALREADY_EXISTS]\n'], 'errors come back as they are');

    const listed = await lake('users', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const carol = (JSON.parse(listed.stdout) as { name: string; activeKeys: number }[]).find((u) => u.name === 'carol');
    assert.equal(carol?.activeKeys, 1);
  });

  test('doctor says it went through the running server', async () => {
    const out = await lake('doctor', '--json');
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout) as { backend: string; healthy: boolean; throughServer: { pid: number; socket: string } | null };
    assert.equal(report.backend, 'embedded');
    assert.equal(report.healthy, true);
    assert.equal(report.throughServer?.pid, server.child.pid);
    assert.equal(report.throughServer?.socket, path.join(cli.env.LAKE_DATA_DIR!, 'hot', 'run', 'lake.sock'));
    const text = await lake('doctor');
    assert.match(text.stdout, new RegExp(`^through {6}lake serve \\(pid ${server.child.pid}\\)`, 'm'));
  });

  test('import loads through the server: its rows are on the API', async () => {
    const input = path.join(cli.dir, 'Records.json');
    const points = Array.from({ length: 30 }, (_, i) => ({ timestampMs: String(1_600_000_000_000 + i * 60_000), latitudeE7: 520_000_000 + i, longitudeE7: 130_000_000 }));
    await writeFile(input, JSON.stringify({ locations: points }));
    const out = await lake('import', input, '--user', 'carol', '--batch-size', '7', '--json');
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout) as { status: string; totals: { counts: Record<string, number> } };
    assert.equal(report.status, 'done');
    const { status, body } = await api('/v1/locations?limit=100');
    assert.equal(status, 200);
    assert.equal((body as { features: unknown[] }).features.length, 30);
    // And read back out through the server: lake export.
    const archive = path.join(cli.dir, 'carol.tar.zst');
    const exported = await lake('export', '--user', 'carol', '--out', archive, '--json');
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal((JSON.parse(exported.stdout) as { rows: Record<string, number> }).rows['timeseries.location_points'], 30);
  });

  test('sql-access and lake sql go through the server', async () => {
    const access = await lake('users', 'sql-access', 'carol', '--json');
    assert.equal(access.code, 0, access.stderr);
    assert.match((JSON.parse(access.stdout) as { role: string }).role, /_carol$/);
    const out = await lake('sql', '--user', 'carol', '--json', '-c', 'SELECT count(*)::int AS n, min(name) AS name FROM user_data.users');
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), [[{ n: 1, name: 'carol' }]]);
  });

  test('what needs the database to itself says which server holds it', async () => {
    const out = await lake('migrate');
    assert.equal(out.code, 3);
    assert.match(out.stderr, new RegExp(`held by lake serve \\(pid ${server.child.pid}\\), and this command needs it to itself: stop lake serve .*\\[DATA_DIR_LOCKED\\]`));
    const dry = await lake('migrate', '--dry-run', '--json');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual((JSON.parse(dry.stdout) as { pending: { state: string }[] }).pending.filter((m) => m.state === 'pending'), []);
  });

  test('a transaction its client abandons is rolled back; the server keeps serving', async () => {
    // A child that inserts a user inside a transaction through the server, says so, and is killed there.
    const script = `
      import { Lake } from ${JSON.stringify(new URL('../src/lake.ts', import.meta.url).pathname)};
      import { loadConfig } from ${JSON.stringify(new URL('../src/config/config.ts', import.meta.url).pathname)};
      const lake = await Lake.open(loadConfig(process.env), { brief: true });
      if (!lake.server) throw new Error('not through the server');
      await lake.db.transaction(async (tx) => {
        await tx.query("INSERT INTO user_data.users (name) VALUES ('ghost')");
        process.stdout.write('inside\\n');
        await new Promise(() => {});
      });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: cli.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let childErr = '';
    child.stderr.on('data', (chunk) => (childErr += chunk));
    const closed = new Promise((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => String(chunk).includes('inside') && resolve());
      void closed.then(() => reject(new Error(`the child ended first: ${childErr}`)));
    });
    // The server's HTTP requests wait for that transaction; once the client is gone they go on.
    const waiting = api('/v1/timeline');
    child.kill('SIGKILL');
    await closed;
    assert.equal((await waiting).status, 200);
    const users = await lake('users', 'list', '--json');
    assert.deepEqual((JSON.parse(users.stdout) as { name: string }[]).map((u) => u.name), ['carol']);
    await assertReady();
  });

  test('an import killed mid-way leaves whole batches only; the server keeps serving', async () => {
    const input = path.join(cli.dir, 'big', 'Records.json');
    await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(input), { recursive: true }));
    const points = Array.from({ length: 20_000 }, (_, i) => ({ timestampMs: String(1_700_000_000_000 + i * 1000), latitudeE7: 480_000_000 + i, longitudeE7: 110_000_000 }));
    await writeFile(input, JSON.stringify({ locations: points }));
    const run = await lakeImport({ env: cli.env, inputs: [input], user: 'dave', batchSize: 500, killAfterRecords: 1000 });
    assert.equal(run.signal, 'SIGKILL', run.stderr.join('\n'));
    const out = await lake('sql', '--user', 'carol', '-c', 'SELECT 1 AS one');
    assert.equal(out.code, 0, out.stderr);
    const counted = await lake('doctor', '--json');
    assert.equal(counted.code, 0, counted.stderr);
    // As the maintenance role, through the server: the killed import's points are whole batches.
    const script = `
      import { Lake } from ${JSON.stringify(new URL('../src/lake.ts', import.meta.url).pathname)};
      import { loadConfig } from ${JSON.stringify(new URL('../src/config/config.ts', import.meta.url).pathname)};
      const lake = await Lake.open(loadConfig(process.env), { brief: true });
      const { rows } = await lake.db.query("SELECT count(*)::int AS n FROM timeseries.location_points p JOIN user_data.users u USING (user_id) WHERE u.name = 'dave'");
      process.stdout.write(JSON.stringify({ n: rows[0].n, through: lake.server !== null }));
      await lake.close();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: cli.env, timeout: CLI_TIMEOUT_MS });
    const { n, through } = JSON.parse(stdout) as { n: number; through: boolean };
    assert.equal(through, true);
    assert.equal(n % 500, 0, `${n} points: a partial batch was committed`);
    assert.ok(n < 20_000);
    await assertReady();
    // Resumed through the server, to the end.
    const resumed = await lake('import', input, '--user', 'dave', '--batch-size', '500', '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
  });

  test('backup goes through the server: its database paused while the files are copied; the copy verifies', async () => {
    const made = await lake('backup', '--json');
    assert.equal(made.code, 0, made.stderr);
    const manifest = JSON.parse(made.stdout) as { id: string; backend: string; database: { kind: string } };
    assert.deepEqual([manifest.backend, manifest.database.kind], ['embedded', 'pglite-files']);
    await assertReady();
    const verified = await lake('backup', 'verify', manifest.id, '--json');
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);
    assert.equal((await api('/v1/timeline')).status, 200);
  });

  test("a killed server's stale socket does not break the next command, nor the next server", async () => {
    const socket = path.join(cli.env.LAKE_DATA_DIR!, 'hot', 'run', 'lake.sock');
    assert.ok(existsSync(socket));
    server.child.kill('SIGKILL');
    await server.exited;
    assert.ok(existsSync(socket), 'a killed server leaves its socket');
    const direct = await lake('doctor', '--json');
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal((JSON.parse(direct.stdout) as { throughServer: unknown }).throughServer, null, 'opened directly');
    server = await startServer();
    const through = await lake('doctor', '--json');
    assert.equal((JSON.parse(through.stdout) as { throughServer: { pid: number } }).throughServer.pid, server.child.pid);
    // A client idle between calls (a lake sql prompt) does not hold the server's shutdown up.
    const idle = await lake('sql', '--user', 'carol', '-c', 'SELECT 1');
    assert.equal(idle.code, 0, idle.stderr);
    const prompt = spawn(process.execPath, [LAKE, 'sql', '--user', 'carol'], { env: cli.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const promptClosed = new Promise<number | null>((resolve) => prompt.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => prompt.stdout.on('data', (chunk) => String(chunk).includes('=>') && resolve()));
    const stopping = performance.now();
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.stderr());
    const stopMs = performance.now() - stopping;
    assert.ok(stopMs < 20_000, `the server took ${stopMs} ms to stop`);
    assert.equal(existsSync(socket), false, 'removed on close');
    prompt.stdin.end();
    await promptClosed;
  });
});
