// Import jobs (imports.jobs) as the API and its job runner read and move them, with what each
// job's files did (imports.files) and refused (imports.quarantine). Every function runs as the
// job's user (row-level security: another user's job is not there), except waitingJobs, which
// runs on the maintenance connection before any identity, like the API key lookup. Writing the
// rows of a running import is the import ledger's (ingest/receive/ledger.ts).
import type { Queryable } from '../db/database.js';
import type { JobRunnerIdentity } from '../ingest/job-liveness.js';
import { JOB_LIVENESS_COLUMNS, type JobLivenessRow } from '../ingest/receive/ledger.js';
import { addKindCounts, type KindCounts } from '../ingest/report.js';
import { DEFAULT_BATCH_SIZE } from '../ingest/batch-size.js';
import { UUID_PATTERN } from './ids.js';
import { isMicrosTimestamp, utcMicros, type Page } from './sql.js';

/** As stored: 'interrupted' is also how a running job whose process is gone is seen (jobState). */
export type StoredJobStatus = 'queued' | 'running' | 'interrupted' | 'done' | 'partial' | 'failed' | 'cancelled' | 'pending';

/** imports.jobs.options: how the job imports. `lake import` jobs have `paths`, API jobs `uploadIds`. */
export interface JobOptions {
  batchSize?: number;
  uploadIds?: string[];
  paths?: string[];
}

/** What a running job last saved of its progress (the API runner's LiveProgress). */
export interface SavedProgress {
  records?: number;
  filesDone?: number;
  currentFile?: string | null;
  currentFileBytes?: number;
  currentFileSize?: number | null;
}

export interface Job {
  job_id: string;
  status: StoredJobStatus;
  upload_id: string | null;
  inputs: string[];
  options: JobOptions;
  attempts: number;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  progress: SavedProgress;
  runner: JobRunnerIdentity | null;
  heartbeat_age_ms: number | null;
  /** The (first) upload's file name and size. */
  filename: string | null;
  upload_bytes: number | null;
  /** Counted over its files: files read, records loaded, duplicates, quarantined. */
  files: number;
  records: number;
  duplicates: number;
  quarantined: number;
}

/** Records per load transaction of a job: what it asked for, else the import's default (the runner runs it so). */
export function jobBatchSize(options: JobOptions | null): number {
  return options?.batchSize ?? DEFAULT_BATCH_SIZE;
}

/** The uploads a job imports, as one export. */
export function jobUploadIds(job: Pick<Job, 'options' | 'upload_id'>): string[] {
  return job.options?.uploadIds ?? (job.upload_id ? [job.upload_id] : []);
}

const JOB_SELECT = `
  SELECT j.job_id, j.status, j.upload_id, j.inputs, j.options, j.attempts, j.error, j.created_at, ${utcMicros('j.created_at')} AS created_key,
         j.started_at, j.finished_at, j.progress, ${JOB_LIVENESS_COLUMNS}, u.filename, u.size_bytes AS upload_bytes,
         f.files, f.records, f.duplicates, f.quarantined
    FROM imports.jobs j
    LEFT JOIN imports.uploads u ON u.user_id = j.user_id AND u.upload_id = j.upload_id
    LEFT JOIN LATERAL (
      SELECT count(DISTINCT (coalesce(archive, ''), path))::int AS files, coalesce(sum(records_loaded), 0)::bigint AS records,
             coalesce(sum(duplicates), 0)::bigint AS duplicates, coalesce(sum(quarantined), 0)::bigint AS quarantined
        FROM imports.files WHERE user_id = j.user_id AND job_id = j.job_id
    ) f ON true`;

type JobRow = Job & { created_key: string };

function toJob({ created_key: _, ...row }: JobRow): Job {
  return {
    ...row,
    files: Number(row.files),
    records: Number(row.records),
    duplicates: Number(row.duplicates),
    quarantined: Number(row.quarantined),
    upload_bytes: row.upload_bytes === null ? null : Number(row.upload_bytes),
  };
}

/** The job with this id, null for none (or not a job id). */
export async function readJob(tx: Queryable, jobId: string): Promise<Job | null> {
  if (!UUID_PATTERN.test(jobId)) return null;
  const row = (await tx.query<JobRow>(`${JOB_SELECT} WHERE j.job_id = $1`, [jobId])).rows[0];
  return row ? toJob(row) : null;
}

