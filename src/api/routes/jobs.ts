// /v1/jobs: imports over HTTP, from a finished and verified upload (routes/uploads.ts).
//
//   POST /v1/jobs                  {upload_id | upload_ids, batch_size?}: a queued job (201); several
//                                  uploads are one export (the parts of a split Takeout)
//   GET  /v1/jobs                  the user's jobs, newest first, with their progress (cursor pages)
//   GET  /v1/jobs/{id}             one job: status, progress (files, records, duplicates, quarantined, current file)
//   GET  /v1/jobs/{id}/events      server-sent events: `job` (the job now), `progress` while it runs, a
//                                  final `done` with the job, then the stream ends
//   GET  /v1/jobs/{id}/report      one line per file of the export, like `lake import --json`
//   GET  /v1/jobs/{id}/quarantine  what was refused, where and why (cursor pages)
//   POST /v1/jobs/{id}/cancel      stop it (a running job at its next batch boundary)
//   POST /v1/jobs/{id}/retry       run a failed, cancelled, partial or interrupted job again: it resumes its files
//                                  from their checkpoints, and what is already loaded counts as duplicates
//
// Jobs are rows of imports.jobs read as the request's user: another user's job is a 404.
import type { FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import type { Transaction } from '../../db/database.js';
import { LakeError } from '../../errors.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor, isMicrosTimestamp, utcMicros } from '../cursor.js';
import type { JobRunnerIdentity } from '../../ingest/job-liveness.js';
import { JOB_LIVENESS_COLUMNS, jobState } from '../../ingest/receive/ledger.js';
import { addKindCounts, type KindCounts } from '../../ingest/report.js';
import { FINAL_STATUSES, type JobRunner, type JobStatus, type LiveProgress } from '../jobs/runner.js';
import { CursorParam, ErrorBody, Nullable } from '../query-params.js';
import { readUpload } from '../uploads/uploads.js';

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEARTBEAT_MS = 15_000;

const Progress = Type.Object({
  files: Type.Integer({ description: 'files of the export handled so far' }),
  records: Type.Integer({ description: 'records loaded' }),
  duplicates: Type.Integer({ description: 'records already in the lake' }),
  quarantined: Type.Integer({ description: 'records refused (see /quarantine)' }),
  current_file: Nullable(Type.String({ description: 'the file being read now' })),
  current_file_bytes: Nullable(Type.Integer({ description: 'bytes of it read so far' })),
  current_file_size: Nullable(Type.Integer()),
  upload_bytes: Nullable(Type.Integer({ description: 'size of the uploaded file' })),
});

const Job = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  status: Type.Union(
    [
      Type.Literal('queued'),
      Type.Literal('running'),
      Type.Literal('interrupted'),
      Type.Literal('done'),
      Type.Literal('partial'),
      Type.Literal('failed'),
      Type.Literal('cancelled'),
      Type.Literal('pending'),
    ],
    {
      description:
        'interrupted: its process is gone (a `lake import` killed, a server that crashed): the same `lake import` run again, ' +
        'or a server start for an upload job, resumes it',
    },
  ),
  upload_id: Nullable(Type.String({ format: 'uuid', description: 'the (first) upload it imports' })),
  upload_ids: Type.Array(Type.String({ format: 'uuid' }), { description: 'every upload it imports, as one export' }),
  filename: Nullable(Type.String()),
  batch_size: Type.Integer(),
  attempts: Type.Integer({ description: 'times it was started (a restart or a retry starts it again)' }),
  error: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
  progress: Progress,
});

const Counts = Type.Record(Type.String(), Type.Integer(), {
  description: 'what was loaded as a person counts it, the non-zero kinds: points, visits, places, activityItems, messages, attachments, photosAndVideos, documents, measurements, contacts, events',
});

