// A `lake import` killed with SIGKILL leaves a job whose process is gone: GET /v1/jobs shows it
// `interrupted`, and the same command run again takes that job over, resumes its file after the
// last committed batch and ends it `done`, with the rows of an uninterrupted import.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createApiKey } from '../src/query/api-keys.js';
import { loadConfig } from '../src/config/config.js';
import { isRunnerGone, STALE_AFTER_MS, thisRunner } from '../src/ingest/job-liveness.js';
import { Lake } from '../src/lake.js';
import { get, startTestServer } from './support/api.js';
import { cliTestLake, lakeImport, type CliTestLake, type LakeImportRun } from './support/lake-cli.js';
import { writeRecordsJson } from './support/exports.js';

const POINTS = 30_000;

let cli: CliTestLake;
let records: string;
let env: Record<string, string>;

before(async () => {
  cli = await cliTestLake('lake-interrupted-');
  env = cli.env;
  records = path.join(cli.dir, 'Records.json');
  await writeRecordsJson(records, POINTS, { year: 2019, latE7: 480000000, lonE7: 110000000 });
});

after(() => cli?.dispose());

function importAs(user: string, killAfterRecords?: number): Promise<LakeImportRun> {
  return lakeImport({ env, inputs: [records], user, batchSize: 500, killAfterRecords });
}

/** GET /v1/jobs as `user`, through a server on the lake the commands use (opened only while no command runs). */
async function jobsOf(user: string): Promise<{ job_id: string; status: string; attempts: number; progress: { records: number } }[]> {
  const lake = await Lake.open(loadConfig(env), { migrate: false });
  try {
    const key = await createApiKey(lake.db, user, 'test');
    const server = await startTestServer(lake);
    try {
      const reply = await get(server, '/v1/jobs', key.key);
      assert.equal(reply.status, 200, reply.text);
      return reply.body.jobs;
    } finally {
      await server.close();
    }
  } finally {
    await lake.close();
  }
}

test('a killed import is interrupted, then taken over and resumed by the same command: one job, done, the rows of an uninterrupted run', async () => {
  const killed = await importAs('resumed', 1);
  assert.equal(killed.signal, 'SIGKILL', `the import finished before it could be killed: ${killed.stdout.slice(0, 200)}`);

  const [interrupted, ...others] = await jobsOf('resumed');
  assert.equal(others.length, 0);
  assert.equal(interrupted!.status, 'interrupted');
  assert.ok(interrupted!.progress.records >= 500, `committed before the kill: ${interrupted!.progress.records}`);

  const resumed = await importAs('resumed');
  assert.equal(resumed.code, 0, resumed.stderr.join('\n'));
  const report = JSON.parse(resumed.stdout) as {
    jobId: string;
    resumedInterrupted: boolean;
    status: string;
    files: { resumedFrom: number; records: number; duplicates: number; status: string }[];
  };
  assert.equal(report.jobId, interrupted!.job_id);
  assert.equal(report.resumedInterrupted, true);
  const said = resumed.stderr.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { event: string; jobId?: string });
  assert.deepEqual(said.find((e) => e.event === 'resumed')?.jobId, interrupted!.job_id);
  const file = report.files[0]!;
  assert.equal(file.status, 'done');
  assert.ok(file.resumedFrom >= 500 && file.resumedFrom < POINTS, `resumed after ${file.resumedFrom} records`);
  assert.equal(file.resumedFrom + file.records + file.duplicates, POINTS);

  const [done, ...more] = await jobsOf('resumed');
  assert.equal(more.length, 0, 'the resumed run filled the interrupted job, no second job');
  assert.deepEqual([done!.job_id, done!.status, done!.attempts], [interrupted!.job_id, 'done', 2]);
  assert.equal(done!.progress.records, POINTS);

  // The same command once more is a new job (nothing was interrupted), all duplicates.
  const again = await importAs('resumed');
  assert.equal(again.code, 0);
  assert.notEqual((JSON.parse(again.stdout) as { jobId: string }).jobId, interrupted!.job_id);

  const whole = await importAs('whole');
  assert.equal(whole.code, 0);
  const lake = await Lake.open(loadConfig(env), { migrate: false });
  try {
    const rows = await lake.db.query<{ name: string; points: number; hashes: string; running: number }>(
      `SELECT u.name, count(p.*)::int AS points,
              md5(string_agg(encode(p.content_hash, 'hex') || p.recorded_at::text || p.lat::text || p.lon::text, ',' ORDER BY p.content_hash)) AS hashes,
              (SELECT count(*) FROM imports.jobs j WHERE j.user_id = u.user_id AND j.status IN ('running', 'interrupted'))::int AS running
         FROM user_data.users u JOIN timeseries.location_points p ON p.user_id = u.user_id
        GROUP BY u.user_id, u.name ORDER BY u.name`,
    );
    const [resumedRow, wholeRow] = rows.rows;
    assert.deepEqual([resumedRow!.name, resumedRow!.points, resumedRow!.running], ['resumed', POINTS, 0]);
    assert.equal(wholeRow!.points, POINTS);
    assert.equal(resumedRow!.hashes, wholeRow!.hashes);
  } finally {
    await lake.close();
  }
});

test('a runner is gone when its process is (this machine), or when its heartbeat is stale (another machine)', () => {
  const me = thisRunner();
  assert.equal(isRunnerGone(me, 10 * STALE_AFTER_MS), false, 'this process runs: alive whatever its heartbeat');
  assert.equal(isRunnerGone({ ...me, started: (me.started ?? 0) + 1 }, 0), me.started !== null, 'the same pid started at another time is another process');
  assert.equal(isRunnerGone({ ...me, pid: 2 ** 22 + 1 }, 0), true, 'no such pid');
  const elsewhere = { ...me, machine: `${me.machine}-other` };
  assert.equal(isRunnerGone(elsewhere, STALE_AFTER_MS - 1000), false);
  assert.equal(isRunnerGone(elsewhere, STALE_AFTER_MS + 1000), true);
  assert.equal(isRunnerGone(null, null), true, 'a row from before runners were recorded, never beating');
});
