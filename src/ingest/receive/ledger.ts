// The import ledger in the `imports` schema: jobs, and one file row per entry of the export,
// all written as the importing user (row-level security applies to the ledger too).
import type { Database, Transaction } from '../../db/database.js';
import { retryTransient } from '../../db/retry.js';
import type { RepairCounts } from '../records.js';
import type { FileStatus } from '../report.js';

export async function createJob(db: Database, userId: string, inputs: readonly string[], options: Record<string, unknown>): Promise<string> {
  const r = await asUser(db, userId, (tx) =>
    tx.query<{ job_id: string }>(
      `INSERT INTO imports.jobs (user_id, status, inputs, options, started_at) VALUES ($1, 'running', $2, $3, now()) RETURNING job_id`,
      [userId, JSON.stringify(inputs), options],
    ),
  );
  return r.rows[0]!.job_id;
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
    // The hours whose first point may go: their summary (timeseries.location_hours) is redone after.
    const hours = tables.includes(LOCATION_POINTS)
      ? (await tx.query<{ hours: Date[] | null }>(
          `SELECT array_agg(DISTINCT date_bin(interval '1 hour', recorded_at, timestamptz 'epoch')) AS hours FROM ${LOCATION_POINTS} WHERE import_file_id = $1`,
          [fileId],
        )).rows[0]!.hours
      : null;
    let removed = 0;
    for (const table of tables) removed += (await tx.query(`DELETE FROM ${table} WHERE import_file_id = $1`, [fileId])).rowCount;
    if (hours) await tx.query(`SELECT timeseries.refresh_location_hours($1::timestamptz[])`, [hours]);
    return removed;
  });
}

/** Find a user by name, creating it on first use (an administrative act, on the maintenance connection). */
export async function ensureUser(db: Database, name: string): Promise<string> {
  const r = await db.query<{ user_id: string }>(
    `WITH inserted AS (INSERT INTO user_data.users (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING user_id)
     SELECT user_id FROM inserted UNION ALL SELECT user_id FROM user_data.users WHERE name = $1 LIMIT 1`,
    [name],
  );
  return r.rows[0]!.user_id;
}

/** Ledger writes are small whole transactions: retried when the connection fails under them. */
function asUser<T>(db: Database, userId: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return retryTransient(() => db.asUser(userId, work));
}