const FileLine = Type.Object({
  path: Type.String(),
  archive: Nullable(Type.String()),
  format: Nullable(Type.String()),
  status: Type.String(),
  mime_type: Nullable(Type.String()),
  counts: Counts,
  records: Type.Integer({ description: 'rows of every table together (kept for compatibility; `counts` says what they are)' }),
  duplicates: Type.Integer(),
  quarantined: Type.Record(Type.String(), Type.Integer(), { description: 'records refused, by category' }),
  bytes: Nullable(Type.Integer()),
  sha256: Nullable(Type.String()),
  repairs: Type.Record(Type.String(), Type.Integer()),
  note: Nullable(Type.String()),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
});

const Report = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  status: Type.String(),
  error: Nullable(Type.String()),
  files: Type.Array(FileLine),
  totals: Type.Object({ files: Type.Integer(), counts: Counts, records: Type.Integer(), duplicates: Type.Integer(), quarantined: Type.Integer(), bytes: Type.Integer() }),
});

const QuarantineRow = Type.Object({
  quarantine_id: Type.String({ description: 'hex SHA-256 of (entry, byte offset, line, category, reason): the entry’s key among the user’s, nothing shared with other users' }),
  entry: Type.String({ description: 'the file it was found in' }),
  category: Type.String(),
  reason: Type.String(),
  byte_offset: Nullable(Type.Integer()),
  line: Nullable(Type.Integer()),
  excerpt: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
});

