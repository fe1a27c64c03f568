// The import pipeline, file by file through the seed's stages:
//   receipt      job and file rows, SHA-256 and size while streaming, MIME type from content vs name
//   preprocess   archives read as streams with limits (extract/), format detected by content first
//   transform    the source's streaming parser, then text normalization and language tags
//   quality      each record validated; refused input quarantined with file and offset
//   load         batches into their tables with the file's checkpoint in the same transaction
// A re-run of the same command resumes an interrupted file after its last committed batch, and
// the content-hash keys make everything else a counted duplicate.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Database } from '../db/database.js';
import type { BlobStore } from '../store/blob-store.js';
import { LakeError } from '../errors.js';
import { detectInputKind } from './extract/input-kind.js';
import { ChecksumStream, readExport, sniffMimeType, type ExportEntry, type ExtractLimits, type Refusal } from './extract/index.js';
import { loadResilient, type ResilientCounts } from './load/resilient.js';
import type { Checkpoint, QuarantineEntry } from './load/loader.js';
import type { QuarantineCategory, RepairCounts } from './records.js';
import { HEARTBEAT_MS, thisRunner } from './job-liveness.js';
import { assertInputsReadable, unreadableInput } from './receive/inputs.js';
import {
  beatJob,
  claimJob,
  createFile,
  createJob,
  finishFile,
  finishJob,
  removeFileRows,
  takeOverInterruptedFile,
  takeOverInterruptedJob,
} from './receive/ledger.js';
import { ClamdStream, type ScanVerdict } from './receive/malware-scan.js';
import { LOADED_TABLES } from './load/tables.js';
import { drain, peekHead } from './receive/peek.js';
import { addKindCounts, quarantinedCount, tablesOfKinds, type FileReport, type KindCounts, type FileStatus, type ImportReport } from './report.js';
import { detectSource, REGISTRY, standaloneParser } from './sources/registry.js';
import { loadParser, type Source, type SourceEntry } from './source.js';
import { produceBatches, type ParseOutcome, type ProducedBatch } from './pipeline/batches.js';
import { batchesFromWorker } from './pipeline/parse-in-worker.js';

const HEAD_BYTES = 64 * 1024;

export interface ImportProgress {
  /** The file being read, its bytes read so far and its declared size. */
  path: string;
  fileBytes: number;
  fileSize: number | null;
  /** Across the whole import. */
  records: number;
  bytes: number;
  filesDone: number;
  /** Files and bytes of the whole import when known before reading: folders and plain files, not archives. */
  filesTotal: number | null;
  bytesTotal: number | null;
}

export { DEFAULT_BATCH_SIZE } from './batch-size.js';
/**
 * Files of standalone sources from this size are parsed in a worker thread (pipeline/): starting
 * one takes a fraction of a second, which a smaller file does not win back (measured with
 * Records.json into PGlite: slower at half this size, faster at this size).
 */
export const PARSE_WORKER_MIN_BYTES = 16 * 1024 * 1024;

export interface ImportOptions {
  userId: string;
  inputs: readonly string[];
  /** Records (and quarantined values) per load transaction, at most. */
  batchSize: number;
  /** Parse files of standalone sources this large in a worker thread (PARSE_WORKER_MIN_BYTES; 0: all of them). */
  parseWorkerMinBytes?: number;
  limits?: Partial<ExtractLimits>;
  /** Detect among these, loaded, instead of the registry's entries (tests). */
  sources?: readonly Source[];
  /** Where sources keep files as they are (Lake.blobs); without it only metadata is loaded. */
  blobs?: BlobStore;
  /** clamd to scan every file with while it streams (config.clamavAddress). */
  clamavAddress?: string;
  onProgress?: (progress: ImportProgress) => void;
  /** Told when this run takes over the job of an interrupted run of the same import, before it reads anything. */
  onResumeJob?: (job: { jobId: string; startedAt: Date }) => void;
  /** Fill this existing job (made and queued by the API) instead of making a new one. */
  jobId?: string;
  /**
   * Aborting stops the import at the next batch boundary, after the batches in flight have
   * committed with their checkpoints: runImport then rejects with ImportAbortedError and leaves the
   * job and its unfinished file as they are, to be resumed by the next run.
   */
  signal?: AbortSignal;
}

