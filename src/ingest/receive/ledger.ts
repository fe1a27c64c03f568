// The import ledger in the `imports` schema: jobs, and one file row per entry of the export,
// all written as the importing user (row-level security applies to the ledger too).
import type { Database, Transaction } from '../../db/database.js';
import { retryTransient } from '../../db/retry.js';
import { isRunnerGone, type JobRunnerIdentity } from '../job-liveness.js';
import type { RepairCounts } from '../records.js';
import type { FileStatus } from '../report.js';

export async function createJob(
  db: Database,
  userId: string,
  inputs: readonly string[],
  options: Record<string, unknown>,
  runner: JobRunnerIdentity,
): Promise<string> {
  const r = await asUser(db, userId, (tx) =>
    tx.query<{ job_id: string }>(
      `INSERT INTO imports.jobs (user_id, status, inputs, options, started_at, runner, heartbeat_at, attempts)
       VALUES ($1, 'running', $2, $3, now(), $4, now(), 1) RETURNING job_id`,
      [userId, JSON.stringify(inputs), options, runner],
    ),
  );
  return r.rows[0]!.job_id;
}

/** A job row as liveness needs it: its runner and how old its heartbeat is by the database's clock. */
export interface JobLivenessRow {
  job_id: string;
  status: string;
  runner: JobRunnerIdentity | null;
  heartbeat_age_ms: number | null;
}

/** SQL for JobLivenessRow's last two columns, over imports.jobs aliased `j`. */
export const JOB_LIVENESS_COLUMNS = `j.runner, (extract(epoch FROM now() - coalesce(j.heartbeat_at, j.started_at)) * 1000)::float8 AS heartbeat_age_ms`;

/** `interrupted` for a running job whose process is gone (job-liveness.ts), else the stored status. */
export function jobState<S extends string>(row: { status: S; runner: JobRunnerIdentity | null; heartbeat_age_ms: number | null }): S | 'interrupted' {
  return row.status === 'running' && isRunnerGone(row.runner, row.heartbeat_age_ms) ? 'interrupted' : row.status;
}

/**
 * Mark this user's `lake import` jobs whose process is gone `interrupted`, then take over the
 * newest interrupted one of the same import (`paths`: its inputs resolved and sorted) for this
 * run: it is `running` again under this process, one attempt more. Returns its id, or null. The
 * takeover only succeeds while the row still names the dead runner, so two runs started at once
 * cannot both take the same job.
 */
export async function takeOverInterruptedJob(
  db: Database,
  userId: string,
  paths: readonly string[],
  options: Record<string, unknown>,
  runner: JobRunnerIdentity,
): Promise<{ jobId: string; startedAt: Date } | null> {
  return asUser(db, userId, async (tx) => {
    const running = await tx.query<JobLivenessRow>(
      `SELECT j.job_id, j.status, ${JOB_LIVENESS_COLUMNS} FROM imports.jobs j WHERE j.status = 'running' AND j.upload_id IS NULL`,
    );
    for (const row of running.rows.filter((r) => jobState(r) === 'interrupted')) {
      await tx.query(`UPDATE imports.jobs SET status = 'interrupted' WHERE job_id = $1 AND status = 'running' AND runner IS NOT DISTINCT FROM $2::jsonb`, [
        row.job_id,
        row.runner === null ? null : JSON.stringify(row.runner),
      ]);
    }
    const taken = await tx.query<{ job_id: string; started_at: Date }>(
      `UPDATE imports.jobs SET status = 'running', runner = $2, heartbeat_at = now(), attempts = attempts + 1, options = options || $3,
              error = NULL, finished_at = NULL
        WHERE job_id = (SELECT job_id FROM imports.jobs WHERE status = 'interrupted' AND upload_id IS NULL AND options->'paths' = $1::jsonb
                         ORDER BY created_at DESC LIMIT 1)
          AND status = 'interrupted'
        RETURNING job_id, started_at`,
      [JSON.stringify(paths), runner, options],
    );
    const row = taken.rows[0];
    return row ? { jobId: row.job_id, startedAt: row.started_at } : null;
  });
}

/** A job this process starts running (one made by the API): its runner is recorded and its heartbeat begins. */
export async function claimJob(db: Database, userId: string, jobId: string, runner: JobRunnerIdentity): Promise<void> {
  await asUser(db, userId, (tx) => tx.query(`UPDATE imports.jobs SET runner = $2, heartbeat_at = now() WHERE job_id = $1`, [jobId, runner]));
}

/** The heartbeat of a job this process runs (job-liveness.ts). */
export async function beatJob(db: Database, userId: string, jobId: string, runner: JobRunnerIdentity): Promise<void> {
  await asUser(db, userId, (tx) =>
    tx.query(`UPDATE imports.jobs SET heartbeat_at = now() WHERE job_id = $1 AND status = 'running' AND runner = $2::jsonb`, [jobId, JSON.stringify(runner)]),
  );
}