/** The last job's key: its creation time (utcMicros) and id. */
export type JobPosition = [createdAt: string, jobId: string];

export function isJobPosition(value: unknown): value is JobPosition {
  return Array.isArray(value) && value.length === 2 && isMicrosTimestamp(value[0]) && typeof value[1] === 'string' && UUID_PATTERN.test(value[1]);
}

/** The user's jobs, newest first. */
export async function jobsPage(tx: Queryable, options: { after: JobPosition | null; limit: number }): Promise<Page<Job, JobPosition>> {
  const { after, limit } = options;
  const rows = await tx.query<JobRow>(
    `${JOB_SELECT} ${after ? `WHERE (j.created_at, j.job_id) < ($2::timestamptz, $3::uuid)` : ''}
     ORDER BY j.created_at DESC, j.job_id DESC LIMIT $1`,
    after ? [limit + 1, after[0], after[1]] : [limit + 1],
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page.map(toJob), next: rows.rows.length > limit && last ? [last.created_key, last.job_id] : null };
}

/** A job waiting or running that imports one of these uploads, or null. */
export async function activeJobOfUploads(tx: Queryable, uploadIds: readonly string[]): Promise<string | null> {
  const busy = await tx.query<{ job_id: string }>(
    `SELECT job_id FROM imports.jobs WHERE status IN ('queued', 'running') AND (upload_id = ANY($1::uuid[]) OR options->'uploadIds' ?| $1::text[]) LIMIT 1`,
    [uploadIds],
  );
  return busy.rows[0]?.job_id ?? null;
}

/** A queued job importing these uploads as one export; `filenames` are its inputs as shown. */
export async function insertUploadJob(
  tx: Queryable,
  job: { userId: string; uploadIds: readonly string[]; filenames: readonly string[]; batchSize: number },
): Promise<string> {
  const inserted = await tx.query<{ job_id: string }>(
    `INSERT INTO imports.jobs (user_id, status, upload_id, inputs, options) VALUES ($1, 'queued', $2, $3, $4) RETURNING job_id`,
    [job.userId, job.uploadIds[0], JSON.stringify(job.filenames), { batchSize: job.batchSize, uploadIds: [...job.uploadIds] } satisfies JobOptions],
  );
  return inserted.rows[0]!.job_id;
}

/**
 * Queue a failed, cancelled, partial or interrupted job again; `interrupted`: it may also be one
 * still stored as running whose process is gone, as long as its row names the runner it was seen
 * with. Whether it was queued.
 */
export async function requeueJob(tx: Queryable, job: Pick<Job, 'job_id' | 'runner'>, interrupted: boolean): Promise<boolean> {
  const result = await tx.query(
    `UPDATE imports.jobs SET status = 'queued', error = NULL, finished_at = NULL
      WHERE job_id = $1 AND (status IN ('failed', 'cancelled', 'partial', 'interrupted') OR ($2 AND status = 'running' AND runner IS NOT DISTINCT FROM $3::jsonb))
      RETURNING job_id`,
    [job.job_id, interrupted, job.runner === null ? null : JSON.stringify(job.runner)],
  );
  return result.rows.length > 0;
}

