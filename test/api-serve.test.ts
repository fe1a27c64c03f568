// `lake serve` shutting down: a running request (a streaming export) finishes after the stop
// signal while new connections are refused; past the time limit running requests are cut. And the
// commands as a user runs them: users, keys, serve until SIGTERM.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { serve } from '../src/api/serve.js';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { CLI_TIMEOUT_MS, cliTestLake, type CliTestLake } from './support/lake-cli.js';
import { BACKEND, openTestLake, type TestLake } from './support/lake.js';

/** Enough NDJSON (about 18 MB) that the export cannot sit whole in socket buffers. */
const POINTS = 40_000;

describe('graceful shutdown', () => {
  let t: TestLake;
  let userId: string;
  let key: string;

  before(async () => {
    // No handler timeout (LAKE_API_TIMEOUT_MS): on a loaded machine the export ran past its 31 s and
    // was cut by it, which is not what these tests are about.
    t = await openTestLake({ LAKE_API_TIMEOUT_MS: '0' });
    userId = (await createUser(t.lake.db, 'walker')).userId;
    key = (await createApiKey(t.lake.db, 'walker')).key;
    const start = Date.parse('2023-01-01T00:00:00Z');
    for (let i = 0; i < POINTS; i += 5000) {
      const records: LakeRecord[] = Array.from({ length: 5000 }, (_, j) => ({
        type: 'location_point',
        source: 'test.walk',
        key: [i + j],
        recordedAt: new Date(start + (i + j) * 60_000),
        lat: 45 + (j % 100) / 1000,
        lon: 7 + (j % 97) / 1000,
      }));
      await loadBatch(t.lake.db, { userId, jobId: null, fileId: null }, { records });
    }
  });
  after(() => t.dispose());

  async function startServing(shutdownTimeoutMs: number) {
    const stop = new AbortController();
    const events: string[] = [];
    let listening!: (url: string) => void;
    const url = new Promise<string>((resolve) => (listening = resolve));
    const done = serve(t.lake, {
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs,
      stop: stop.signal,
      logLevel: false,
      onListening: listening,
      onShutdown: (event) => events.push(event),
    });
    return { stop, events, url: await url, done };
  }

  test('a running export completes after the stop signal; new connections are turned away; the access log is written', async () => {
    // A time limit that is only a hang guard: a loaded machine's export may take minutes.
    const server = await startServing(600_000);
    const response = await fetch(`${server.url}/v1/export`, { headers: { authorization: `Bearer ${key}` } });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    server.stop.abort();
    const state = await Promise.race([server.done.then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still serving'), 300))]);
    assert.equal(state, 'still serving', 'the server waits for the running export');
    const refused = await fetch(`${server.url}/health/live`).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.ok(refused === 'refused' || refused === 503, `a new request got ${refused}`);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const lines = text.trimEnd().split('\n');
    const summary = JSON.parse(lines.at(-1)!) as { complete: boolean; rows: Record<string, number> };
    assert.equal(summary.complete, true);
    assert.equal(summary.rows['timeseries.location_points'], POINTS);
    assert.equal(lines.length, Object.values(summary.rows).reduce((a, b) => a + b, 0) + 1, 'every counted row was sent');
    await server.done;
    assert.deepEqual(server.events, ['stopping']);
    const logged = await t.lake.db.asUser(userId, (tx) =>
      tx.query<{ route: string; status: number }>(`SELECT object_id AS route, (details->>'status')::int AS status FROM audit.events`),
    );
    assert.deepEqual(logged.rows, [{ route: 'GET /v1/export', status: 200 }]);
  });

  test('a request still running at the time limit is cut, and the server stops', async () => {
    const server = await startServing(300);
    const response = await fetch(`${server.url}/v1/export`, { headers: { authorization: `Bearer ${key}` } });
    const reader = response.body!.getReader();
    await reader.read();
    server.stop.abort();
    await server.done;
    assert.deepEqual(server.events, ['stopping', 'cut']);
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) break;
    }, 'the client sees the response end early');
  });
});

describe('the commands', () => {
  const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
  let cli: CliTestLake;
  let env: Record<string, string>;

  before(async () => {
    cli = await cliTestLake('lake-serve-');
    env = cli.env;
  });
  after(() => cli?.dispose());

  async function lake(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [LAKE, ...args], { env, timeout: CLI_TIMEOUT_MS });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  test('users create, keys create, serve until SIGTERM, keys revoke', async () => {
    const created = await lake('users', 'create', 'alice');
    assert.equal(created.code, 0, created.stderr);
    const again = await lake('users', 'create', 'alice');
    assert.deepEqual([again.code, again.stderr], [6, 'lake: user alice already exists [ALREADY_EXISTS]\n']);
    const keyed = await lake('keys', 'create', '--user', 'alice', '--name', 'laptop', '--json');
    assert.equal(keyed.code, 0, keyed.stderr);
    const { key, keyId } = JSON.parse(keyed.stdout) as { key: string; keyId: string };

    const server = spawn(process.execPath, [LAKE, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    server.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /serving (http:\/\/\S+)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`lake serve exited with ${code}: ${stderr}`)));
    });
    try {
      const ok = await fetch(`${url}/v1/timeline`, { headers: { authorization: `Bearer ${key}` } });
      assert.deepEqual([ok.status, await ok.json()], [200, { items: [], next_cursor: null }]);
      assert.equal((await fetch(`${url}/v1/timeline`)).status, 401);
      if (BACKEND === 'embedded') {
        // The embedded database belongs to the server while it runs: other commands go through it
        // (test/cli-through-serve.test.ts), and what needs it to itself says which server holds it.
        const through = await lake('keys', 'list', '--user', 'alice', '--json');
        assert.equal(through.code, 0, through.stderr);
        assert.equal((JSON.parse(through.stdout) as { keyId: string }[])[0]?.keyId, keyId);
        const locked = await lake('migrate');
        assert.equal(locked.code, 3);
        assert.match(locked.stderr, /held by lake serve \(pid \d+\).*\[DATA_DIR_LOCKED\]/);
      }
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /lake: stopped/);

    const revoked = await lake('keys', 'revoke', keyId);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${keyId} of alice at `));
    const listed = await lake('keys', 'list', '--user', 'alice', '--json');
    const [only] = JSON.parse(listed.stdout) as { keyId: string; lastUsedAt: string | null; revokedAt: string | null }[];
    assert.equal(only?.keyId, keyId);
    assert.ok(only?.lastUsedAt && only.revokedAt, 'used while serving, then revoked');
    const users = await lake('users', 'list', '--json');
    assert.deepEqual(
      (JSON.parse(users.stdout) as { name: string; activeKeys: number }[]).map(({ name, activeKeys }) => ({ name, activeKeys })),
      [{ name: 'alice', activeKeys: 0 }],
    );
  });
});