export async function finishJob(
  db: Database,
  userId: string,
  jobId: string,
  status: 'done' | 'partial' | 'failed',
  totals: Record<string, unknown>,
  error: string | null,
): Promise<void> {
  await asUser(db, userId, (tx) =>
    tx.query(`UPDATE imports.jobs SET status = $3, totals = $4, error = $5, finished_at = now() WHERE user_id = $1 AND job_id = $2`, [
      userId,
      jobId,
      status,
      totals,
      error,
    ]),
  );
}

export interface NewFile {
  path: string;
  archive: string | null;
  size: number | null;
  headSha256: Buffer | null;
  mimeType: string | null;
  mimeFromName: string | null;
  format: string | null;
  status: FileStatus | 'loading';
  note?: string | null;
}

export async function createFile(db: Database, userId: string, jobId: string, file: NewFile): Promise<string> {
  const r = await asUser(db, userId, (tx) =>
    tx.query<{ file_id: string }>(
      `INSERT INTO imports.files (user_id, job_id, path, archive, size_bytes, head_sha256, mime_type, mime_from_name,
                                  detected_format, status, note, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now()) RETURNING file_id`,
      [userId, jobId, file.path, file.archive, file.size, file.headSha256, file.mimeType, file.mimeFromName, file.format, file.status, file.note ?? null],
    ),
  );
  return r.rows[0]!.file_id;
}

/**
 * A file an earlier, interrupted run left in `loading`, identified by path, size and the hash of
 * its first 64 KiB: it is taken over by this job and resumed after its checkpoint.
 */
export async function takeOverInterruptedFile(
  db: Database,
  userId: string,
  jobId: string,
  probe: { path: string; size: number | null; headSha256: Buffer },
): Promise<{ fileId: string; recordsDone: number } | null> {
  return asUser(db, userId, async (tx) => {
    const found = await tx.query<{ file_id: string; records_done: number | null }>(
      `SELECT f.file_id, c.records_done FROM imports.files f
         LEFT JOIN imports.checkpoints c ON c.user_id = f.user_id AND c.file_id = f.file_id
        WHERE f.user_id = $1 AND f.status = 'loading' AND f.path = $2 AND f.size_bytes IS NOT DISTINCT FROM $3 AND f.head_sha256 = $4
        ORDER BY c.updated_at DESC NULLS LAST LIMIT 1`,
      [userId, probe.path, probe.size, probe.headSha256],
    );
    const row = found.rows[0];
    if (!row) return null;
    await tx.query(`UPDATE imports.files SET job_id = $3 WHERE user_id = $1 AND file_id = $2`, [userId, row.file_id, jobId]);
    return { fileId: row.file_id, recordsDone: row.records_done ?? 0 };
  });
}

export async function finishFile(
  db: Database,
  userId: string,
  fileId: string,
  outcome: {
    status: FileStatus;
    sha256: string | null;
    bytes: number;
    repairs: RepairCounts;
    note: string | null;
    scanStatus?: 'not_scanned' | 'clean' | 'infected' | 'error';
  },
): Promise<void> {
  await asUser(db, userId, (tx) =>
    tx.query(
      `UPDATE imports.files SET status = $3, sha256 = $4, size_bytes = $5, repairs = $6, note = $7, scan_status = $8, finished_at = now()
        WHERE user_id = $1 AND file_id = $2`,
      [
        userId,
        fileId,
        outcome.status,
        outcome.sha256 ? Buffer.from(outcome.sha256, 'hex') : null,
        outcome.bytes,
        outcome.repairs,
        outcome.note,
        outcome.scanStatus ?? 'not_scanned',
      ],
    ),
  );
}

const LOCATION_POINTS = 'timeseries.location_points';

/** Remove what a file loaded (its rows name it as their import file): for a file found infected. */
export async function removeFileRows(db: Database, userId: string, fileId: string, tables: readonly string[]): Promise<number> {
  return asUser(db, userId, async (tx) => {
    // The hours whose first point may go: their summaries (timeseries.location_hours, and the
    // counts per map cell of their days in timeseries.location_tiles) are redone after.
    const hours = tables.includes(LOCATION_POINTS)
      ? (await tx.query<{ hours: Date[] | null }>(
          `SELECT array_agg(DISTINCT date_bin(interval '1 hour', recorded_at, timestamptz 'epoch')) AS hours FROM ${LOCATION_POINTS} WHERE import_file_id = $1`,
          [fileId],
        )).rows[0]!.hours
      : null;
    let removed = 0;
    for (const table of tables) removed += (await tx.query(`DELETE FROM ${table} WHERE import_file_id = $1`, [fileId])).rowCount;
    if (hours) await tx.query(`SELECT timeseries.refresh_location_hours($1::timestamptz[]), timeseries.refresh_location_tiles($1::timestamptz[])`, [hours]);
    return removed;
  });
}

/** Ledger writes are small whole transactions: retried when the connection fails under them. */
function asUser<T>(db: Database, userId: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return retryTransient(() => db.asUser(userId, work));
}