/** One line per file of a job's export, like a line of `lake import --json`. */
export interface JobFileLine {
  path: string;
  archive: string | null;
  format: string | null;
  status: string;
  mime_type: string | null;
  /** What was loaded, as a person counts it (report.ts). */
  counts: KindCounts;
  /** Rows of every table together. */
  records: number;
  duplicates: number;
  /** Records refused, by category. */
  quarantined: Record<string, number>;
  bytes: number | null;
  sha256: string | null;
  repairs: Record<string, number>;
  note: string | null;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface JobReport {
  files: JobFileLine[];
  totals: { files: number; counts: KindCounts; records: number; duplicates: number; quarantined: number; bytes: number };
}

interface FileRowReport {
  path: string;
  archive: string | null;
  detected_format: string | null;
  status: string;
  mime_type: string | null;
  records: number;
  /** The rows inserted per table by each run that read the file. */
  inserted_by_table: Record<string, number | string>[];
  duplicates: number;
  size_bytes: number | null;
  sha256: string | null;
  repairs: Record<string, number> | null;
  note: string | null;
  started_at: Date | null;
  finished_at: Date | null;
}

/** A file's rows per table, summed over its runs, as kinds (report.ts). */
function kindCounts(runs: Record<string, number | string>[], format: string | null): KindCounts {
  const counts: KindCounts = {};
  for (const run of runs) addKindCounts(counts, Object.fromEntries(Object.entries(run).map(([table, n]) => [table, Number(n)])), format);
  return counts;
}

/** The per-file report of a job and its totals. */
export async function jobReport(tx: Queryable, jobId: string): Promise<JobReport> {
  // One line per file: the latest row of each path (a resumed run makes new rows for files it
  // reads again), with the records loaded by every run of it.
  const files = await tx.query<FileRowReport>(
    `SELECT * FROM (
       SELECT DISTINCT ON (coalesce(archive, ''), path) path, archive, detected_format, status, mime_type, duplicates,
              sum(records_loaded) OVER (PARTITION BY coalesce(archive, ''), path) AS records,
              jsonb_agg(inserted_by_table) OVER (PARTITION BY coalesce(archive, ''), path) AS inserted_by_table,
              size_bytes, encode(sha256, 'hex') AS sha256, repairs, note, started_at, finished_at
         FROM imports.files WHERE job_id = $1
        ORDER BY coalesce(archive, ''), path, started_at DESC NULLS LAST) lines
     ORDER BY started_at NULLS LAST, path`,
    [jobId],
  );
  const quarantine = await tx.query<{ entry: string; category: string; n: number }>(
    `SELECT entry, category, count(*)::int AS n FROM imports.quarantine WHERE job_id = $1 GROUP BY entry, category`,
    [jobId],
  );
  const byEntry = new Map<string, Record<string, number>>();
  for (const q of quarantine.rows) {
    const categories = byEntry.get(q.entry) ?? {};
    categories[q.category] = Number(q.n);
    byEntry.set(q.entry, categories);
  }
  const lines: JobFileLine[] = files.rows.map((f) => ({
    path: f.path,
    archive: f.archive,
    format: f.detected_format,
    status: f.status,
    mime_type: f.mime_type,
    counts: kindCounts(f.inserted_by_table, f.detected_format),
    records: Number(f.records),
    duplicates: Number(f.duplicates),
    quarantined: byEntry.get(f.path) ?? {},
    bytes: f.size_bytes === null ? null : Number(f.size_bytes),
    sha256: f.sha256,
    repairs: f.repairs ?? {},
    note: f.note,
    started_at: f.started_at,
    finished_at: f.finished_at,
  }));
  const sum = (pick: (line: JobFileLine) => number) => lines.reduce((n, line) => n + pick(line), 0);
  return {
    files: lines,
    totals: {
      files: lines.length,
      counts: lines.reduce<KindCounts>((total, l) => {
        for (const [kind, n] of Object.entries(l.counts) as [keyof KindCounts, number][]) total[kind] = (total[kind] ?? 0) + n;
        return total;
      }, {}),
      records: sum((l) => l.records),
      duplicates: sum((l) => l.duplicates),
      quarantined: sum((l) => Object.values(l.quarantined).reduce((a, b) => a + b, 0)),
      bytes: sum((l) => l.bytes ?? 0),
    },
  };
}

/** Something a job refused: where (byte offset, line) and why. */
export interface QuarantineEntry {
  /** Hex SHA-256 of (entry, byte offset, line, category, reason): the entry's key among the user's. */
  quarantine_id: string;
  entry: string;
  category: string;
  reason: string;
  byte_offset: number | null;
  line: number | null;
  excerpt: string | null;
  created_at: Date;
}

/** The last entry's key (its quarantine_id). */
export type QuarantinePosition = string;

export function isQuarantinePosition(value: unknown): value is QuarantinePosition {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

/**
 * A job's quarantine in the order it was found (the internal quarantine_id, drawn from a sequence
 * every user shares, so never shown); positions name the page's last entry by its dedup key.
 */
export async function quarantinePage(
  tx: Queryable,
  jobId: string,
  options: { after: QuarantinePosition | null; limit: number },
): Promise<Page<QuarantineEntry, QuarantinePosition>> {
  const { after, limit } = options;
  const rows = await tx.query<Omit<QuarantineEntry, 'quarantine_id'> & { entry_key: string }>(
    `SELECT encode(dedup_key, 'hex') AS entry_key, entry, category, reason, byte_offset, line, excerpt, created_at FROM imports.quarantine
      WHERE job_id = $1 ${after === null ? '' : `AND quarantine_id > (SELECT quarantine_id FROM imports.quarantine WHERE dedup_key = decode($3::text, 'hex'))`}
      ORDER BY quarantine_id LIMIT $2`,
    after === null ? [jobId, limit + 1] : [jobId, limit + 1, after],
  );
  const page = rows.rows.slice(0, limit);
  return {
    rows: page.map(({ entry_key, ...q }) => ({ quarantine_id: entry_key, ...q, byte_offset: q.byte_offset === null ? null : Number(q.byte_offset) })),
    next: rows.rows.length > limit ? page.at(-1)!.entry_key : null,
  };
}

// The job runner of `lake serve` (api/jobs/runner.ts).

/** Jobs of every user a previous server left queued, or running and then interrupted, oldest first: on the maintenance connection. */
export async function waitingJobs(db: Queryable): Promise<(JobLivenessRow & { user_id: string })[]> {
  const waiting = await db.query<JobLivenessRow & { user_id: string }>(
    `SELECT j.user_id, j.job_id, j.status, ${JOB_LIVENESS_COLUMNS} FROM imports.jobs j
      WHERE j.status IN ('queued', 'running', 'interrupted') AND j.upload_id IS NOT NULL ORDER BY j.created_at, j.job_id`,
  );
  return waiting.rows;
}

/** Put a waiting job (waitingJobs) back to 'queued', unless it changed since it was read. Whether it was. */
export async function requeueWaitingJob(tx: Queryable, row: JobLivenessRow): Promise<boolean> {
  const requeued = await tx.query(
    `UPDATE imports.jobs SET status = 'queued' WHERE job_id = $1 AND status = $2 AND runner IS NOT DISTINCT FROM $3::jsonb RETURNING job_id`,
    [row.job_id, row.status, row.runner === null ? null : JSON.stringify(row.runner)],
  );
  return requeued.rows.length > 0;
}

/** Start a queued job under `runner`: its upload and options, or null when it is no longer queued. */
export async function claimQueuedJob(tx: Queryable, jobId: string, runner: JobRunnerIdentity): Promise<{ upload_id: string; options: JobOptions } | null> {
  const row = await tx.query<{ upload_id: string; options: JobOptions }>(
    `UPDATE imports.jobs SET status = 'running', started_at = coalesce(started_at, now()), finished_at = NULL, error = NULL,
            attempts = attempts + 1, runner = $2, heartbeat_at = now()
      WHERE job_id = $1 AND status = 'queued' RETURNING upload_id, options`,
    [jobId, runner],
  );
  return row.rows[0] ?? null;
}

export async function saveJobProgress(tx: Queryable, jobId: string, progress: SavedProgress): Promise<void> {
  await tx.query(`UPDATE imports.jobs SET progress = $2 WHERE job_id = $1`, [jobId, progress]);
}

/** Cancel a job that is still queued. Whether it was. */
export async function cancelQueuedJob(tx: Queryable, jobId: string): Promise<boolean> {
  const result = await tx.query(`UPDATE imports.jobs SET status = 'cancelled', finished_at = now() WHERE job_id = $1 AND status = 'queued' RETURNING job_id`, [jobId]);
  return result.rows.length > 0;
}

/** A running job stopped at a batch boundary: cancelled, or back to 'queued' by a shutdown. */
export async function stopJob(tx: Queryable, jobId: string, status: 'cancelled' | 'queued', progress: SavedProgress): Promise<void> {
  await tx.query(`UPDATE imports.jobs SET status = $2, progress = $3, finished_at = CASE WHEN $2 = 'cancelled' THEN now() END WHERE job_id = $1`, [
    jobId,
    status,
    progress,
  ]);
}

export async function failJob(tx: Queryable, jobId: string, error: string): Promise<void> {
  await tx.query(`UPDATE imports.jobs SET status = 'failed', error = $2, finished_at = now() WHERE job_id = $1`, [jobId, error]);
}
