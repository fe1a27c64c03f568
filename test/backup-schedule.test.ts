// The backup schedule of `lake serve` (src/backup/schedule.ts): the next run from local times
// (midnight, month and year ends, both clock changes of Europe/Berlin), the policy's allowed age,
// and a real server: a catch-up backup appears in the repository, its figures in /metrics and
// "ok" in /health/ready; an old backup warns without making the server unready; a failing backup
// is counted and the server keeps serving; shutdown waits for a running backup.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { serve } from '../src/api/serve.js';
import { buildServer } from '../src/api/server.js';
import { backupAndPrune } from '../src/backup/make-backup.js';
import { BackupRepository } from '../src/backup/repository.js';
import { allowedAgeMs, backupHealth, describeSchedule, largestGapMs, needsCatchUp, nextScheduledRun } from '../src/backup/schedule.js';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { cliTestLake, type CliTestLake } from './support/lake-cli.js';
import { BACKEND, SERVER_URL } from './support/lake.js';
import { waitUntil } from './support/wait.js';

const HOUR = 3_600_000;
const SCRIPT = new URL('../scripts/postgres-server.sh', import.meta.url).pathname;
/** On a server, backups go through pgBackRest: the development server's, through the script, unless LAKE_PGBACKREST says otherwise. */
const PGBACKREST = process.env.LAKE_PGBACKREST || `bash ${SCRIPT} pgbackrest`;

/** Why a server backup cannot be made here: only the server scripts/postgres-server.sh runs has pgBackRest set up for it. */
async function serverBackupsUnavailable(): Promise<string | false> {
  if (BACKEND !== 'server' || process.env.LAKE_PGBACKREST) return false;
  try {
    const { stdout } = await promisify(execFile)('bash', [SCRIPT, 'url'], { timeout: 60_000 });
    const scriptHost = new URL(stdout.trim()).host;
    const testHost = new URL(SERVER_URL!).host;
    return scriptHost === testHost ? false : `server backups need pgBackRest: the test server ${testHost} is not the one scripts/postgres-server.sh runs (${scriptHost}); set LAKE_PGBACKREST`;
  } catch (error) {
    return `server backups need pgBackRest: scripts/postgres-server.sh cannot say its server's URL (${(error as Error).message.split('\n')[0]})`;
  }
}
const SERVER_SKIP = await serverBackupsUnavailable();

