// The import jobs of `lake serve`: a queue in the server process, at most `concurrency` imports at
// once (1 on the embedded database, whose one connection the imports share with requests; 2 on a
// server), each the same runImport as `lake import`, run as the job's user (row-level security:
// the ledger and the loader open every transaction with db.asUser).
//
// Jobs live in imports.jobs, so nothing is only in memory: a job is 'queued' until a slot is free,
// 'running' while it imports, then 'done' / 'partial' / 'failed' (runImport's verdict) or
// 'cancelled'. Stopping the runner (server shutdown) aborts running imports at their next batch
// boundary, with that batch's checkpoint committed, and puts them back to 'queued'; the next start
// queues every 'queued' job again, and every 'running' one whose process is gone (what a crash
// left: 'interrupted', see ingest/job-liveness.ts; a job another live server runs stays its), and
// the import resumes each unfinished file after its checkpoint; except an interrupted job already
// started MAX_JOB_ATTEMPTS times, which is failed instead (crash-loop.ts: an import that kills the
// server is not run at every start). Each start is counted when the job is claimed, committed
// before the import begins. Content hashes make anything read
// twice a counted duplicate, never a second row.
import { EventEmitter } from 'node:events';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Transaction } from '../../db/database.js';
import { thisRunner } from '../../ingest/job-liveness.js';
import { jobState } from '../../ingest/receive/ledger.js';
import type { QuarantineCategory } from '../../ingest/records.js';
import type { FileReport, ImportReport } from '../../ingest/report.js';
import { ImportAbortedError, runImport, type ImportProgress } from '../../ingest/runner.js';
import type { Lake } from '../../lake.js';
import {
  cancelQueuedJob,
  claimQueuedJob,
  failJob,
  jobBatchSize,
  jobUploadIds,
  requeueWaitingJob,
  saveJobProgress,
  stopJob,
  waitingJobs,
} from '../../query/jobs.js';
import { readUpload } from '../../query/uploads.js';
import type { Uploads } from '../uploads/uploads.js';
import { failCrashLoopJob, MAX_JOB_ATTEMPTS } from './crash-loop.js';

/** 'interrupted': running, but its process is gone (a `lake import` killed, a server that crashed): stored or seen as such. */
export type JobStatus = 'queued' | 'running' | 'interrupted' | 'done' | 'partial' | 'failed' | 'cancelled';
/** Statuses no runner moves on by itself (an interrupted job waits for its import to run again, or a retry). */
export const FINAL_STATUSES: readonly JobStatus[] = ['done', 'partial', 'failed', 'cancelled', 'interrupted'];

/** What a running job has done in this run, as it goes (the database has the cumulative counts). */
export interface LiveProgress {
  /** Records handled in this run (loaded or duplicate). */
  records: number;
  filesDone: number;
  currentFile: string | null;
  currentFileBytes: number;
  currentFileSize: number | null;
}

export interface JobEvents {
  progress: [jobId: string, progress: LiveProgress];
  /** The job left 'running' or 'queued' for good, or (status 'queued') was put back by a shutdown. */
  finished: [jobId: string, status: JobStatus];
}

interface Running {
  userId: string;
  controller: AbortController;
  progress: LiveProgress;
  done: Promise<void>;
}

type StopReason = 'shutdown' | 'cancel';

/** How often a running job's progress is written to its row, and sent to followers. */
const PERSIST_EVERY_MS = 1000;
const EMIT_EVERY_MS = 200;

export class JobRunner extends EventEmitter<JobEvents> {
  private readonly queue: { userId: string; jobId: string }[] = [];
  private readonly running = new Map<string, Running>();
  private stopped = false;
  private readonly recordsCounter: Counter;
  private readonly finishedCounter: Counter<'status'>;
  private readonly batchesCounter: Counter;
  private readonly bytesCounter: Counter;
  private readonly filesCounter: Counter<'status'>;
  private readonly rejectedCounter: Counter<'stage' | 'category'>;

