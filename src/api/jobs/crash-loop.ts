// A job whose import takes the server down (out of memory, a crash in a parser) must not take it
// down again at every start. Each start of a job is counted (imports.jobs.attempts, one more when
// the runner claims it, committed before the import begins: query/jobs.ts claimQueuedJob), so a
// crash cannot lose the count. A starting server that finds a job its dead process was running
// (jobState 'interrupted') queues it again only while it has been started fewer than
// MAX_JOB_ATTEMPTS times; at that count the job is failed, saying so, and only a retry by its user
// (POST /v1/jobs/{id}/retry) runs it again, once more.
import type { Queryable } from '../../db/database.js';
import type { JobLivenessRow } from '../../ingest/receive/ledger.js';

/** Starts of a job after which a server that died running it does not start it again by itself. */
export const MAX_JOB_ATTEMPTS = 3;

/** The error of a job failed by failCrashLoopJob; `{n}` is its count of starts. No server path: the user reads it. */
const CRASH_LOOP_ERROR =
  'the server stopped {n} times while running this import, the last time without shutting down (a crash, running out of memory, or a kill): ' +
  'it is not started again by itself; retry it to run it once more';

/** The error failCrashLoopJob leaves on a job started `attempts` times. */
export function crashLoopError(attempts: number): string {
  return CRASH_LOOP_ERROR.replaceAll('{n}', String(attempts));
}

/**
 * Fail a job a dead process was running (a row from waitingJobs, seen interrupted) when it has
 * been started `maxAttempts` times or more, unless the row changed since it was read. Its count of
 * starts when it was failed, else null (queue it again).
 */
export async function failCrashLoopJob(tx: Queryable, row: JobLivenessRow, maxAttempts = MAX_JOB_ATTEMPTS): Promise<number | null> {
  const failed = await tx.query<{ attempts: number }>(
    `UPDATE imports.jobs SET status = 'failed', error = replace($4, '{n}', attempts::text), finished_at = now()
      WHERE job_id = $1 AND status = $2 AND runner IS NOT DISTINCT FROM $3::jsonb AND attempts >= $5
      RETURNING attempts`,
    [row.job_id, row.status, row.runner === null ? null : JSON.stringify(row.runner), CRASH_LOOP_ERROR, maxAttempts],
  );
  return failed.rows[0]?.attempts ?? null;
}
