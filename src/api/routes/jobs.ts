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
// Jobs are rows of imports.jobs read as the request's user (query/jobs.ts): another user's job is
// a 404.
import type { FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import { LakeError } from '../../errors.js';
import { jobState } from '../../ingest/receive/ledger.js';
import { DEFAULT_BATCH_SIZE } from '../../ingest/batch-size.js';
import { UUID_PATTERN } from '../../query/ids.js';
import {
  activeJobOfUploads,
  insertUploadJob,
  isJobPosition,
  isQuarantinePosition,
  jobBatchSize,
  jobReport,
  jobsPage,
  jobUploadIds,
  quarantinePage,
  readJob,
  requeueJob,
  type Job,
} from '../../query/jobs.js';
import { readUpload } from '../../query/uploads.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { FINAL_STATUSES, type JobRunner, type JobStatus, type LiveProgress } from '../jobs/runner.js';
import { CursorParam, ErrorBody, Nullable } from '../query-params.js';

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

const JobBody = Type.Object({
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

/** A job as the API answers it; `live`: the progress of this server's run of it, if it runs here. */
function toJob(row: Job, live: LiveProgress | null) {
  const status = live ? row.status : jobState(row);
  const saved = status === 'running' ? (live ?? row.progress) : null;
  return {
    job_id: row.job_id,
    status,
    upload_id: row.upload_id,
    upload_ids: jobUploadIds(row),
    filename: row.filename ?? (Array.isArray(row.inputs) && typeof row.inputs[0] === 'string' ? row.inputs[0] : null),
    batch_size: jobBatchSize(row.options),
    attempts: row.attempts,
    error: row.error,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
    progress: {
      files: row.files,
      records: row.records,
      duplicates: row.duplicates,
      quarantined: row.quarantined,
      current_file: saved?.currentFile ?? null,
      current_file_bytes: saved?.currentFileBytes ?? null,
      current_file_size: saved?.currentFileSize ?? null,
      upload_bytes: row.upload_bytes,
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

  const ownJob = async (request: FastifyRequest, id: string): Promise<Job> => {
    const row = await context.asUser(request, (tx) => readJob(tx, id));
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
            upload_id: Type.Optional(Type.String({ pattern: UUID_PATTERN.source, description: 'a verified upload' })),
            upload_ids: Type.Optional(
              Type.Array(Type.String({ pattern: UUID_PATTERN.source }), {
                minItems: 1,
                maxItems: 100,
                uniqueItems: true,
                description: 'verified uploads imported together as one export (all parts of a split Takeout)',
              }),
            ),
            batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_BATCH_SIZE, description: 'records per load transaction' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: JobBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 410: ErrorBody },
      },
    },
    async (request, reply) => {
      const userId = principalOf(request).userId;
      const { upload_id: single, upload_ids: several, batch_size: batchSize = DEFAULT_BATCH_SIZE } = request.body;
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
        const busy = await activeJobOfUploads(tx, uploadIds);
        if (busy !== null) throw new LakeError('CONFLICT', `an upload of this job already has a job waiting or running: ${busy}`);
        return readJob(tx, await insertUploadJob(tx, { userId, uploadIds, filenames, batchSize }));
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
        response: { 200: Type.Object({ jobs: Type.Array(JobBody), next_cursor: Nullable(Type.String()) }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor === undefined ? null : decodeCursor(cursor, isJobPosition);
      const page = await context.asUser(request, (tx) => jobsPage(tx, { after, limit }));
      return { jobs: page.rows.map((row) => toJob(row, runner.live(row.job_id))), next_cursor: page.next && encodeCursor(page.next) };
    },
  );

  app.get(
    '/jobs/:id',
    { schema: { ...common, summary: 'one import job and its progress', params: jobParams, response: { 200: JobBody, 401: ErrorBody, 404: ErrorBody } } },
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
      const report = await context.asUser(request, (tx) => jobReport(tx, job.job_id));
      return {
        job_id: job.job_id,
        status: jobState(job),
        error: job.error,
        files: report.files.map((line) => ({ ...line, started_at: line.started_at?.toISOString() ?? null, finished_at: line.finished_at?.toISOString() ?? null })),
        totals: report.totals,
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
      // The cursor names the page's last entry by its key (query/jobs.ts).
      const after = cursor === undefined ? null : decodeCursor(cursor, isQuarantinePosition);
      const page = await context.asUser(request, (tx) => quarantinePage(tx, job.job_id, { after, limit }));
      return {
        items: page.rows.map((q) => ({ ...q, created_at: q.created_at.toISOString() })),
        next_cursor: page.next && encodeCursor(page.next),
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
        response: { 200: JobBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
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
        response: { 202: JobBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 410: ErrorBody },
      },
    },
    async (request, reply) => {
      const job = await ownJob(request, request.params.id);
      const updated = await context.asUser(request, async (tx) => {
        for (const uploadId of jobUploadIds(job)) {
          const upload = await readUpload(tx, uploadId);
          if (upload?.status !== 'verified') throw new LakeError('GONE', `job ${job.job_id} cannot run again: upload ${uploadId} is ${upload?.status ?? 'gone'}`);
        }
        if (!job.upload_id) throw new LakeError('CONFLICT', `job ${job.job_id} was not made from an upload (lake import): run that command again`);
        // Interrupted too: stored so, or running with its process gone (and still naming that process).
        const requeued = await requeueJob(tx, job, jobState(job) === 'interrupted' && !runner.isActive(job.job_id));
        return requeued ? readJob(tx, job.job_id) : null;
      });
      if (!updated) throw new LakeError('CONFLICT', `job ${job.job_id} is ${jobState(job)}: only a failed, cancelled, partial or interrupted job can be retried`);
      runner.enqueue(principalOf(request).userId, job.job_id);
      return reply.status(202).send(toJob(updated, null));
    },
  );
}

function snakeProgress(p: LiveProgress) {
  return { records: p.records, files: p.filesDone, current_file: p.currentFile, current_file_bytes: p.currentFileBytes, current_file_size: p.currentFileSize };
}