  constructor(
    private readonly lake: Lake,
    private readonly uploads: Uploads,
    readonly concurrency: number,
    registry: Registry,
    private readonly log: (message: string, error?: unknown) => void = () => {},
  ) {
    super();
    this.setMaxListeners(0); // one listener per client following a job
    const runner = this;
    new Gauge({
      name: 'lake_import_jobs_queued',
      help: 'import jobs waiting for a free slot (LAKE_JOB_CONCURRENCY)',
      registers: [registry],
      collect() {
        this.set(runner.queue.length);
      },
    });
    new Gauge({
      name: 'lake_import_jobs_running',
      help: 'import jobs running now',
      registers: [registry],
      collect() {
        this.set(runner.running.size);
      },
    });
    new Gauge({ name: 'lake_import_job_slots', help: 'import jobs the server runs at once', registers: [registry] }).set(concurrency);
    this.recordsCounter = new Counter({
      name: 'lake_import_job_records_total',
      help: 'records handled by import jobs (loaded or found duplicate), for import throughput',
      registers: [registry],
    });
    this.batchesCounter = new Counter({ name: 'lake_import_batches_total', help: 'load batches committed by import jobs', registers: [registry] });
    this.bytesCounter = new Counter({ name: 'lake_import_bytes_total', help: 'bytes of export files read by import jobs (counted as each file ends)', registers: [registry] });
    this.filesCounter = new Counter({
      name: 'lake_import_files_total',
      help: 'export files handled by import jobs, by status (refused/failed: preprocessing; partial: a file that ended early)',
      labelNames: ['status'],
      registers: [registry],
    });
    this.rejectedCounter = new Counter({
      name: 'lake_import_rejected_total',
      help: 'input refused by import jobs and quarantined, by pipeline stage (preprocess, transform, quality) and category',
      labelNames: ['stage', 'category'],
      registers: [registry],
    });
    this.finishedCounter = new Counter({
      name: 'lake_import_jobs_finished_total',
      help: 'import jobs that ended, by status (queued: put back by a shutdown)',
      labelNames: ['status'],
      registers: [registry],
    });
  }

  /** Per-stage outcomes of a finished run, for error rates: files by status, quarantined input by stage and category. */
  private countOutcomes(report: ImportReport): void {
    this.bytesCounter.inc(report.totals.bytes);
    for (const file of report.files) {
      this.filesCounter.inc({ status: file.status });
      for (const [category, count] of Object.entries(file.quarantined)) {
        this.rejectedCounter.inc({ stage: stageOf(category as QuarantineCategory, file.status), category }, count ?? 0);
      }
    }
  }

  /** Queue every job a previous server left queued, or running and then interrupted, oldest first. */
  async start(): Promise<void> {
    // Which jobs wait is read on the maintenance connection, before any identity (like the API
    // key lookup); everything about each job then runs as its user.
    for (const row of await waitingJobs(this.lake.db)) {
      const state = jobState(row);
      if (state === 'running') continue; // another server, still alive, runs it
      if (state === 'interrupted') {
        // Its process died running it: at MAX_JOB_ATTEMPTS starts it is failed, not run again (crash-loop.ts).
        const attempts = await this.lake.db.asUser(row.user_id, (tx) => failCrashLoopJob(tx, row));
        if (attempts !== null) {
          this.log(`job ${row.job_id} failed: the server stopped while running it, ${attempts} starts (at most ${MAX_JOB_ATTEMPTS})`);
          this.finishedCounter.inc({ status: 'failed' });
          this.emit('finished', row.job_id, 'failed');
          continue;
        }
      }
      const requeued = await this.lake.db.asUser(row.user_id, (tx) => requeueWaitingJob(tx, row));
      if (requeued) this.enqueue(row.user_id, row.job_id);
    }
  }

  /** A job now 'queued' in the database: run it when a slot is free. */
  enqueue(userId: string, jobId: string): void {
    if (this.stopped || this.running.has(jobId) || this.queue.some((q) => q.jobId === jobId)) return;
    this.queue.push({ userId, jobId });
    this.pump();
  }

  isActive(jobId: string): boolean {
    return this.running.has(jobId) || this.queue.some((q) => q.jobId === jobId);
  }

  live(jobId: string): LiveProgress | null {
    return this.running.get(jobId)?.progress ?? null;
  }

  /**
   * Cancel a queued or running job of this user. A queued one is cancelled at once; a running one
   * stops at its next batch boundary (what it loaded stays; retry resumes it). Returns the status
   * it is left in, or null when it was neither.
   */
  async cancel(userId: string, jobId: string): Promise<JobStatus | null> {
    const running = this.running.get(jobId);
    if (running && running.userId === userId) {
      running.controller.abort('cancel' satisfies StopReason);
      await running.done;
      return 'cancelled';
    }
    const index = this.queue.findIndex((q) => q.jobId === jobId && q.userId === userId);
    if (index >= 0) this.queue.splice(index, 1);
    const cancelled = await this.lake.db.asUser(userId, (tx) => cancelQueuedJob(tx, jobId));
    if (!cancelled) return null;
    this.finishedCounter.inc({ status: 'cancelled' });
    this.emit('finished', jobId, 'cancelled');
    return 'cancelled';
  }

