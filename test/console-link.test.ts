// `lake console-link` and POST /v1/auth/link: a one-time link into the web console, exchanged
// once within 10 minutes for a new API key of its user; an unknown, used or expired token is 401,
// the same for each. On both backends; the command runs as a child process, also while
// `lake serve` runs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { consoleBase } from '../src/cli/console-link.js';
import { createConsoleLink, exchangeConsoleLink } from '../src/query/console-links.js';
import { createUser } from '../src/query/users.js';
import { LakeError } from '../src/errors.js';
import { get, startTestServer, type TestServer } from './support/api.js';
import { CLI_TIMEOUT_MS, cliTestLake, type CliTestLake } from './support/lake-cli.js';
import { openTestLake, type TestLake } from './support/lake.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;

async function exchange(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v1/auth/link`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

describe('POST /v1/auth/link', () => {
  let t: TestLake;
  let server: TestServer;

  before(async () => {
    t = await openTestLake({ LAKE_API_RATE_LIMIT: '20' });
    await createUser(t.lake.db, 'erin');
    await createUser(t.lake.db, 'frank');
    server = await startTestServer(t.lake);
  });
  after(async () => {
    await server?.close();
    await t?.dispose();
  });

  test('a link works once, without a key, for a new API key of its user; only its hash is stored', async () => {
    const link = await createConsoleLink(t.lake.db, 'erin');
    assert.match(link.token, /^[A-Za-z0-9_-]{43}$/, '256 random bits');
    assert.equal(link.expiresAt.getTime() - link.createdAt.getTime(), 10 * 60 * 1000);
    const stored = await t.lake.db.query<{ token_hash: Uint8Array; used_at: Date | null; row: string }>(`SELECT token_hash, used_at, l::text AS row FROM lake.console_links l`);
    assert.equal(stored.rows.length, 1);
    assert.deepEqual(Buffer.from(stored.rows[0]!.token_hash), createHash('sha256').update(link.token).digest());
    assert.equal(stored.rows[0]!.row.includes(link.token), false);
    assert.equal(stored.rows[0]!.used_at, null);

    const before = Date.now();
    const first = await exchange(server.url, { token: link.token });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(Object.keys(first.body).sort(), ['key', 'keyId', 'user']);
    assert.equal(first.body.user, 'erin');
    assert.match(first.body.key, /^lake_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    // The key is erin's, works at once, and is named for the console.
    assert.equal((await get(server, '/v1/timeline', first.body.key)).status, 200);
    const key = await t.lake.db.query<{ name: string; user: string }>(
      `SELECT k.name, u.name AS user FROM user_data.api_keys k JOIN user_data.users u USING (user_id) WHERE k.key_id = $1`,
      [first.body.keyId],
    );
    assert.equal(key.rows[0]!.user, 'erin');
    const named = /^console (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/.exec(key.rows[0]!.name);
    assert.ok(named, key.rows[0]!.name);
    assert.ok(Math.abs(Date.parse(named[1]!) - before) < 60_000);
    const used = await t.lake.db.query<{ used_at: Date | null }>(`SELECT used_at FROM lake.console_links`);
    assert.ok(used.rows[0]!.used_at instanceof Date);

    // Used: the same answer as an unknown token, or a malformed one.
    const again = await exchange(server.url, { token: link.token });
    const unknown = await exchange(server.url, { token: 'A'.repeat(43) });
    const odd = await exchange(server.url, { token: 'not a token' });
    for (const reply of [again, unknown, odd]) {
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.body, { error: { code: 'UNAUTHORIZED', message: again.body.error.message } });
    }
  });

  test('an expired link is refused like an unknown one; so is another user\'s in function form', async () => {
    const link = await createConsoleLink(t.lake.db, 'frank');
    await t.lake.db.query(`UPDATE lake.console_links SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`);
    const expired = await exchange(server.url, { token: link.token });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.code, 'UNAUTHORIZED');
    await assert.rejects(exchangeConsoleLink(t.lake.db, link.token), (e) => e instanceof LakeError && e.code === 'UNAUTHORIZED');
  });

  test('two exchanges of one token at once: one key', async () => {
    const link = await createConsoleLink(t.lake.db, 'frank');
    const replies = await Promise.all([exchange(server.url, { token: link.token }), exchange(server.url, { token: link.token })]);
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 401]);
  });

  test('a body without a token is 400; the route is rate limited per address', async () => {
    const missing = await exchange(server.url, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'INVALID_REQUEST');
    let limited: { status: number; body: any } | undefined;
    for (let i = 0; i < 25 && !limited; i++) {
      const reply = await exchange(server.url, { token: `guess-${i}` });
      if (reply.status === 429) limited = reply;
      else assert.equal(reply.status, 401);
    }
    assert.ok(limited, 'no 429 after 25 guesses with LAKE_API_RATE_LIMIT=20');
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
  });

  test('the user\'s erasure takes their links', async () => {
    await createUser(t.lake.db, 'gone');
    await createConsoleLink(t.lake.db, 'gone');
    const { eraseUser } = await import('../src/query/erase.js');
    await eraseUser(t.lake.db, t.lake.blobs, t.lake.config.uploadDir, 'gone', 'cli');
    const left = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lake.console_links l WHERE NOT EXISTS (SELECT 1 FROM user_data.users u WHERE u.user_id = l.user_id)`);
    assert.equal(left.rows[0]!.n, 0);
  });
});

