// Parsing a large file in a worker thread while this thread loads it into the embedded database.
// PGlite runs inside this thread: without the worker, parsing, hashing and writing COPY data for
// a point and storing it take turns on one core while the other idles. The worker
// (parse-worker.ts) runs the same produceBatches this thread would and hands over its COPY data;
// this side sends it the file ahead of need (a PGlite statement holds this thread for the length
// of a batch, so the worker must not wait for each chunk), and gives each batch's buffers back
// once it is committed. On a server the database has its own processes: there the worker was
// measured slower (the messages and copies, a second heap and module loader) and is not used.
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { ERRORS, LakeError, type ErrorCode } from '../../errors.js';
import { buffersOf, type EncodedTable } from '../load/encode.js';
import type { QuarantineEntry } from '../load/loader.js';
import { DESTINATIONS, type Destination } from '../load/tables.js';
import type { LakeRecord, RepairCounts } from '../records.js';
import type { ParserModule } from '../source.js';
import type { ParseOutcome, ProduceOptions, ProducedBatch } from './batches.js';

export interface WorkerStart {
  /** The source's parser, which the worker imports alone. */
  parser: ParserModule;
  path: string;
  exportedAt: Date | null;
  produce: ProduceOptions;
}

/** An EncodedTable on its way between threads: its destination by record type. */
export type WorkerTable = Omit<EncodedTable, 'destination'> & { type: string };

export type ToWorker =
  | { kind: 'chunk'; data: Uint8Array }
  | { kind: 'end' }
  /** The input broke: the worker's input fails with this error (a LakeError stays one: parsers stop on it rather than keep a partial file). */
  | ({ kind: 'broken' } & ErrorMessage)
  /** The batch is committed: its buffers come back to be written into again. */
  | { kind: 'settled'; id: number; buffers: ArrayBuffer[] };

export type FromWorker =
  | { kind: 'consumed'; bytes: number }
  | { kind: 'batch'; id: number; tables: WorkerTable[]; quarantine: QuarantineEntry[]; eventsDone: number; lastOffset: number; last: boolean }
  | { kind: 'done'; outcome: ParseOutcome; repairs: RepairCounts }
  | ({ kind: 'error' } & ErrorMessage);

/** An error on its way between threads: its message, and its code when it is a LakeError. */
export interface ErrorMessage {
  message: string;
  code: string | null;
}

export function toErrorMessage(error: unknown): ErrorMessage {
  const e = error as Error & { code?: unknown };
  return { message: e.message, code: error instanceof LakeError ? (e.code as string) : null };
}

/** The error again on this side: a LakeError with its code, or a plain Error. */
export function fromErrorMessage({ message, code }: ErrorMessage): Error {
  return code !== null && code in ERRORS ? new LakeError(code as ErrorCode, message) : new Error(message);
}

/** The worker's heap bound. */
const WORKER_HEAP_MB = 128;
/** Input sent to the worker and not yet read by it, at most: enough for it to parse through a batch's load. */
const INPUT_AHEAD_BYTES = 16 * 1024 * 1024;

export interface ProducedBatches {
  batches: AsyncIterable<ProducedBatch>;
  /** Ends the worker, whatever state it is in (call when the file is done or abandoned). */
  stop(): Promise<void>;
}

export function batchesFromWorker(
  parser: ParserModule,
  input: Readable,
  file: { path: string; exportedAt: Date | null },
  produce: ProduceOptions,
  outcome: ParseOutcome,
  repairs: RepairCounts,
): ProducedBatches {
  const start: WorkerStart = { parser, path: file.path, exportedAt: file.exportedAt, produce };
  const worker = new Worker(new URL('./parse-worker-entry.mjs', import.meta.url), {
    workerData: start,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  });
  worker.unref(); // never what keeps the process alive: stop() ends it

  // Messages for the batch generator, in order; a failure of the input or the worker ends it.
  const inbox: (FromWorker | { kind: 'failed'; error: unknown })[] = [];
  let wake: (() => void) | null = null;
  const deliver = (message: FromWorker | { kind: 'failed'; error: unknown }) => {
    inbox.push(message);
    wake?.();
  };
  let exited = false;

  // The input, sent ahead while the worker has less than INPUT_AHEAD_BYTES unread.
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let ahead = 0;
  let pumping = false;
  let inputDone = false;
  /** Why the input stopped (the archive broke): the worker stops there too, and this is the import's error. */
  let inputError: unknown = null;
  const pump = async (): Promise<void> => {
    if (pumping || inputDone) return;
    pumping = true;
    try {
      while (ahead < INPUT_AHEAD_BYTES && !exited) {
        const next = await chunks.next();
        if (next.done) {
          inputDone = true;
          worker.postMessage({ kind: 'end' } satisfies ToWorker);
          return;
        }
        const copy = new Uint8Array(next.value); // a chunk may share its memory with others: send a copy
        ahead += copy.length;
        worker.postMessage({ kind: 'chunk', data: copy } satisfies ToWorker, [copy.buffer]);
      }
    } catch (error) {
      // The archive broke: the worker hands over the batches it finished from what it got, then
      // fails where the input ends, and the import fails with this error, as without a worker.
      inputDone = true;
      inputError = error;
      worker.postMessage({ kind: 'broken', ...toErrorMessage(error) } satisfies ToWorker);
    } finally {
      pumping = false;
    }
  };

  worker.on('message', (message: FromWorker) => {
    if (message.kind === 'consumed') {
      ahead -= message.bytes;
      void pump();
    } else {
      deliver(message);
    }
  });
  worker.on('error', (error) => deliver({ kind: 'failed', error }));
  worker.on('exit', () => {
    exited = true;
    deliver({ kind: 'failed', error: new Error(`the parse worker for ${file.path} stopped before the end of the file`) });
  });
  void pump();

  const toBatch = (message: Extract<FromWorker, { kind: 'batch' }>): ProducedBatch => ({
    quarantine: message.quarantine,
    eventsDone: message.eventsDone,
    lastOffset: message.lastOffset,
    last: message.last,
    tables: message.tables.map(({ type, data, ...rest }) => ({
      ...rest,
      destination: DESTINATIONS[type as LakeRecord['type']] as Destination,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    })),
    release() {
      if (exited) return;
      const buffers = buffersOf(this.tables);
      worker.postMessage({ kind: 'settled', id: message.id, buffers } satisfies ToWorker, buffers);
    },
  });

  async function* batches(): AsyncGenerator<ProducedBatch> {
    for (;;) {
      while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      const message = inbox.shift()!;
      switch (message.kind) {
        case 'batch':
          yield toBatch(message);
          break;
        case 'done':
          Object.assign(outcome, message.outcome);
          repairs.invalidUtf8 += message.repairs.invalidUtf8;
          repairs.nulCharacters += message.repairs.nulCharacters;
          return;
        case 'error':
          if (inputError) throw inputError;
          throw fromErrorMessage(message);
        case 'failed':
          throw message.error;
      }
    }
  }

  return {
    batches: batches(),
    async stop() {
      if (!exited) await worker.terminate();
      await chunks.return?.();
    },
  };
}