  /**
   * Stop: no new job starts; running ones stop at a batch boundary, their checkpoints committed,
   * and go back to 'queued' for the next start. Queued ones stay queued.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    for (const job of this.running.values()) job.controller.abort('shutdown' satisfies StopReason);
    await Promise.all([...this.running.values()].map((job) => job.done));
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.queue.length > 0) {
      const next = this.queue.shift()!;
      const job: Running = {
        userId: next.userId,
        controller: new AbortController(),
        progress: { records: 0, filesDone: 0, currentFile: null, currentFileBytes: 0, currentFileSize: null },
        done: Promise.resolve(),
      };
      this.running.set(next.jobId, job);
      job.done = this.run(next.jobId, job).finally(() => {
        this.running.delete(next.jobId);
        this.pump();
      });
    }
  }

  private async run(jobId: string, job: Running): Promise<void> {
    const { userId } = job;
    const asUser = <T>(work: (tx: Transaction) => Promise<T>) => this.lake.db.asUser(userId, work);
    let status: JobStatus;
    try {
      const claimed = await asUser(async (tx) => {
        const claim = await claimQueuedJob(tx, jobId, thisRunner());
        if (!claim) return null;
        const uploads = [];
        for (const uploadId of jobUploadIds(claim)) {
          const upload = await readUpload(tx, uploadId);
          if (upload?.status !== 'verified') {
            return { ...claim, uploads: [], problem: `upload ${uploadId} is ${upload?.status ?? 'gone'}: only complete, verified uploads can be imported` };
          }
          uploads.push(upload);
        }
        return { ...claim, uploads, problem: null };
      });
      if (!claimed) return; // cancelled (or taken) while it waited
      if (claimed.problem) throw new Error(claimed.problem);
      // Several uploads are one export (the parts of a split Takeout), read together like `lake import a.zip b.zip`.
      const inputs = [];
      for (const upload of claimed.uploads) inputs.push(await this.uploads.importPath(upload));
      let lastPersist = 0;
      let lastEmit = 0;
      let lastRecords = 0;
      const report = await runImport(this.lake.db, {
        userId,
        jobId,
        inputs,
        batchSize: jobBatchSize(claimed.options),
        blobs: this.lake.blobs,
        clamavAddress: this.lake.config.clamavAddress,
        signal: job.controller.signal,
        onProgress: (p: ImportProgress) => {
          Object.assign(job.progress, {
            records: p.records,
            filesDone: p.filesDone,
            currentFile: p.path,
            currentFileBytes: p.fileBytes,
            currentFileSize: p.fileSize,
          } satisfies LiveProgress);
          this.recordsCounter.inc(p.records - lastRecords);
          this.batchesCounter.inc();
          lastRecords = p.records;
          const now = performance.now();
          if (now - lastEmit >= EMIT_EVERY_MS) {
            lastEmit = now;
            this.emit('progress', jobId, { ...job.progress });
          }
          if (now - lastPersist >= PERSIST_EVERY_MS) {
            lastPersist = now;
            const saved = { ...job.progress };
            asUser((tx) => saveJobProgress(tx, jobId, saved)).catch((error) =>
              this.log(`job ${jobId}: progress not saved`, error),
            );
          }
        },
      });
      status = report.status;
      this.countOutcomes(report);
      await asUser((tx) => saveJobProgress(tx, jobId, { ...job.progress, currentFile: null }));
    } catch (error) {
      if (error instanceof ImportAbortedError) {
        const stopped = error.reason === 'cancel' ? 'cancelled' : 'queued';
        status = stopped;
        await asUser((tx) => stopJob(tx, jobId, stopped, job.progress)).catch((e) => this.log(`job ${jobId}: could not be marked ${stopped}`, e));
      } else {
        status = 'failed';
        const message = error instanceof Error ? error.message : String(error);
        this.log(`job ${jobId} failed`, error);
        await asUser((tx) => failJob(tx, jobId, message)).catch((e) => this.log(`job ${jobId}: could not be marked failed`, e));
      }
    }
    this.finishedCounter.inc({ status });
    this.emit('finished', jobId, status);
  }
}

/**
 * Where in the pipeline a quarantined piece of input was refused: archive safety and encryption
 * in preprocessing, unreadable or unsupported input in transformation (a truncated file's tail
 * too), failed validation in quality control. Rows the database refused are quarantined 'invalid'
 * as well and counted under quality.
 */
function stageOf(category: QuarantineCategory, status: FileReport['status']): 'preprocess' | 'transform' | 'quality' {
  if (category === 'unsafe' || category === 'encrypted' || category === 'too_large' || status === 'refused') return 'preprocess';
  return category === 'invalid' ? 'quality' : 'transform';
}