describe('the next scheduled run (TZ=Europe/Berlin)', () => {
  let savedTz: string | undefined;
  before(() => {
    savedTz = process.env.TZ;
    process.env.TZ = 'Europe/Berlin';
  });
  after(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  const next = (schedule: string[], after: string) => nextScheduledRun(schedule, new Date(after))?.toISOString();

  test('the zone is in effect', () => {
    assert.equal(new Date(2026, 0, 15).getTimezoneOffset(), -60);
    assert.equal(new Date(2026, 6, 15).getTimezoneOffset(), -120);
  });

  test('one time a day: later today, else tomorrow; strictly after', () => {
    // 10:00 CET is 09:00Z; 03:30 CET is 02:30Z.
    assert.equal(next(['03:30'], '2026-12-07T09:00:00Z'), '2026-12-08T02:30:00.000Z');
    assert.equal(next(['03:30'], '2026-12-07T01:00:00Z'), '2026-12-07T02:30:00.000Z');
    assert.equal(next(['03:30'], '2026-12-07T02:30:00Z'), '2026-12-08T02:30:00.000Z', 'the time just served is not served again');
    assert.equal(next(['03:30'], '2026-12-07T02:29:59.999Z'), '2026-12-07T02:30:00.000Z');
  });

  test('several times a day, in order', () => {
    const schedule = ['03:30', '12:00', '21:15'];
    assert.equal(next(schedule, '2026-12-07T09:00:00Z'), '2026-12-07T11:00:00.000Z');
    assert.equal(next(schedule, '2026-12-07T11:00:00Z'), '2026-12-07T20:15:00.000Z');
    assert.equal(next(schedule, '2026-12-07T20:15:00Z'), '2026-12-08T02:30:00.000Z');
  });

  test('across midnight, the end of a month and of a year', () => {
    assert.equal(next(['00:00'], '2026-12-07T22:59:30Z'), '2026-12-07T23:00:00.000Z', 'midnight of the 8th, local');
    assert.equal(next(['00:05', '23:55'], '2026-11-30T22:56:00Z'), '2026-11-30T23:05:00.000Z', 'into December');
    assert.equal(next(['00:30'], '2026-12-31T23:00:00Z'), '2026-12-31T23:30:00.000Z', 'into 2027');
    assert.equal(next(['23:59'], '2026-12-31T22:59:00Z'), '2027-01-01T22:59:00.000Z', 'the time just passed: the next day');
  });

  test('spring forward (2027-03-28, 02:00 becomes 03:00): a time in the gap runs at 03:00, once', () => {
    // 00:00 CET on the day is 2027-03-27T23:00Z; 03:00 CEST is 01:00Z.
    assert.equal(next(['02:30'], '2027-03-27T23:00:00Z'), '2027-03-28T01:00:00.000Z');
    assert.equal(next(['02:30'], '2027-03-28T01:00:00Z'), '2027-03-29T00:30:00.000Z', 'then 02:30 CEST the day after');
    assert.equal(next(['02:00', '02:45', '03:00'], '2027-03-27T23:00:00Z'), '2027-03-28T01:00:00.000Z');
    assert.equal(next(['02:00', '02:45', '03:00'], '2027-03-28T01:00:00Z'), '2027-03-29T00:00:00.000Z', 'three times that fell on one moment run once');
    // A time after the gap is unaffected: 03:30 CEST is 01:30Z, 23 h after 03:30 CET the day before.
    assert.equal(next(['03:30'], '2027-03-27T03:00:00Z'), '2027-03-28T01:30:00.000Z');
  });

  test('fall back (2026-10-25, 03:00 becomes 02:00): a time that happens twice runs at the first', () => {
    // 02:30 CEST is 00:30Z; the second 02:30 (CET) would be 01:30Z.
    assert.equal(next(['02:30'], '2026-10-24T22:00:00Z'), '2026-10-25T00:30:00.000Z');
    assert.equal(next(['02:30'], '2026-10-25T00:30:00Z'), '2026-10-26T01:30:00.000Z', 'not again an hour later');
    // The day is 25 h long: 03:30 CEST on the 24th to 03:30 CET on the 25th.
    assert.equal(next(['03:30'], '2026-10-24T01:30:00Z'), '2026-10-25T02:30:00.000Z');
  });

  test('the allowed age: the largest gap, around midnight too, plus an hour; compared in wall-clock time', () => {
    assert.equal(largestGapMs(['03:30']), 24 * HOUR);
    assert.equal(largestGapMs(['03:30', '15:30']), 12 * HOUR);
    assert.equal(largestGapMs(['01:00', '02:00', '23:00']), 21 * HOUR);
    assert.equal(largestGapMs(['00:00', '23:00']), 23 * HOUR);
    assert.equal(largestGapMs(['03:30', '15:00']), 12.5 * HOUR);
    assert.equal(allowedAgeMs(['03:30']), 25 * HOUR);

    const now = new Date('2026-12-07T09:00:00Z');
    assert.equal(backupHealth([], null, now), 'off');
    assert.equal(backupHealth([], new Date(0), now), 'off', 'no schedule, no warning');
    assert.equal(backupHealth(['03:30'], null, now), 'none yet');
    assert.equal(backupHealth(['03:30'], new Date(now.getTime() - 24 * HOUR), now), 'ok');
    assert.equal(backupHealth(['03:30'], new Date(now.getTime() - 25 * HOUR), now), 'ok');
    assert.equal(backupHealth(['03:30'], new Date(now.getTime() - 25 * HOUR - 60_000), now), 'last good backup is 25 h old (policy: every 24 h)');
    assert.equal(backupHealth(['03:30', '15:00'], new Date(now.getTime() - 14 * HOUR), now), 'last good backup is 14 h old (policy: every 12 h 30 min)');
    assert.equal(backupHealth(['03:30', '15:30'], new Date(now.getTime() - 13.25 * HOUR), now), 'last good backup is 13 h old (policy: every 12 h)');
    assert.equal(backupHealth(['00:00', '01:00', '02:00'], new Date(now.getTime() - 23.25 * HOUR), now), 'last good backup is 23 h old (policy: every 22 h)');
    assert.equal(backupHealth(['00:00', '01:00', '02:00'], new Date(now.getTime() - 22.5 * HOUR), now), 'ok');
    // The night clocks go back: 03:30 CEST to 03:40 CET is 25 h 10 min, 24 h 10 min on the wall clock.
    assert.equal(backupHealth(['03:30'], new Date('2026-10-24T01:30:00Z'), new Date('2026-10-25T02:40:00Z')), 'ok');
    // The night they go forward the wall-clock age is the longer: 23 h 30 min real is 24 h 30 min.
    assert.equal(backupHealth(['03:30'], new Date('2027-03-27T02:30:00Z'), new Date('2027-03-28T02:00:00Z')), 'ok');
    assert.match(backupHealth(['03:30'], new Date('2027-03-27T02:30:00Z'), new Date('2027-03-28T02:31:00Z')), /^last good backup is 24 h old/);
  });

  test('a catch-up backup at start when waiting for the next time would leave the newest too old', () => {
    const at = (s: string) => new Date(s);
    assert.equal(needsCatchUp(['03:30'], null, at('2026-12-08T02:30:00Z')), true, 'none yet');
    assert.equal(needsCatchUp([], null, null), false, 'off');
    // Today's 03:30 made; restarted at 10:00: tomorrow's 03:30 is 24 h after it.
    assert.equal(needsCatchUp(['03:30'], at('2026-12-07T02:30:00Z'), at('2026-12-08T02:30:00Z')), false);
    // Down at today's 03:30: tomorrow's would come 48 h after yesterday's.
    assert.equal(needsCatchUp(['03:30'], at('2026-12-06T02:30:00Z'), at('2026-12-08T02:30:00Z')), true);
    assert.equal(describeSchedule(['03:30', '15:30'], '/b'), 'at 03:30, 15:30 daily into /b');
    assert.equal(describeSchedule([], '/b'), 'off');
  });
});

describe('the schedule in a running server', () => {
  let t: CliTestLake;
  let lake: Lake;
  // Twelve hours from now (local time, as the schedule is read): the next scheduled run is always
  // well after the one-hour catch-up. A fixed 03:30 made the first test fail from 02:30 to 03:30.
  const later = new Date(Date.now() + 12 * HOUR);
  const scheduled = `${String(later.getHours()).padStart(2, '0')}:${String(later.getMinutes()).padStart(2, '0')}`;

  before(async () => {
    t = await cliTestLake('lake-backup-schedule-', { settings: { LAKE_BACKUP_SCHEDULE: scheduled, ...(BACKEND === 'server' ? { LAKE_PGBACKREST: PGBACKREST } : {}) } });
    lake = await Lake.open(loadConfig(t.env));
  });
  after(async () => {
    await lake?.close();
    await t?.dispose();
  });

  /** The same lake with its backups elsewhere: the setting is all that differs. */
  function withBackupDir(backupDir: string): Lake {
    return Object.create(lake, { config: { value: { ...lake.config, backupDir } } }) as Lake;
  }

  async function getJson(url: string): Promise<{ status: number; body: any }> {
    const response = await fetch(url);
    return { status: response.status, body: await response.json() };
  }

  async function metricsText(url: string): Promise<string> {
    return (await fetch(`${url}/metrics`)).text();
  }

  function metric(text: string, name: string): number | undefined {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  }

  const oldStart = new Date(Date.now() - 72 * HOUR);

  test('an old backup only: readiness stays 200 and warns; the timestamp is that backup\'s; a catch-up is planned', { skip: SERVER_SKIP }, async () => {
    const { manifest } = await backupAndPrune(lake, { now: oldStart, prune: false });
    assert.equal(manifest.startedAt, oldStart.toISOString());
    const app = await buildServer(lake, { logLevel: false, backups: { catchUpDelayMs: HOUR } });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const started = await app.backups!.start();
      assert.ok(started.catchUpAt && started.next, `a catch-up before the next ${scheduled}`);
      assert.ok(started.catchUpAt.getTime() - Date.now() > HOUR - 60_000 && started.catchUpAt < started.next!);
      const ready = await getJson(`${url}/health/ready`);
      assert.equal(ready.status, 200);
      assert.equal(ready.body.status, 'ready');
      assert.equal(ready.body.backup, 'last good backup is 72 h old (policy: every 24 h)');
      const text = await metricsText(url);
      assert.equal(metric(text, 'lake_backup_last_success_timestamp_seconds'), oldStart.getTime() / 1000);
      assert.equal(metric(text, 'lake_backup_failures_total'), 0);
      assert.equal(metric(text, 'lake_backup_running'), 0);
      assert.equal(metric(text, 'lake_backup_last_duration_seconds'), 0, 'no backup made by this server yet');
      assert.equal(metric(text, 'lake_backup_last_size_bytes'), 0);
    } finally {
      await app.close();
    }
  });

  test('the catch-up backup runs: it is in the repository, in /metrics, and readiness says ok; one run at a time', { skip: SERVER_SKIP }, async () => {
    const app = await buildServer(lake, { logLevel: false, backups: { catchUpDelayMs: 20 } });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const before = Date.now();
      const started = await app.backups!.start();
      assert.ok(started.catchUpAt, 'the newest backup is 72 h old: a catch-up');
      const status = await waitUntil(
        () => app.backups!.status,
        (s) => s.lastSuccess !== null && s.lastSuccess > oldStart && !s.running && s.next !== null,
      );
      assert.ok(status.lastSuccess! > oldStart, 'the catch-up backup completed');
      assert.equal(status.failures, 0, String(status.lastError));
      assert.equal(status.next?.getTime(), nextScheduledRun([scheduled], new Date())!.getTime(), `then the next ${scheduled}`);

      const repository = await BackupRepository.open(lake.config);
      const listed = await repository.list();
      const newest = listed.at(-1)!;
      assert.equal(new Date(newest.manifest.startedAt).getTime(), status.lastSuccess!.getTime());
      assert.ok(existsSync(path.join(lake.config.backupDir, 'sets', newest.id, 'manifest.json')));

      const text = await metricsText(url);
      const timestamp = metric(text, 'lake_backup_last_success_timestamp_seconds')!;
      assert.ok(timestamp * 1000 >= before - 1000 && timestamp * 1000 <= Date.now(), `timestamp ${timestamp} within the test`);
      const duration = metric(text, 'lake_backup_last_duration_seconds')!;
      assert.ok(duration > 0 && duration < 600, `duration ${duration}`);
      const database = newest.manifest.database;
      assert.equal(database.kind, BACKEND === 'server' ? 'pgbackrest' : 'pglite-files');
      const databaseBytes = database.kind === 'pglite-files' ? database.addedBytes : database.repositoryBytes;
      assert.ok(databaseBytes > 0);
      assert.equal(metric(text, 'lake_backup_last_size_bytes'), databaseBytes + newest.manifest.blobs.addedBytes);
      assert.equal(metric(text, 'lake_backup_running'), 0);
      assert.equal(metric(text, 'lake_backup_failures_total'), 0);
      assert.match(text, /# TYPE lake_backup_failures_total counter/);

      const ready = await getJson(`${url}/health/ready`);
      assert.deepEqual([ready.status, ready.body.status, ready.body.backup], [200, 'ready', 'ok']);

      // Two asks while one runs: one backup.
      const first = app.backups!.runNow();
      assert.equal(app.backups!.status.running, true);
      assert.equal(app.backups!.runNow(), first, 'the running backup is the answer');
      const result = await first;
      assert.ok(result);
      const after = await repository.list();
      assert.equal(after.filter((b) => !listed.some((l) => l.id === b.id)).length, 1, 'one new backup');
      // Retention (7 daily): the old one stays, today's earlier backup gives way to the newer.
      assert.deepEqual(
        after.map((b) => b.id),
        [listed[0]!.id, result.manifest.id],
      );
    } finally {
      await app.close();
    }
  });

  test('a failing backup is counted and logged, the next time still comes, and the server keeps serving', async () => {
    const notADirectory = path.join(t.dir, 'backups-is-a-file');
    await writeFile(notADirectory, 'not a directory\n');
    const messages: string[] = [];
    const stop = new AbortController();
    let listening!: (url: string) => void;
    const url = new Promise<string>((resolve) => (listening = resolve));
    let announced: { description: string; catchUpAt: Date | null } | undefined;
    const done = serve(withBackupDir(notADirectory), {
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 60_000,
      stop: stop.signal,
      logLevel: false,
      backups: { catchUpDelayMs: 20, log: (level, message) => messages.push(`${level}: ${message}`) },
      onListening: listening,
      onBackups: (started) => (announced = started),
    });
    try {
      const base = await url;
      const text = await waitUntil(
        () => metricsText(base),
        (m) => metric(m, 'lake_backup_failures_total') === 1 && metric(m, 'lake_backup_running') === 0,
      );
      assert.equal(metric(text, 'lake_backup_failures_total'), 1);
      assert.equal(metric(text, 'lake_backup_last_success_timestamp_seconds'), 0, 'none');
      assert.equal(announced?.description, `at ${scheduled} daily into ${notADirectory}`);
      assert.ok(announced?.catchUpAt, 'no backup yet: a catch-up');
      assert.ok(messages.some((m) => new RegExp(`^error: scheduled backup failed; the next at \\d{4}-\\d\\d-\\d\\d ${scheduled}$`).test(m)), messages.join('\n'));
      const ready = await getJson(`${base}/health/ready`);
      assert.deepEqual([ready.status, ready.body.status, ready.body.database, ready.body.backup], [200, 'ready', 'ok', 'none yet']);
      assert.equal((await fetch(`${base}/health/live`)).status, 200);
      assert.equal((await fetch(`${base}/v1/timeline`)).status, 401, 'the API answers');
    } finally {
      stop.abort();
      await done;
    }
  });

  test('shutdown waits for a running backup; it completes', { skip: SERVER_SKIP }, async () => {
    const backupDir = path.join(t.dir, 'backups-at-shutdown');
    const sets = path.join(backupDir, 'sets');
    const stop = new AbortController();
    const events: string[] = [];
    const done = serve(withBackupDir(backupDir), {
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 60_000,
      stop: stop.signal,
      logLevel: false,
      backups: { catchUpDelayMs: 0 },
      onShutdown: (event) => events.push(event),
    });
    // The catch-up has begun once its partial directory is there.
    const names = await waitUntil(
      () => readdir(sets).catch(() => [] as string[]),
      (n) => n.length > 0,
      { intervalMs: 5 },
    );
    // Copying and compressing the database takes seconds, the poll 5 ms: it is seen running.
    assert.ok(names.some((n) => n.endsWith('.partial')), `running: ${names.join(', ')}`);
    stop.abort();
    await done;
    const listed = await (await BackupRepository.open({ backupDir, backupKeyFile: undefined })).list();
    assert.equal(listed.length, 1, 'the backup running at the stop signal completed');
    assert.deepEqual(await readdir(sets), [listed[0]!.id], 'no partial left');
    assert.ok(events.includes('waiting-for-backup'), events.join(', '));
  });
});