/** The import was stopped through ImportOptions.signal; everything committed so far stays. */
export class ImportAbortedError extends Error {
  constructor(readonly reason: unknown) {
    super('the import was stopped');
    this.name = 'ImportAbortedError';
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ImportAbortedError(signal.reason);
}

export async function runImport(db: Database, options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const { userId } = options;
  await assertInputsReadable(options.inputs);
  const { jobId, resumedInterrupted } = await startJob(db, options);
  // The job's heartbeat: how a later reader tells this run from one whose process is gone (job-liveness.ts).
  const heartbeat = setInterval(() => void beatJob(db, userId, jobId, thisRunner()).catch(() => {}), HEARTBEAT_MS).unref();
  try {
    return await importInto(db, options, jobId, resumedInterrupted, started);
  } catch (cause) {
    // Anything unforeseen ends the job as failed rather than leaving it running; its unfinished
    // file stays resumable. A stop through the signal leaves the job to its caller.
    if (!(cause instanceof ImportAbortedError)) {
      const message = cause instanceof Error ? cause.message : String(cause);
      await finishJob(db, userId, jobId, 'failed', {}, message).catch(() => {});
    }
    throw cause;
  } finally {
    clearInterval(heartbeat);
  }
}

/**
 * The job this run fills: the given one (made by the API), else the job of an interrupted earlier
 * run of the same import (same user, same inputs) taken over, else a new one. Either way this
 * process is recorded as its runner.
 */
async function startJob(db: Database, options: ImportOptions): Promise<{ jobId: string; resumedInterrupted: boolean }> {
  const runner = thisRunner();
  if (options.jobId) {
    await claimJob(db, options.userId, options.jobId, runner);
    return { jobId: options.jobId, resumedInterrupted: false };
  }
  // The same import from another folder or with its parts in another order is still the same.
  const paths = [...new Set(options.inputs.map((input) => path.resolve(input)))].sort();
  const jobOptions = { batchSize: options.batchSize, paths };
  const taken = await takeOverInterruptedJob(db, options.userId, paths, jobOptions, runner);
  if (taken) {
    options.onResumeJob?.(taken);
    return { jobId: taken.jobId, resumedInterrupted: true };
  }
  return { jobId: await createJob(db, options.userId, options.inputs, jobOptions, runner), resumedInterrupted: false };
}

async function importInto(db: Database, options: ImportOptions, jobId: string, resumedInterrupted: boolean, started: number): Promise<ImportReport> {
  const { userId } = options;
  const files: FileReport[] = [];
  const measured = options.onProgress ? await measureInputs(options.inputs) : null;
  const progress: ImportProgress = {
    path: '', fileBytes: 0, fileSize: null, records: 0, bytes: 0, filesDone: 0, filesTotal: measured?.files ?? null, bytesTotal: measured?.bytes ?? null,
  };
  let error: ImportReport['error'] = null;
  const finished = (file: FileReport): void => {
    files.push(file);
    progress.filesDone++;
    progress.bytes += file.bytes;
  };
  try {
    for await (const outcome of readExport(options.inputs, { limits: options.limits })) {
      checkAborted(options.signal);
      if ('refused' in outcome) finished(await recordRefusal(db, userId, jobId, outcome.refused));
      else finished(await importEntry(db, options, jobId, outcome.entry, progress));
    }
  } catch (cause) {
    const failure = cause instanceof LakeError ? cause : unreadableInput(cause);
    if (!failure) throw cause;
    error = { code: failure.code, message: failure.message };
    if (cause instanceof EntryFailure) finished(cause.report);
  }
  await runAfterImport(db, userId, options.sources ?? REGISTRY, files);
  const totals = {
    files: files.length,
    counts: files.reduce<KindCounts>((sum, f) => {
      for (const [kind, n] of Object.entries(f.counts) as [keyof KindCounts, number][]) sum[kind] = (sum[kind] ?? 0) + n;
      return sum;
    }, {}),
    records: files.reduce((n, f) => n + f.records, 0),
    updated: files.reduce((n, f) => n + f.updated, 0),
    duplicates: files.reduce((n, f) => n + f.duplicates, 0),
    quarantined: files.reduce((n, f) => n + quarantinedCount(f), 0),
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    seconds: (performance.now() - started) / 1000,
  };
  // PGlite has no autovacuum: without statistics the planner reads a freshly loaded partitioned
  // table badly (a 100,000-point export: 45 s without, 3 s with). A server's autovacuum does this.
  if (db.backend === 'embedded') {
    for (const table of tablesOfKinds(totals.counts)) await db.query(`ANALYZE ${table}`);
  }
  // The map's cells of the days the import touched, counted once now rather than per batch (migration 0024).
  await db.asUser(userId, (tx) => tx.query(`SELECT timeseries.refresh_stale_location_tiles()`));
  const clean = files.every((f) => f.status === 'done' || f.status === 'skipped');
  const status = error ? 'failed' : clean ? 'done' : 'partial';
  await finishJob(db, userId, jobId, status, totals, error?.message ?? null);
  return { jobId, resumedInterrupted, status, error, files, totals };
}

/**
 * Files and bytes of inputs that are folders and plain files, for the progress line; null when one
 * is an archive, whose entries are only known while it is read (or when a folder cannot be walked).
 * Symbolic links are not followed here: an estimate, which the import's own walk does not depend on.
 */
async function measureInputs(inputs: readonly string[]): Promise<{ files: number; bytes: number } | null> {
  let files = 0;
  let bytes = 0;
  try {
    for (const input of new Set(inputs.map((i) => path.resolve(i)))) {
      const kind = await detectInputKind(input);
      if (kind === 'file') {
        files++;
        bytes += (await stat(input)).size;
      } else if (kind === 'folder') {
        for (const child of await readdir(input, { recursive: true, withFileTypes: true })) {
          if (!child.isFile()) continue;
          files++;
          bytes += (await stat(path.join(child.parentPath ?? child.path, child.name))).size;
        }
      } else {
        return null;
      }
    }
  } catch {
    return null;
  }
  return { files, bytes };
}

/**
 * Each distinct afterImport of the sources that read a file in this import (photos joined to their
 * sidecars...); the notes it returns are added to those files' reports.
 */
async function runAfterImport(db: Database, userId: string, sources: readonly (Source | SourceEntry)[], files: readonly FileReport[]): Promise<void> {
  const used = new Set(files.map((f) => f.format));
  const hooks = new Set<NonNullable<Source['afterImport']>>();
  for (const candidate of sources) {
    if (!used.has(candidate.id)) continue;
    const source = await sourceOf(candidate);
    if (source.afterImport) hooks.add(source.afterImport);
  }
  for (const hook of hooks) {
    for (const { path, note } of (await hook(db, userId)) ?? []) {
      for (const file of files) if (file.path === path) file.note = file.note ? `${file.note}; ${note}` : note;
    }
  }
}

/** A registry entry's source, its parser loaded (on first use); a source as it is. */
async function sourceOf(candidate: Source | SourceEntry): Promise<Source> {
  return 'parse' in candidate ? candidate : loadParser(candidate.parser);
}

async function recordRefusal(db: Database, userId: string, jobId: string, refusal: Refusal): Promise<FileReport> {
  const fileId = await createFile(db, userId, jobId, {
    path: refusal.path,
    archive: refusal.archive,
    size: null,
    headSha256: null,
    mimeType: null,
    mimeFromName: null,
    format: null,
    status: 'refused',
    note: refusal.reason,
  });
  await loadResilient(db, { userId, jobId, fileId }, {
    tables: [],
    quarantine: [{ entry: refusal.path, category: refusal.category, reason: refusal.reason }],
    checkpoint: null,
  }, refusal.path);
  const report = emptyReport(refusal.path, refusal.archive, 'refused', refusal.reason);
  report.quarantined[refusal.category] = 1;
  return report;
}

function emptyReport(path: string, archive: string | null, status: FileStatus, note: string | null): FileReport {
  return {
    path,
    archive,
    format: null,
    status,
    mimeType: null,
    counts: {},
    records: 0,
    updated: 0,
    duplicates: 0,
    quarantined: {},
    resumedFrom: 0,
    bytes: 0,
    seconds: 0,
    repairs: { invalidUtf8: 0, nulCharacters: 0 },
    sha256: null,
    note,
  };
}

/** An entry that could not be read to its end (a broken or unsafe archive): ends the import. */
class EntryFailure extends LakeError {
  constructor(
    cause: LakeError,
    readonly report: FileReport,
  ) {
    super(cause.code, cause.message, { cause });
  }
}

async function importEntry(db: Database, options: ImportOptions, jobId: string, entry: ExportEntry, progress: ImportProgress): Promise<FileReport> {
  const started = performance.now();
  const { userId } = options;
  const report = emptyReport(entry.path, entry.archive, 'done', null);
  const raw = await entry.open();
  const checksum = new ChecksumStream();
  raw.on('error', (e) => checksum.destroy(e));
  raw.pipe(checksum);
  const scanner = options.clamavAddress ? new ClamdStream(options.clamavAddress) : null;
  if (scanner) raw.pipe(scanner);
  const { head, rest } = await peekHead(checksum, HEAD_BYTES);
  const sniff = sniffMimeType(head, entry.path);
  report.mimeType = sniff.detected;
  const probe = { path: entry.path, head, size: entry.size ?? head.length };
  const detected = head.length > 0 ? detectSource<Source | SourceEntry>(probe, options.sources ?? REGISTRY, sniff.verdict !== 'mismatch') : null;
  const source = detected && (await sourceOf(detected));
  report.format = source?.id ?? null;
  const fileRow = {
    path: entry.path,
    archive: entry.archive,
    size: entry.size,
    headSha256: createHash('sha256').update(head).digest(),
    mimeType: sniff.detected,
    mimeFromName: sniff.expected,
    format: report.format,
  };

  let fileId: string;
  if (!source) {
    report.status = head.length === 0 ? 'empty' : 'skipped';
    report.note = head.length === 0 ? 'empty file' : unrecognised(sniff);
    fileId = await createFile(db, userId, jobId, { ...fileRow, status: 'loading' });
    await drain(rest);
  } else {
    const resumed = await takeOverInterruptedFile(db, userId, jobId, { path: entry.path, size: entry.size, headSha256: fileRow.headSha256 });
    fileId = resumed?.fileId ?? (await createFile(db, userId, jobId, { ...fileRow, status: 'loading' }));
    report.resumedFrom = resumed?.recordsDone ?? 0;
    try {
      const file = {
        target: { userId, jobId, fileId },
        source,
        input: rest,
        path: entry.path,
        size: entry.size,
        exportedAt: entry.modifiedAt,
        resumedFrom: report.resumedFrom,
        repairs: report.repairs,
      };
      const outcome = await parseAndLoad(db, options, file, {
        quarantined: (entries) => countQuarantined(report, entries),
        committed: (counts) => {
          countCommitted(report, counts, source.id);
          progress.path = entry.path;
          progress.fileBytes = checksum.bytes;
          progress.fileSize = entry.size;
          progress.records += counts.inserted + counts.updated + counts.duplicates;
          options.onProgress?.(progress);
        },
      });
      if (outcome.broken) {
        report.status = 'partial';
        report.note = outcome.broken;
      } else if (report.status === 'done' && outcome.events === 0) {
        report.status = 'empty';
        report.note = `recognised as ${source.id} but holds no records`;
      }
    } catch (cause) {
      if (cause instanceof ImportAbortedError) {
        raw.destroy(); // stopped mid-way: the file is left to be resumed, not read to its end
        throw cause;
      }
      if (!(cause instanceof LakeError) || !cause.code.startsWith('ARCHIVE_')) throw cause;
      // The archive broke under this entry: what was committed stays, the file stays resumable.
      report.status = 'failed';
      report.note = cause.message;
      report.bytes = checksum.bytes;
      report.seconds = (performance.now() - started) / 1000;
      await finishFile(db, userId, fileId, { status: 'failed', sha256: null, bytes: checksum.bytes, repairs: report.repairs, note: cause.message });
      throw new EntryFailure(cause, report);
    }
  }
  // Read by a source although its content is not what its name says (the catch-all keeps a PNG
  // named .json): the report says so.
  if (source && sniff.verdict === 'mismatch') report.note = [report.note, mismatch(sniff)].filter(Boolean).join('; ');
  // A parser may stop before the end; read the rest so the checksum covers the whole file.
  await drain(rest).catch(() => {});
  const sum = await checksum.digest().catch(() => null);
  report.sha256 = sum?.sha256 ?? null;
  report.bytes = sum?.bytes ?? checksum.bytes;
  const scanStatus = scanner ? await applyScanVerdict(db, userId, jobId, fileId, await scanner.verdict, report) : 'not_scanned';
  report.seconds = (performance.now() - started) / 1000;
  await finishFile(db, userId, fileId, {
    status: report.status,
    sha256: report.sha256,
    bytes: report.bytes,
    repairs: report.repairs,
    note: report.note,
    scanStatus,
  });
  return report;
}

/**
 * An infected file is refused after the fact: its rows are removed and it is quarantined. A scan
 * that failed leaves the data and says so in the file's note and scan status.
 */
async function applyScanVerdict(
  db: Database,
  userId: string,
  jobId: string,
  fileId: string,
  verdict: ScanVerdict,
  report: FileReport,
): Promise<'clean' | 'infected' | 'error'> {
  if (verdict.status === 'clean') return 'clean';
  if (verdict.status === 'error') {
    report.note = [report.note, `not verified by the malware scanner: ${verdict.reason}`].filter(Boolean).join('; ');
    return 'error';
  }
  const reason = `malware found by ClamAV: ${verdict.signature}`;
  await removeFileRows(db, userId, fileId, LOADED_TABLES);
  await loadResilient(db, { userId, jobId, fileId }, { tables: [], quarantine: [{ entry: report.path, category: 'unsafe', reason }], checkpoint: null }, report.path);
  report.status = 'refused';
  report.note = reason;
  report.records = 0;
  report.counts = {};
  report.updated = 0;
  report.quarantined.unsafe = (report.quarantined.unsafe ?? 0) + 1;
  return 'infected';
}

function mismatch(sniff: ReturnType<typeof sniffMimeType>): string {
  return `the content is ${sniff.detected} but the name says ${sniff.expected}`;
}

function unrecognised(sniff: ReturnType<typeof sniffMimeType>): string {
  if (sniff.verdict === 'mismatch') return `not imported: ${mismatch(sniff)}`;
  return `not imported: no parser recognises this ${sniff.detected ?? 'content'}`;
}

/** A recognised file to parse and load. */
interface FileToLoad {
  target: { userId: string; jobId: string; fileId: string };
  source: Source;
  input: Readable;
  /** Path inside the export. */
  path: string;
  size: number | null;
  exportedAt: Date | null;
  /** Parse events an interrupted import of this file committed: skipped. */
  resumedFrom: number;
  /** The file's repair counts, which the parser adds to as it reads. */
  repairs: RepairCounts;
}

/**
 * What a file's batches add to its counts as they go, so that a file stopped half-way reports
 * what it did load: a batch's quarantined entries when it is handed to the database, its rows
 * once it is committed.
 */
interface BatchTally {
  quarantined(entries: readonly QuarantineEntry[]): void;
  committed(counts: ResilientCounts): void;
}

function countQuarantined(report: FileReport, entries: readonly QuarantineEntry[]): void {
  for (const q of entries) report.quarantined[q.category] = (report.quarantined[q.category] ?? 0) + 1;
}

function countCommitted(report: FileReport, counts: ResilientCounts, sourceId: string): void {
  report.records += counts.inserted;
  addKindCounts(report.counts, counts.insertedByTable, sourceId);
  report.updated += counts.updated;
  report.duplicates += counts.duplicates;
  for (const category of Object.keys(counts.quarantinedByDatabase) as QuarantineCategory[]) {
    report.quarantined[category] = (report.quarantined[category] ?? 0) + counts.quarantinedByDatabase[category]!;
  }
}

/** Parses the file and loads its batches as they come, each told to `tally`; returns how the parse ended. */
async function parseAndLoad(db: Database, options: ImportOptions, file: FileToLoad, tally: BatchTally): Promise<ParseOutcome> {
  const { target, source, path } = file;
  // Up to `window` batches load at once on their own connections while the next is parsed and
  // turned into COPY data (PGlite has one connection: there the window is 1). A batch's
  // checkpoint never claims more than is certainly committed: its own end when nothing loads
  // before it, otherwise the end of the last batch awaited. A kill thus re-reads at most `window`
  // batches, whose rows come back as duplicates.
  const window = Math.max(1, Math.min(db.concurrentTransactions, availableParallelism()));
  const loading: { done: Promise<void>; end: Checkpoint; release: () => void }[] = [];
  let committed: Checkpoint | null = null;
  const settleOldest = async (): Promise<void> => {
    const oldest = loading.shift()!;
    await oldest.done;
    committed = oldest.end;
    oldest.release();
  };
  const load = async (produced: ProducedBatch): Promise<void> => {
    tally.quarantined(produced.quarantine);
    const end: Checkpoint = { recordsDone: produced.eventsDone, byteOffset: produced.lastOffset };
    while (loading.length >= window) await settleOldest();
    const checkpoint = loading.length === 0 ? end : committed;
    const done = loadResilient(db, target, { tables: produced.tables, quarantine: produced.quarantine, checkpoint }, path).then((counts) => tally.committed(counts));
    done.catch(() => {}); // awaited (and rethrown) by settleOldest
    loading.push({ done, end, release: () => produced.release() });
  };

  const outcome: ParseOutcome = { events: 0, broken: null };
  const produce = { resumedFrom: file.resumedFrom, batchSize: options.batchSize, target };
  // Only into the embedded database, which loads in this thread (see pipeline/parse-in-worker.ts).
  const parser = db.backend === 'embedded' && file.size !== null && file.size >= (options.parseWorkerMinBytes ?? PARSE_WORKER_MIN_BYTES) ? standaloneParser(source.id) : null;
  const worker = parser ? batchesFromWorker(parser, file.input, { path, exportedAt: file.exportedAt }, produce, outcome, file.repairs) : null;
  const batches: AsyncIterable<ProducedBatch> = worker?.batches ??
    produceBatches(source, file.input, { path, repairs: file.repairs, blobs: options.blobs ?? null, exportedAt: file.exportedAt }, produce, outcome);
  try {
    for await (const produced of batches) {
      await load(produced);
      if (!produced.last && options.signal?.aborted) {
        while (loading.length > 0) await settleOldest(); // the checkpoints of what was read are committed before stopping
        throw new ImportAbortedError(options.signal.reason);
      }
    }
    while (loading.length > 0) await settleOldest();
  } finally {
    await worker?.stop();
  }
  return outcome;
}
