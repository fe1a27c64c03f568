// pgBackRest on the test server (src/backup/pgbackrest.ts through scripts/postgres-server.sh):
// full, differential and incremental backups of the whole cluster, a point-in-time restore drill
// into a second server, and refusals before anything is written (a non-empty target, a WAL
// segment missing from the archive, a damaged backup file). The cluster is shared with every
// other test file: it is backed up, never stopped nor restored over; restores go to
// /var/lib/postgresql/restore-* in the server's file system and are removed afterwards.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile, chown, open } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type PgBackRestBackup, PgBackRest } from '../src/backup/pgbackrest.js';
import { LakeError } from '../src/errors.js';
import { SERVER_URL } from './support/lake.js';
import { databaseUrl, withClient } from './support/templates.js';

const SCRIPT = new URL('../scripts/postgres-server.sh', import.meta.url).pathname;
/** The repository scripts/postgres-server.sh configures, in the server's file system. */
const REPOSITORY = '/var/lib/pgbackrest-lake';
const STANZA = 'lake';

const run = promisify(execFile);
const script = async (...args: string[]) => (await run('bash', [SCRIPT, ...args], { timeout: 600_000 })).stdout.trim();

/** Only the server the script runs has pgBackRest configured for it. */
async function whyNot(): Promise<string | false> {
  if (!SERVER_URL) return 'pgBackRest backs up a PostgreSQL server cluster; the embedded database is backed up by lake backup';
  try {
    const scriptUrl = new URL(await script('url'));
    const testUrl = new URL(SERVER_URL);
    if (scriptUrl.host !== testUrl.host) return `the test server ${testUrl.host} is not the one scripts/postgres-server.sh runs (${scriptUrl.host})`;
  } catch (error) {
    return `scripts/postgres-server.sh cannot say its server's URL (${(error as Error).message.split('\n')[0]})`;
  }
  return false;
}

