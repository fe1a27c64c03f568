// An import job that takes the server down is not run again at every start. Each start is counted
// when the runner claims the job, committed before the import begins; a starting server that finds
// a job its dead process was running queues it again below MAX_JOB_ATTEMPTS starts, and fails it at
// that count, saying why, without starting it; a retry by its user runs it once more. Both
// backends, in one process: the rows are left as a server killed mid-job leaves them (status
// running, the dead process as runner, the starts it counted), then a server starts on them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { crashLoopError, MAX_JOB_ATTEMPTS } from '../src/api/jobs/crash-loop.js';
import { thisRunner, type JobRunnerIdentity } from '../src/ingest/job-liveness.js';
import { createApiKey } from '../src/query/api-keys.js';
import { requeueJob } from '../src/query/jobs.js';
import { createUser } from '../src/query/users.js';
import { get, startTestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';
import { waitUntil } from './support/wait.js';

let t: TestLake;
let userId: string;
let key: string;
/** The runner a killed server leaves in its job rows: this machine, a pid no process has. */
const dead: JobRunnerIdentity = { ...thisRunner(), pid: 2 ** 22 + 3 };

before(async () => {
  t = await openTestLake();
  userId = (await createUser(t.lake.db, 'crashes')).userId;
  key = (await createApiKey(t.lake.db, 'crashes')).key;
});
after(() => t?.dispose());

/** An upload job as a server killed while running it leaves it, started `attempts` times. Its upload is not there: a run fails saying so. */
async function crashedJob(attempts: number): Promise<string> {
  const uploadId = randomUUID();
  const r = await t.lake.db.asUser(userId, (tx) =>
    tx.query<{ job_id: string }>(
      `INSERT INTO imports.jobs (user_id, status, upload_id, inputs, options, started_at, runner, heartbeat_at, attempts)
       VALUES ($1, 'running', $2, '["takeout.zip"]', $3, now(), $4, now(), $5) RETURNING job_id`,
      [userId, uploadId, { uploadIds: [uploadId] }, dead, attempts],
    ),
  );
  return r.rows[0]!.job_id;
}

/** The server was killed again while running the job: its row as that leaves it. */
async function crashAgain(jobId: string): Promise<void> {
  await t.lake.db.asUser(userId, (tx) =>
    tx.query(`UPDATE imports.jobs SET status = 'running', runner = $2, error = NULL, finished_at = NULL WHERE job_id = $1`, [jobId, dead]),
  );
}

const stored = (jobId: string) =>
  t.lake.db
    .asUser(userId, (tx) => tx.query<{ status: string; attempts: number; error: string | null }>(`SELECT status, attempts, error FROM imports.jobs WHERE job_id = $1`, [jobId]))
    .then((r) => r.rows[0]!);

/** Start a server on the rows as they are, wait until `jobId` is failed, stop it. */
async function startServerUntilFailed(jobId: string): Promise<void> {
  const server = await startTestServer(t.lake);
  try {
    await waitUntil(() => stored(jobId), (job) => job.status === 'failed', { intervalMs: 50 });
  } finally {
    await server.close();
  }
}

test(`a job a dead server was running is run again below ${MAX_JOB_ATTEMPTS} starts, failed at ${MAX_JOB_ATTEMPTS} without being started`, async () => {
  assert.equal(MAX_JOB_ATTEMPTS, 3);
  const job = await crashedJob(1);
  const gone = (await stored(job)).error;
  assert.equal(gone, null);

  // Crashes 1 and 2: queued again and started (one start more each); the run fails on the missing upload.
  for (const expected of [2, 3]) {
    await startServerUntilFailed(job);
    const run = await stored(job);
    assert.equal(run.attempts, expected, 'started once more');
    assert.match(run.error ?? '', /^upload [0-9a-f-]+ is gone: /, 'the import itself ran');
    await crashAgain(job);
  }

  // Started 3 times, the server gone the last time: failed at start, not started (attempts stays 3).
  await startServerUntilFailed(job);
  assert.deepEqual(await stored(job), { status: 'failed', attempts: 3, error: crashLoopError(3) });
  assert.equal(
    crashLoopError(3),
    'the server stopped 3 times while running this import, the last time without shutting down (a crash, running out of memory, or a kill): ' +
      'it is not started again by itself; retry it to run it once more',
  );

  // A server starting again leaves it failed; the API shows why.
  const server = await startTestServer(t.lake);
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await stored(job), { status: 'failed', attempts: 3, error: crashLoopError(3) });
    const shown = await get(server, `/v1/jobs/${job}`, key);
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.body.status, 'failed');
    assert.equal(shown.body.attempts, 3);
    assert.equal(shown.body.error, crashLoopError(3));
  } finally {
    await server.close();
  }

  // Its user's retry (what POST /v1/jobs/{id}/retry does with a verified upload) runs it once more: a fourth start.
  assert.equal(await t.lake.db.asUser(userId, (tx) => requeueJob(tx, { job_id: job, runner: null }, false)), true);
  await startServerUntilFailed(job);
  const again = await stored(job);
  assert.equal(again.attempts, 4);
  assert.match(again.error ?? '', /^upload [0-9a-f-]+ is gone: /);
});

test('jobs over the limit fail each on its own; one below it and one queued run', async () => {
  const over = await crashedJob(5);
  const atLimit = await crashedJob(3);
  const below = await crashedJob(0);
  const queued = await t.lake.db.asUser(userId, async (tx) => {
    const uploadId = randomUUID();
    const r = await tx.query<{ job_id: string }>(
      `INSERT INTO imports.jobs (user_id, status, upload_id, inputs, options, attempts) VALUES ($1, 'queued', $2, '["a.zip"]', $3, 7) RETURNING job_id`,
      [userId, uploadId, { uploadIds: [uploadId] }],
    );
    return r.rows[0]!.job_id;
  });
  const server = await startTestServer(t.lake);
  try {
    for (const job of [over, atLimit, below, queued]) await waitUntil(() => stored(job), (row) => row.status === 'failed', { intervalMs: 50 });
  } finally {
    await server.close();
  }
  assert.deepEqual(await stored(over), { status: 'failed', attempts: 5, error: crashLoopError(5) });
  assert.deepEqual(await stored(atLimit), { status: 'failed', attempts: 3, error: crashLoopError(3) });
  const ran = await stored(below);
  assert.equal(ran.attempts, 1);
  assert.match(ran.error ?? '', /^upload [0-9a-f-]+ is gone: /);
  // A job put back to 'queued' by a shutdown did not crash the server: it is run whatever its count.
  const q = await stored(queued);
  assert.equal(q.attempts, 8);
  assert.match(q.error ?? '', /^upload [0-9a-f-]+ is gone: /);
});
