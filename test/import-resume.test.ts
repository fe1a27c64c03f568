// An import killed with SIGKILL in the middle of a file, then run again with the same command,
// ends with exactly the rows (same count, same content hashes) that an uninterrupted import gives.
// Real processes: the `lake` command is started, killed and restarted as a user would.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { cliTestLake, lakeImport, type CliTestLake, type LakeImportRun } from './support/lake-cli.js';
import { writeRecordsJson } from './support/exports.js';

/**
 * Enough that an import outlasts the one-second interval of --json progress events on a fast
 * machine (the kill waits for one reporting two batches): 30,000 points once finished first.
 */
const POINTS = 200_000;

let cli: CliTestLake;
let records: string;
let env: Record<string, string>;

before(async () => {
  cli = await cliTestLake('lake-resume-');
  env = cli.env;
  records = path.join(cli.dir, 'Records.json');
  await writeRecordsJson(records, POINTS, { year: 2018, latE7: 520000000, lonE7: 133000000 });
});

after(() => cli?.dispose());

/** Run `lake import`; with `killAfter`, SIGKILL it once a progress event reports that many records. */
function lakeImportAs(user: string, killAfter?: number, file = records, nodeFlags: string[] = []): Promise<LakeImportRun> {
  return lakeImport({ env, inputs: [file], user, batchSize: 500, killAfterRecords: killAfter, nodeFlags });
}

test('SIGKILL mid-file, then the same command again: the rows of an uninterrupted run, none lost, none doubled', async () => {
  // Killed once two batches are reported: a server loads two at once and either may commit first,
  // but by then the first one's checkpoint is committed whatever the machine's load.
  const killed = await lakeImportAs('resumed', 1000);
  assert.equal(killed.signal, 'SIGKILL', `the import finished before it could be killed: ${killed.stdout.slice(0, 200)}`);

  const resumed = await lakeImportAs('resumed');
  assert.equal(resumed.code, 0);
  const report = JSON.parse(resumed.stdout) as { files: { resumedFrom: number; records: number; duplicates: number; status: string }[] };
  const file = report.files[0]!;
  assert.equal(file.status, 'done');
  assert.ok(file.resumedFrom >= 500 && file.resumedFrom < POINTS, `resumed after ${file.resumedFrom} records`);
  // Only the batches loading at the kill (two at most on a server, one on PGlite) and the one
  // whose checkpoint lags behind them are re-read; their rows were either committed (they come
  // back as duplicates) or rolled back with their checkpoint (they load now).
  assert.equal(file.resumedFrom + file.records + file.duplicates, POINTS);
  assert.ok(file.duplicates <= 1500, `at most three batches re-read, got ${file.duplicates}`);

  const whole = await lakeImportAs('whole');
  assert.equal(whole.code, 0);

  const lake = await Lake.open(loadConfig(env), { migrate: false });
  try {
    const rows = await lake.db.query<{ name: string; points: number; hashes: string; files_loading: number }>(
      `SELECT u.name, count(p.*)::int AS points,
              md5(string_agg(encode(p.content_hash, 'hex') || p.recorded_at::text || p.lat::text || p.lon::text, ',' ORDER BY p.content_hash)) AS hashes,
              (SELECT count(*) FROM imports.files f WHERE f.user_id = u.user_id AND f.status = 'loading')::int AS files_loading
         FROM user_data.users u JOIN timeseries.location_points p ON p.user_id = u.user_id
        GROUP BY u.user_id, u.name ORDER BY u.name`,
    );
    const [resumedRow, wholeRow] = rows.rows;
    assert.equal(resumedRow!.name, 'resumed');
    assert.equal(resumedRow!.points, POINTS);
    assert.equal(wholeRow!.points, POINTS);
    assert.equal(resumedRow!.hashes, wholeRow!.hashes);
    assert.equal(resumedRow!.files_loading, 0);
  } finally {
    await lake.close();
  }
});

test('the import keeps within a 128 MB heap (PGlite itself takes about 70 MB of it)', async () => {
  const big = path.join(cli.dir, 'big', 'Records.json');
  const { mkdir, open } = await import('node:fs/promises');
  await mkdir(path.dirname(big));
  const handle = await open(big, 'w');
  await handle.write('{"locations":[');
  const total = 200_000; // about 25 MB
  for (let start = 0; start < total; start += 10_000) {
    const chunk = Array.from({ length: 10_000 }, (_, k) => {
      const i = start + k;
      return `${i === 0 ? '' : ','}{"timestampMs":"${Date.UTC(2015, 0, 1) + i * 20_000}","latitudeE7":${480000000 + (i % 9000) * 50},"longitudeE7":${20000000 + (i % 7000) * 50},"accuracy":${i % 50},"source":"GPS","deviceTag":123456}`;
    });
    await handle.write(chunk.join('\n'));
  }
  await handle.write(']}');
  await handle.close();
  const run = await lakeImportAs('bounded', undefined, big, ['--max-old-space-size=128']);
  assert.equal(run.code, 0, run.stdout.slice(0, 500));
  const report = JSON.parse(run.stdout) as { files: { records: number; status: string }[] };
  assert.deepEqual([report.files[0]!.status, report.files[0]!.records], ['done', total]);
});