const skip = await whyNot();

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<LakeError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LakeError, `a LakeError, not ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /cipher-pass=(?!<redacted>)/);
    return error;
  }
  assert.fail(`expected ${code}`);
}

describe('pgBackRest on the server', { skip }, () => {
  let pgbackrest: PgBackRest;
  let root: string;
  let database: string;
  let full: PgBackRestBackup;
  let incr: PgBackRestBackup;
  /** Between rows A and rows B: the point-in-time restore's target. */
  let targetTime: Date;
  const restoreDirs: string[] = [];
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const restoreDir = (what: string) => {
    const dir = `/var/lib/postgresql/restore-test-${tag}-${what}`;
    restoreDirs.push(dir);
    return dir;
  };
  const query = (url: string, sql: string, values: unknown[] = []) => withClient(url, async (client) => (await client.query(sql, values)).rows);

  before(async () => {
    root = await script('root');
    pgbackrest = new PgBackRest(
      { pgbackrest: process.env.LAKE_PGBACKREST || `bash ${SCRIPT} pgbackrest`, pgbackrestStanza: STANZA },
      { fileSystemRoot: root },
    );
    database = `lake_pgbackrest_${tag.replace('-', '_')}`;
    await query(SERVER_URL!, `CREATE DATABASE ${database}`);
    await query(databaseUrl(SERVER_URL!, database), `CREATE TABLE drill (id int PRIMARY KEY, batch text NOT NULL);
      INSERT INTO drill SELECT n, 'A' FROM generate_series(1, 100) n`);
  });

  after(async () => {
    for (const dir of restoreDirs) await script('remove-restored', dir).catch(() => {});
    if (database) await query(SERVER_URL!, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  test('a full backup of the cluster, then an incremental and a differential one on it', async (t) => {
    let started = Date.now();
    full = await pgbackrest.backup('full');
    const fullMs = Date.now() - started;
    assert.equal(full.type, 'full');
    assert.equal(full.prior, null);
    assert.deepEqual(full.references, []);
    assert.match(full.label, /^\d{8}-\d{6}F$/);
    assert.ok(full.databaseBytes > 10_000_000, `the cluster holds the test databases: ${full.databaseBytes} bytes`);
    assert.equal(full.deltaBytes, full.databaseBytes);
    assert.ok(full.repositoryDeltaBytes > 0 && full.repositoryDeltaBytes < full.databaseBytes, 'compressed in the repository');
    assert.ok(full.walStart <= full.walStop);
    assert.ok(full.stoppedAt >= full.startedAt);

    // The target time: after rows A and the full backup (by a second: pgBackRest's times are
    // whole seconds), before rows B (its commit is later).
    await sleep(Math.max(0, full.stoppedAt.getTime() + 1100 - Date.now()));
    const [{ now }] = await query(SERVER_URL!, 'SELECT clock_timestamp() AS now') as [{ now: Date }];
    targetTime = now;
    assert.ok(targetTime.getTime() >= full.stoppedAt.getTime() + 1000, `the server's clock (${targetTime.toISOString()}) is this machine's`);
    await query(databaseUrl(SERVER_URL!, database), `INSERT INTO drill SELECT n, 'B' FROM generate_series(101, 150) n`);

    started = Date.now();
    incr = await pgbackrest.backup('incr');
    const incrMs = Date.now() - started;
    assert.equal(incr.type, 'incr');
    // Its prior is the full one, or another test file's incremental on it made meanwhile.
    assert.ok(incr.prior === full.label || incr.prior?.startsWith(`${full.label}_`), `${incr.label} after ${incr.prior}`);
    assert.ok(incr.references.includes(full.label), `${incr.label} uses ${full.label}'s files`);
    assert.ok(incr.label.startsWith(`${full.label}_`) && incr.label.endsWith('I'));
    assert.ok(incr.deltaBytes < full.deltaBytes, `an incremental backup copies what changed: ${incr.deltaBytes} of ${incr.databaseBytes} bytes`);

    const diff = await pgbackrest.backup('diff');
    assert.equal(diff.type, 'diff');
    assert.equal(diff.prior, full.label, 'a differential backup is taken against the full one, not the incremental');
    assert.ok(diff.label.endsWith('D'));

    // Other test files back the same cluster up into the same repository meanwhile: this test's
    // three, in order, among whatever else is listed.
    const mine = [full.label, incr.label, diff.label];
    const listed = (await pgbackrest.list()).filter((backup) => mine.includes(backup.label));
    assert.deepEqual(listed.map((backup) => [backup.label, backup.type]), [[full.label, 'full'], [incr.label, 'incr'], [diff.label, 'diff']]);
    const info = await pgbackrest.info();
    assert.equal(info.cipher, 'aes-256-cbc');
    assert.ok(info.archive.min && info.archive.max && info.archive.max >= diff.walStop);
    t.diagnostic(`full backup ${fullMs} ms (${full.databaseBytes} bytes, ${full.repositoryDeltaBytes} in the repository); incremental ${incrMs} ms (${incr.deltaBytes} bytes)`);
  });

  test('the repository verifies: files and the WAL from the oldest backup on', async () => {
    const report = await pgbackrest.verify();
    assert.ok(report.backups.includes(full.label) && report.backups.includes(incr.label));
    assert.ok(report.walRange && report.walRange.start <= full.walStart);
    const one = await pgbackrest.verify(incr.label);
    assert.deepEqual(one.backups, [incr.label]);
  });

  test('point-in-time restore into a second server: rows A, not rows B', async (t) => {
    const dir = restoreDir('pitr');
    let started = Date.now();
    const result = await pgbackrest.restore({ pgData: dir, toTime: targetTime });
    const restoreMs = Date.now() - started;
    assert.deepEqual(result, { label: full.label, pgData: dir, recovery: 'time', toTime: targetTime });
    const port = await freePort();
    started = Date.now();
    const url = await script('start-restored', dir, String(port));
    const startMs = Date.now() - started;
    assert.equal(new URL(url).port, String(port));
    const restored = databaseUrl(url, database);
    const rows = await query(restored, 'SELECT batch, count(*)::int AS n FROM drill GROUP BY batch ORDER BY batch');
    assert.deepEqual(rows, [{ batch: 'A', n: 100 }]);
    const [settings] = await query(restored, `SELECT pg_is_in_recovery() AS recovering, current_setting('archive_mode') AS archive`);
    assert.deepEqual(settings, { recovering: false, archive: 'off' }, 'promoted, and never archiving into the lake\'s stanza');
    // The lake's own server was not touched.
    const main = await query(databaseUrl(SERVER_URL!, database), 'SELECT count(*)::int AS n FROM drill');
    assert.deepEqual(main, [{ n: 150 }]);
    await script('remove-restored', dir);
    await assert.rejects(stat(path.join(root || '/', dir)), { code: 'ENOENT' });
    t.diagnostic(`restore to a time ${restoreMs} ms; start-restored (recovery) ${startMs} ms`);
  });

  test('a restore into a non-empty directory is refused and the directory left as it was', async () => {
    const dir = restoreDir('busy');
    const local = path.join(root || '/', dir);
    await mkdir(local, { recursive: true });
    await writeFile(path.join(local, 'keep.txt'), 'mine');
    await rejectsWith(pgbackrest.restore({ pgData: dir, toTime: targetTime }), 'RESTORE_TARGET_NOT_EMPTY', /not empty.*keep\.txt/);
    // pgBackRest's own refusal when this process cannot see the target: the same code.
    const owner = await stat(path.dirname(local));
    await chown(local, owner.uid, owner.gid);
    await chown(path.join(local, 'keep.txt'), owner.uid, owner.gid);
    const blind = new PgBackRest({ pgbackrest: `bash ${SCRIPT} pgbackrest`, pgbackrestStanza: STANZA }, { fileSystemRoot: '/nonexistent-root' });
    await rejectsWith(blind.restore({ pgData: dir, label: full.label }), 'RESTORE_TARGET_NOT_EMPTY', /restore/);
    assert.deepEqual(await readdir(local), ['keep.txt']);
    assert.equal(await readFile(path.join(local, 'keep.txt'), 'utf8'), 'mine');
  });

  test('a WAL segment missing from the archive fails verify and restore, naming it', async () => {
    const segment = full.walStop;
    const archiveDir = path.join(root || '/', REPOSITORY, 'archive', STANZA);
    const archiveId = (await readdir(archiveDir)).filter((name) => /^\d+-\d+$/.test(name)).sort().at(-1)!;
    const segmentDir = path.join(archiveDir, archiveId, segment.slice(0, 16));
    const file = (await readdir(segmentDir)).find((name) => name.startsWith(`${segment}-`));
    assert.ok(file, `${segment} is archived`);
    const aside = path.join(segmentDir, `aside-${tag}`);
    await rename(path.join(segmentDir, file), aside);
    try {
      await rejectsWith(pgbackrest.verify(full.label), 'BACKUP_CORRUPT', new RegExp(`WAL segment ${segment} is missing.*backup ${full.label}`));
      await rejectsWith(pgbackrest.verify(), 'BACKUP_CORRUPT', new RegExp(segment));
      const dir = restoreDir('gap');
      await rejectsWith(pgbackrest.restore({ pgData: dir, toTime: targetTime }), 'BACKUP_CORRUPT', new RegExp(`${segment}.*nothing was restored`));
      await assert.rejects(stat(path.join(root || '/', dir)), { code: 'ENOENT' }, 'the target was not touched');
    } finally {
      await rename(aside, path.join(segmentDir, file));
    }
    await pgbackrest.verify(full.label);
  });

  test('a damaged backup file fails verify and restore, naming it', async () => {
    const bundleDir = path.join(root || '/', REPOSITORY, 'backup', STANZA, incr.label, 'bundle');
    const bundle = (await readdir(bundleDir)).sort()[0];
    assert.ok(bundle, `${incr.label} has a bundle`);
    const target = path.join(bundleDir, bundle);
    // Put back in place afterwards (the same file, its owner kept: pgBackRest reads it as postgres).
    const saved = await readFile(target);
    try {
      const handle = await open(target, 'r+');
      try {
        const { size } = await handle.stat();
        await handle.write(Buffer.from('damaged!'), 0, 8, Math.floor(size / 2));
      } finally {
        await handle.close();
      }
      await rejectsWith(pgbackrest.verify(incr.label), 'BACKUP_CORRUPT', new RegExp(`invalid checksum '${incr.label}/bundle/${bundle}'.*backup ${incr.label} is invalid`));
      const dir = restoreDir('damaged');
      await rejectsWith(pgbackrest.restore({ pgData: dir, label: incr.label }), 'BACKUP_CORRUPT', new RegExp(`${incr.label}/bundle/${bundle}`));
      await assert.rejects(stat(path.join(root || '/', dir)), { code: 'ENOENT' }, 'the target was not touched');
    } finally {
      await writeFile(target, saved);
    }
    await pgbackrest.verify(incr.label);
  });

  test('unknown sets and times before every backup are refused by name', async () => {
    await rejectsWith(pgbackrest.verify('20000101-000000F'), 'BACKUP_NOT_FOUND', /no backup 20000101-000000F/);
    await rejectsWith(pgbackrest.restore({ pgData: restoreDir('old'), toTime: new Date('2000-01-01T00:00:00Z') }), 'BACKUP_NOT_FOUND', /no backup .* ended at or before 2000-01-01/);
    await rejectsWith(pgbackrest.restore({ pgData: 'relative/dir' }), 'USAGE', /not an absolute path/);
  });
});