interface JobRow {
  job_id: string;
  status: JobStatus | 'pending';
  upload_id: string | null;
  inputs: string[];
  options: { batchSize?: number; uploadIds?: string[] };
  attempts: number;
  error: string | null;
  created_at: Date;
  created_key: string;
  started_at: Date | null;
  finished_at: Date | null;
  progress: Partial<LiveProgress>;
  runner: JobRunnerIdentity | null;
  heartbeat_age_ms: number | null;
  filename: string | null;
  upload_bytes: number | null;
  files: number;
  records: number;
  duplicates: number;
  quarantined: number;
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

function readJob(tx: Transaction, jobId: string): Promise<JobRow | null> {
  return tx.query<JobRow>(`${JOB_SELECT} WHERE j.job_id = $1`, [jobId]).then((r) => r.rows[0] ?? null);
}

function toJob(row: JobRow, live: LiveProgress | null) {
  const status = live ? row.status : jobState(row);
  const saved = status === 'running' ? (live ?? row.progress) : null;
  return {
    job_id: row.job_id,
    status,
    upload_id: row.upload_id,
    upload_ids: row.options?.uploadIds ?? (row.upload_id ? [row.upload_id] : []),
    filename: row.filename ?? (Array.isArray(row.inputs) && typeof row.inputs[0] === 'string' ? row.inputs[0] : null),
    batch_size: row.options?.batchSize ?? 5000,
    attempts: row.attempts,
    error: row.error,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
    progress: {
      files: Number(row.files),
      records: Number(row.records),
      duplicates: Number(row.duplicates),
      quarantined: Number(row.quarantined),
      current_file: saved?.currentFile ?? null,
      current_file_bytes: saved?.currentFileBytes ?? null,
      current_file_size: saved?.currentFileSize ?? null,
      upload_bytes: row.upload_bytes === null ? null : Number(row.upload_bytes),
    },
  };
}

const jobParams = Type.Object({ id: Type.String({ description: 'job id' }) });

export function jobRoutes(app: ApiApp, context: ApiContext, runner: JobRunner): void {
  const common = { tags: ['jobs'], security: [{ apiKey: [] }] };
  /** Open event streams, ended when the server shuts down. */
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  const ownJob = async (request: FastifyRequest, id: string): Promise<JobRow> => {
    const row = JOB_ID.test(id) ? await context.asUser(request, (tx) => readJob(tx, id)) : null;
    if (!row) throw new LakeError('NOT_FOUND', `no job ${JSON.stringify(id.slice(0, 100))}`);
    return row;
  };

  app.post(
    '/jobs',
    {
      schema: {
        ...common,
        summary: 'import a finished, verified upload (a Takeout .zip, .tgz or a single export file)',
        body: Type.Object(
          {
            upload_id: Type.Optional(Type.String({ pattern: JOB_ID.source, description: 'a verified upload' })),
            upload_ids: Type.Optional(
              Type.Array(Type.String({ pattern: JOB_ID.source }), {
                minItems: 1,
                maxItems: 100,
                uniqueItems: true,
                description: 'verified uploads imported together as one export (all parts of a split Takeout)',
              }),
            ),
            batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 5000, description: 'records per load transaction' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Job, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 410: ErrorBody },
      },
    },
    async (request, reply) => {
      const userId = principalOf(request).userId;
      const { upload_id: single, upload_ids: several, batch_size: batchSize = 5000 } = request.body;
      if ((single === undefined) === (several === undefined)) throw new LakeError('INVALID_REQUEST', 'body must have upload_id or upload_ids (not both)');
      const uploadIds = several ?? [single!];
      const created = await context.asUser(request, async (tx) => {
        const filenames: string[] = [];
        for (const uploadId of uploadIds) {
          const upload = await readUpload(tx, uploadId);
          if (!upload || upload.status === 'deleted') throw new LakeError('NOT_FOUND', `no upload ${uploadId}`);
          if (upload.status === 'refused') throw new LakeError('CONFLICT', `upload ${uploadId} was refused, nothing to import: ${upload.note ?? ''}`.trim());
          if (upload.status === 'expired') throw new LakeError('GONE', `upload ${uploadId} expired before it was finished`);
          if (upload.status !== 'verified') throw new LakeError('CONFLICT', `upload ${uploadId} is not finished yet: send the rest of it first`);
          filenames.push(upload.filename ?? 'upload');
        }
        const busy = await tx.query<{ job_id: string }>(
          `SELECT job_id FROM imports.jobs WHERE status IN ('queued', 'running') AND (upload_id = ANY($1::uuid[]) OR options->'uploadIds' ?| $1::text[]) LIMIT 1`,
          [uploadIds],
        );
        if (busy.rows.length > 0) throw new LakeError('CONFLICT', `an upload of this job already has a job waiting or running: ${busy.rows[0]!.job_id}`);
        const inserted = await tx.query<{ job_id: string }>(
          `INSERT INTO imports.jobs (user_id, status, upload_id, inputs, options) VALUES ($1, 'queued', $2, $3, $4) RETURNING job_id`,
          [userId, uploadIds[0], JSON.stringify(filenames), { batchSize, uploadIds }],
        );
        return readJob(tx, inserted.rows[0]!.job_id);
      });
      runner.enqueue(userId, created!.job_id);
      return reply.status(201).send(toJob(created!, null));
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        ...common,
        summary: 'your import jobs, newest first',
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            cursor: Type.Optional(CursorParam),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ jobs: Type.Array(Job), next_cursor: Nullable(Type.String()) }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor === undefined ? null : decodeCursor(cursor, isJobPosition);
      const rows = await context.asUser(request, (tx) =>
        tx
          .query<JobRow>(
            `${JOB_SELECT} ${after ? `WHERE (j.created_at, j.job_id) < ($2::timestamptz, $3::uuid)` : ''}
             ORDER BY j.created_at DESC, j.job_id DESC LIMIT $1`,
            after ? [limit + 1, after[0], after[1]] : [limit + 1],
          )
          .then((r) => r.rows),
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        jobs: page.map((row) => toJob(row, runner.live(row.job_id))),
        next_cursor: rows.length > limit && last ? encodeCursor([last.created_key, last.job_id]) : null,
      };
    },
  );

  app.get(
    '/jobs/:id',
    { schema: { ...common, summary: 'one import job and its progress', params: jobParams, response: { 200: Job, 401: ErrorBody, 404: ErrorBody } } },
    async (request) => {
      const row = await ownJob(request, request.params.id);
      return toJob(row, runner.live(row.job_id));
    },
  );

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        ...common,
        summary: 'follow a job: server-sent events `job`, `progress` (while it runs) and a final `done`',
        params: jobParams,
        produces: ['text/event-stream'],
        response: { 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const jobId = request.params.id;
      const first = await ownJob(request, jobId);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        runner.off('progress', onProgress);
        runner.off('finished', onFinished);
        clearInterval(heartbeat);
        streams.delete(res);
        res.end();
      };
      const onProgress = (id: string, progress: LiveProgress) => {
        if (id === jobId) send('progress', { job_id: jobId, status: 'running', ...snakeProgress(progress) });
      };
      const onFinished = (id: string, status: JobStatus) => {
        if (id !== jobId) return;
        // Put back in the queue by a shutdown: the stream ends without `done` (reconnect to follow it on).
        if (status === 'queued') return end();
        void context
          .asUser(request, (tx) => readJob(tx, jobId))
          .then((row) => row && send('done', toJob(row, null)))
          .catch(() => {})
          .finally(end);
      };
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      streams.add(res);
      res.on('close', end);
      runner.on('progress', onProgress);
      runner.on('finished', onFinished);
      // Read again after subscribing: a job that ended in between is not missed.
      const now = (await context.asUser(request, (tx) => readJob(tx, jobId)).catch(() => null)) ?? first;
      send('job', toJob(now, runner.live(jobId)));
      if (FINAL_STATUSES.includes(jobState(now) as JobStatus) && !runner.isActive(jobId)) {
        send('done', toJob(now, null));
        end();
      }
    },
  );

  app.get(
    '/jobs/:id/report',
    {
      schema: {
        ...common,
        summary: 'the per-file report of a job (like `lake import --json`)',
        params: jobParams,
        response: { 200: Report, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const job = await ownJob(request, request.params.id);
      const { files, quarantine } = await context.asUser(request, async (tx) => ({
        // One line per file: the latest row of each path (a resumed run makes new rows for files it
        // reads again), with the records loaded by every run of it.
        files: (
          await tx.query<FileRowReport>(
            `SELECT * FROM (
               SELECT DISTINCT ON (coalesce(archive, ''), path) path, archive, detected_format, status, mime_type, duplicates,
                      sum(records_loaded) OVER (PARTITION BY coalesce(archive, ''), path) AS records,
                      jsonb_agg(inserted_by_table) OVER (PARTITION BY coalesce(archive, ''), path) AS inserted_by_table,
                      size_bytes, encode(sha256, 'hex') AS sha256, repairs, note, started_at, finished_at
                 FROM imports.files WHERE job_id = $1
                ORDER BY coalesce(archive, ''), path, started_at DESC NULLS LAST) lines
             ORDER BY started_at NULLS LAST, path`,
            [job.job_id],
          )
        ).rows,
        quarantine: (
          await tx.query<{ entry: string; category: string; n: number }>(
            `SELECT entry, category, count(*)::int AS n FROM imports.quarantine WHERE job_id = $1 GROUP BY entry, category`,
            [job.job_id],
          )
        ).rows,
      }));
      const byEntry = new Map<string, Record<string, number>>();
      for (const q of quarantine) {
        const categories = byEntry.get(q.entry) ?? {};
        categories[q.category] = Number(q.n);
        byEntry.set(q.entry, categories);
      }
      const lines = files.map((f) => ({
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
        started_at: f.started_at?.toISOString() ?? null,
        finished_at: f.finished_at?.toISOString() ?? null,
      }));
      const sum = (pick: (line: (typeof lines)[number]) => number) => lines.reduce((n, line) => n + pick(line), 0);
      return {
        job_id: job.job_id,
        status: jobState(job),
        error: job.error,
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
    },
  );

  app.get(
    '/jobs/:id/quarantine',
    {
      schema: {
        ...common,
        summary: 'records and files a job refused, with where (byte offset, line) and why',
        params: jobParams,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), cursor: Type.Optional(CursorParam) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(QuarantineRow), next_cursor: Nullable(Type.String()) }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const job = await ownJob(request, request.params.id);
      const { limit, cursor } = request.query;
      // Entries come in the order they were found (the internal quarantine_id, drawn from a sequence
      // every user shares, so never shown); the cursor names the page's last entry by its dedup key.
      const after = cursor === undefined ? null : decodeCursor(cursor, (v): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v));
      const rows = await context.asUser(request, (tx) =>
        tx
          .query<{ entry_key: string; entry: string; category: string; reason: string; byte_offset: number | null; line: number | null; excerpt: string | null; created_at: Date }>(
            `SELECT encode(dedup_key, 'hex') AS entry_key, entry, category, reason, byte_offset, line, excerpt, created_at FROM imports.quarantine
              WHERE job_id = $1 ${after === null ? '' : `AND quarantine_id > (SELECT quarantine_id FROM imports.quarantine WHERE dedup_key = decode($3::text, 'hex'))`}
              ORDER BY quarantine_id LIMIT $2`,
            after === null ? [job.job_id, limit + 1] : [job.job_id, limit + 1, after],
          )
          .then((r) => r.rows),
      );
      const page = rows.slice(0, limit);
      return {
        items: page.map(({ entry_key, ...q }) => ({
          quarantine_id: entry_key,
          ...q,
          byte_offset: q.byte_offset === null ? null : Number(q.byte_offset),
          created_at: q.created_at.toISOString(),
        })),
        next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.entry_key) : null,
      };
    },
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        ...common,
        summary: 'cancel a queued or running job (a running one stops at its next batch boundary; what it loaded stays)',
        params: jobParams,
        response: { 200: Job, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const job = await ownJob(request, request.params.id);
      const status = await runner.cancel(principalOf(request).userId, job.job_id);
      if (status === null) throw new LakeError('CONFLICT', `job ${job.job_id} is ${jobState(job)}: only a queued or running job can be cancelled`);
      return toJob((await context.asUser(request, (tx) => readJob(tx, job.job_id)))!, null);
    },
  );

  app.post(
    '/jobs/:id/retry',
    {
      schema: {
        ...common,
        summary: 'run a failed, cancelled, partial or interrupted job again (it resumes; loaded records count as duplicates)',
        params: jobParams,
        response: { 202: Job, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 410: ErrorBody },
      },
    },
    async (request, reply) => {
      const job = await ownJob(request, request.params.id);
      const updated = await context.asUser(request, async (tx) => {
        for (const uploadId of job.options?.uploadIds ?? (job.upload_id ? [job.upload_id] : [])) {
          const upload = await readUpload(tx, uploadId);
          if (!upload || upload.status !== 'verified') throw new LakeError('GONE', `job ${job.job_id} cannot run again: upload ${uploadId} is ${upload?.status ?? 'gone'}`);
        }
        if (!job.upload_id) throw new LakeError('CONFLICT', `job ${job.job_id} was not made from an upload (lake import): run that command again`);
        // Interrupted too: stored so, or running with its process gone (and still naming that process).
        const result = await tx.query(
          `UPDATE imports.jobs SET status = 'queued', error = NULL, finished_at = NULL
            WHERE job_id = $1 AND (status IN ('failed', 'cancelled', 'partial', 'interrupted') OR ($2 AND status = 'running' AND runner IS NOT DISTINCT FROM $3::jsonb))
            RETURNING job_id`,
          [job.job_id, jobState(job) === 'interrupted' && !runner.isActive(job.job_id), job.runner === null ? null : JSON.stringify(job.runner)],
        );
        return result.rows.length > 0 ? readJob(tx, job.job_id) : null;
      });
      if (!updated) throw new LakeError('CONFLICT', `job ${job.job_id} is ${jobState(job)}: only a failed, cancelled, partial or interrupted job can be retried`);
      runner.enqueue(principalOf(request).userId, job.job_id);
      return reply.status(202).send(toJob(updated, null));
    },
  );
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

function snakeProgress(p: LiveProgress) {
  return { records: p.records, files: p.filesDone, current_file: p.currentFile, current_file_bytes: p.currentFileBytes, current_file_size: p.currentFileSize };
}

function isJobPosition(value: unknown): value is [string, string] {
  return Array.isArray(value) && value.length === 2 && isMicrosTimestamp(value[0]) && typeof value[1] === 'string' && JOB_ID.test(value[1]);
}
