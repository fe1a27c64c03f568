// Jobs name the process that runs them: a server starting up takes back only the upload jobs whose
// process is gone (a crash), leaves alone those a live process runs, and GET /v1/jobs shows a
// `lake import` job whose process is gone as interrupted. Both backends, in one process: the
// runners are written into the rows as a dead or a live process would have.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { thisRunner, type JobRunnerIdentity } from '../src/ingest/job-liveness.js';
import { get, startTestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';
import { waitUntil } from './support/wait.js';

let t: TestLake;
let userId: string;
let key: string;

before(async () => {
  t = await openTestLake();
  userId = (await createUser(t.lake.db, 'runners')).userId;
  key = (await createApiKey(t.lake.db, 'runners')).key;
});
after(() => t?.dispose());

async function insertRunningJob(runner: JobRunnerIdentity, fromUpload: boolean): Promise<string> {
  const uploadId = fromUpload ? randomUUID() : null;
  const r = await t.lake.db.asUser(userId, (tx) =>
    tx.query<{ job_id: string }>(
      `INSERT INTO imports.jobs (user_id, status, upload_id, inputs, options, started_at, runner, heartbeat_at)
       VALUES ($1, 'running', $2, '["Records.json"]', $3, now(), $4, now()) RETURNING job_id`,
      [userId, uploadId, fromUpload ? { uploadIds: [uploadId] } : { paths: ['/nowhere/Records.json'] }, runner],
    ),
  );
  return r.rows[0]!.job_id;
}

const stored = (jobId: string) =>
  t.lake.db.asUser(userId, (tx) => tx.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM imports.jobs WHERE job_id = $1`, [jobId])).then((r) => r.rows[0]!);

test('a starting server requeues the upload job of a dead process only; a dead `lake import` job is shown interrupted', async () => {
  const dead: JobRunnerIdentity = { ...thisRunner(), pid: 2 ** 22 + 1 };
  const crashed = await insertRunningJob(dead, true);
  const live = await insertRunningJob(thisRunner(), true);
  const killedImport = await insertRunningJob(dead, false);

  const server = await startTestServer(t.lake);
  try {
    // The crashed job is claimed again and run (its upload never existed here: it fails saying so).
    await waitUntil(() => stored(crashed), (job) => job.status === 'failed', { intervalMs: 100 });
    assert.deepEqual(await stored(crashed), { status: 'failed', attempts: 1 });
    assert.deepEqual(await stored(live), { status: 'running', attempts: 0 }, 'a job a live process runs is left to it');
    assert.deepEqual(await stored(killedImport), { status: 'running', attempts: 0 }, 'a lake import job waits for its command');

    const jobs = await get(server, '/v1/jobs', key);
    assert.equal(jobs.status, 200, jobs.text);
    const status = Object.fromEntries((jobs.body.jobs as { job_id: string; status: string }[]).map((j) => [j.job_id, j.status]));
    assert.deepEqual(status, { [crashed]: 'failed', [live]: 'running', [killedImport]: 'interrupted' });
    const one = await get(server, `/v1/jobs/${killedImport}`, key);
    assert.equal(one.body.status, 'interrupted');
    const report = await get(server, `/v1/jobs/${killedImport}/report`, key);
    assert.equal(report.body.status, 'interrupted');
    const openapi = await get(server, '/openapi.json');
    assert.match(JSON.stringify(openapi.body.paths['/v1/jobs'].get.responses['200']), /"interrupted"/, 'the status is in the documented schema');
  } finally {
    await server.close();
  }
});
