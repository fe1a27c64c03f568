// `lake serve --pg-port` against what a probe sent it (.probe/attack): the real command, in a child
// process with the heap bin/lake.js gives it (192 MB). A million-row result, a million-row cursor
// WITH HOLD, a result past the port's bound, a 32 MB password message before login and a 32 MB
// message after it: the server answers each, within seconds, and goes on serving SQL and its API.
// The port serves the embedded database only: on the server backend clients connect directly.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { CLI_TIMEOUT_MS, cliTestLake, type CliTestLake } from './support/lake-cli.js';
import { BACKEND } from './support/lake.js';

const run = promisify(execFile);
const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const SKIP = BACKEND === 'embedded' ? false : 'the SQL port serves the embedded database only; on a server clients connect directly';

interface Served {
  child: ChildProcess;
  url: string;
  pgPort: number;
  exited: Promise<number | null>;
  stderr(): string;
}

function msg(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const str = (v: string) => Buffer.from(`${v}\0`);
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** A raw protocol connection: what came back, message types in order, and a wait for one of them. */
async function rawConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let data = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (d) => (data = Buffer.concat([data, d])));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const types = () => {
    const out: string[] = [];
    let at = 0;
    while (at + 5 <= data.length && at + 1 + data.readInt32BE(at + 1) <= data.length) {
      out.push(String.fromCharCode(data[at]!));
      at += 1 + data.readInt32BE(at + 1);
    }
    return out;
  };
  /** Until a message of type `end` (or the socket closes), at most `ms`. */
  const until = async (end: string, ms: number) => {
    const deadline = Date.now() + ms;
    while (!types().includes(end) && !closed) {
      if (Date.now() > deadline) throw new Error(`no ${end} within ${ms} ms (got ${types().join(',')})`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const got = { types: types(), text: data.toString('latin1'), closed };
    data = Buffer.alloc(0);
    return got;
  };
  const startup = (user: string) => {
    const body = Buffer.concat([i32(196608), str('user'), str(user), str('database'), str('lake'), Buffer.from([0])]);
    socket.write(Buffer.concat([i32(body.length + 4), body]));
  };
  return { socket, until, startup, isClosed: () => closed };
}

describe('lake serve --pg-port under the probe, with a 192 MB heap', { skip: SKIP }, () => {
  let cli: CliTestLake;
  let served: Served;
  let access: { role: string; password: string };

  const lake = (...args: string[]) => run(process.execPath, [LAKE, ...args], { env: cli.env, timeout: CLI_TIMEOUT_MS });
  const connect = async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: served.pgPort, user: access.role, password: access.password, database: 'lake' });
    await client.connect();
    return client;
  };
  /** The server is alive and answers both its API and SQL. */
  const assertServing = async () => {
    assert.equal(served.child.exitCode, null, `lake serve exited: ${served.stderr()}`);
    const started = performance.now();
    const live = await fetch(`${served.url}/health/live`);
    assert.equal(live.status, 200);
    const client = await connect();
    try {
      assert.equal((await client.query('SELECT 41 + 1 AS n')).rows[0].n, 42);
    } finally {
      await client.end();
    }
    return performance.now() - started;
  };

  before(async () => {
    cli = await cliTestLake('lake-sql-port-hardening-', { settings: { LAKE_BACKUP_SCHEDULE: 'off' } });
    await lake('users', 'create', 'erin');
    access = JSON.parse((await lake('users', 'sql-access', 'erin', '--json')).stdout) as { role: string; password: string };
    // As bin/lake.js runs it: spawned through process.execPath, the shebang's heap bound is passed here.
    const child = spawn(process.execPath, ['--max-old-space-size=192', LAKE, 'serve', '--port', '0', '--pg-port', '0'], { env: cli.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const [url, pgPort] = await new Promise<[string, number]>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const http = /serving (http:\/\/\S+)/.exec(stdout);
        const sql = /SQL port 127\.0\.0\.1:(\d+)/.exec(stdout);
        if (http && sql) resolve([http[1]!, Number(sql[1])]);
      });
      void exited.then((code) => reject(new Error(`lake serve exited with ${code}: ${stderr}`)));
    });
    served = { child, url, pgPort, exited, stderr: () => stderr };
  });
  after(async () => {
    if (served && served.child.exitCode === null) {
      served.child.kill('SIGTERM');
      await served.exited;
    }
    await cli?.dispose();
  });

  test('a million rows, and a million-row cursor WITH HOLD: answered, and the server lives on', async () => {
    const client = await connect();
    try {
      // About 18 MB of DataRows: within the port's 32 MiB, held as a few buffers (one Buffer a row
      // filled the heap: "JavaScript heap out of memory").
      const all = await client.query({ text: 'select g from generate_series(1,1000000) g', rowMode: 'array' });
      assert.equal(all.rowCount, 1_000_000);
      assert.deepEqual([all.rows[0], all.rows.at(-1)], [[1], [1_000_000]]);
      await client.query('BEGIN');
      await client.query('DECLARE c CURSOR WITH HOLD FOR select g, md5(g::text) AS h from generate_series(1,999999) g');
      await client.query('COMMIT');
      const first = await client.query('FETCH 3 FROM c');
      assert.deepEqual(
        first.rows.map((r) => r.g),
        [1, 2, 3],
      );
      await client.query('MOVE FORWARD 999990 FROM c');
      const rest = await client.query('FETCH ALL FROM c');
      assert.deepEqual(
        rest.rows.map((r) => r.g),
        [999994, 999995, 999996, 999997, 999998, 999999],
      );
      await client.query('CLOSE c');
    } finally {
      await client.end();
    }
    await assertServing();
  });

  test('a result past 32 MiB is refused with SQLSTATE 54000, a cursor past 64 MiB too', async () => {
    const client = await connect();
    try {
      // 40 rows of 1 MiB, and one row of 40 MB.
      for (const sql of [`select repeat('x', 1048576) AS x from generate_series(1, 40)`, `select repeat('x', 40000000) AS x`]) {
        await assert.rejects(client.query(sql), (error: { code?: string; message: string }) => {
          assert.equal(error.code, '54000', error.message);
          assert.match(error.message, /result larger than 32 MiB.*use LIMIT or a cursor/);
          return true;
        });
      }
      await client.query('BEGIN');
      await assert.rejects(client.query(`DECLARE big CURSOR FOR select repeat('x', 1048576) from generate_series(1, 70)`), /more than .*64 MiB for all the connection's cursors/);
      await client.query('ROLLBACK');
      // Within the bound, through a cursor, the same rows come in pieces.
      await client.query('BEGIN');
      await client.query(`DECLARE ok CURSOR FOR select repeat('x', 1048576) AS x from generate_series(1, 40)`);
      let n = 0;
      for (let got = await client.query('FETCH 10 FROM ok'); got.rows.length > 0; got = await client.query('FETCH 10 FROM ok')) n += got.rows.length;
      assert.equal(n, 40);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    await assertServing();
  });

  test('before login, a message is at most 8 KB: a 32 MB password is refused at once', async () => {
    const c = await rawConnection(served.pgPort);
    try {
      c.startup(access.role);
      await c.until('R', 10_000);
      const started = performance.now();
      // The header declares 32 MB; the port answers without waiting for them (it waited, then
      // assembled them with a copy per chunk: 14-20 s of a frozen server).
      const head = Buffer.alloc(5);
      head.write('p', 0, 'latin1');
      head.writeInt32BE(32 * 1024 * 1024 + 4, 1);
      c.socket.write(Buffer.concat([head, Buffer.alloc(65536, 0x61)]));
      const answer = await c.until('E', 5_000);
      assert.match(answer.text, /FATAL.*08P01.*before authentication/s);
      assert.ok(performance.now() - started < 5_000);
    } finally {
      c.socket.destroy();
    }
    // A startup packet of more than 8 KB, the same.
    const big = await rawConnection(served.pgPort);
    try {
      const body = Buffer.concat([i32(196608), str('user'), str('x'.repeat(20_000)), Buffer.from([0])]);
      big.socket.write(Buffer.concat([i32(body.length + 4), body]));
      assert.match((await big.until('E', 5_000)).text, /invalid startup packet/);
    } finally {
      big.socket.destroy();
    }
    await assertServing();
  });

  test('after login, a 32 MB message is assembled in linear time, and the server answers after it', async () => {
    const c = await rawConnection(served.pgPort);
    try {
      c.startup(access.role);
      await c.until('R', 10_000);
      c.socket.write(msg('p', str(access.password)));
      await c.until('Z', 10_000);
      // A Parse of 32 MB of SQL text (a comment): the port keeps it, nothing runs.
      const parse = msg('P', str('big'), str(`SELECT 1 -- ${'y'.repeat(32 * 1024 * 1024)}`), Buffer.from([0, 0]));
      const started = performance.now();
      for (let at = 0; at < parse.length; at += 65536) c.socket.write(parse.subarray(at, at + 65536));
      c.socket.write(Buffer.concat([msg('C', Buffer.from('S'), str('big')), msg('S')]));
      const done = await c.until('Z', 60_000);
      const ms = performance.now() - started;
      assert.deepEqual(done.types, ['1', '3', 'Z']);
      // Linear: well under a second on an idle machine; quadratic it took 14-20 s.
      assert.ok(ms < 8_000, `32 MB message took ${Math.round(ms)} ms`);
    } finally {
      c.socket.destroy();
    }
    assert.ok((await assertServing()) < 10_000);
  });

  test('the probe\'s session-level attacks are refused: advisory locks, pg_sleep, create_time_table', async () => {
    const client = await connect();
    try {
      for (const sql of [
        'select count(pg_advisory_lock(g)) from generate_series(1000,30000) g',
        'select pg_try_advisory_lock(1)',
        'select count(*) from (select pg_sleep(86400)) s',
        "select count(*) from (select pg_sleep_for('1 day')) s",
        `select lake.create_time_table('pg_temp','x1','t','t timestamptz) PARTITION BY RANGE (t); PREPARE p AS SELECT 1; CREATE TABLE pg_temp.x2 (t timestamptz')`,
      ]) {
        await assert.rejects(client.query(sql), /permission denied/, sql);
      }
      assert.equal((await client.query('SELECT 1 AS n')).rows[0].n, 1);
    } finally {
      await client.end();
    }
    // The API is unharmed (it answered 500, "out of shared memory", until a restart).
    const started = await assertServing();
    assert.ok(started < 10_000);
  });
});