describe('lake console-link', () => {
  let cli: CliTestLake;

  async function lake(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [LAKE, ...args], { env: { ...cli.env, ...env }, timeout: CLI_TIMEOUT_MS });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  before(async () => {
    cli = await cliTestLake('lake-console-link-');
  });
  after(() => cli?.dispose());

  test('the base is the configured serve address, 127.0.0.1 for a server bound to every address', () => {
    assert.equal(consoleBase({ apiHost: '0.0.0.0', apiPort: 8484 }), 'http://127.0.0.1:8484');
    assert.equal(consoleBase({ apiHost: '::', apiPort: 9000 }), 'http://127.0.0.1:9000');
    assert.equal(consoleBase({ apiHost: '::1', apiPort: 9000 }), 'http://[::1]:9000');
    assert.equal(consoleBase({ apiHost: 'lake.home', apiPort: 80 }), 'http://lake.home:80');
  });

  test('no user, one user, several users', async () => {
    const none = await lake(['console-link']);
    assert.deepEqual([none.code, none.stderr], [1, 'lake: no users yet: lake users create NAME [NOT_FOUND]\n']);
    assert.equal((await lake(['users', 'create', 'gina'])).code, 0);
    const one = await lake(['console-link'], { LAKE_API_HOST: '0.0.0.0', LAKE_API_PORT: '9191' });
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^http:\/\/127\.0\.0\.1:9191\/#link=[A-Za-z0-9_-]{43}\n$/);
    assert.match(one.stderr, /one-time link into the console as gina, good until \S+ \(10 minutes\)/);
    assert.equal((await lake(['users', 'create', 'hal'])).code, 0);
    const several = await lake(['console-link']);
    assert.deepEqual([several.code, several.stderr], [2, 'lake: the lake has 2 users: give --user NAME (gina, hal) [USAGE]\n']);
    const unknown = await lake(['console-link', '--user', 'ivan']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ivan/);
  });

  test('while lake serve runs: the link is made through it and exchanged on its API', async () => {
    const server = spawn(process.execPath, [LAKE, 'serve', '--port', '0'], { env: cli.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    server.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout.on('data', (chunk) => {
          stdout += chunk;
          const match = /serving (http:\/\/\S+)/.exec(stdout);
          if (match) resolve(match[1]!);
        });
        void exited.then((code) => reject(new Error(`lake serve exited with ${code}: ${stderr}`)));
      });
      const made = await lake(['console-link', '--user', 'hal', '--json']);
      assert.equal(made.code, 0, made.stderr);
      const { link, user, expiresAt } = JSON.parse(made.stdout) as { link: string; user: string; expiresAt: string };
      assert.equal(user, 'hal');
      assert.ok(link.startsWith(`${url}/#link=`), `${link} names the port the server has (--port 0), not LAKE_API_PORT`);
      assert.ok(Date.parse(expiresAt) > Date.now());
      const token = /#link=([A-Za-z0-9_-]{43})$/.exec(link)![1]!;
      const first = await exchange(url, { token });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.user, 'hal');
      const timeline = await fetch(`${url}/v1/timeline`, { headers: { authorization: `Bearer ${first.body.key}` } });
      assert.equal(timeline.status, 200);
      assert.equal((await exchange(url, { token })).status, 401);
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });
});
