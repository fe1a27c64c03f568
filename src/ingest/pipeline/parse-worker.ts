// The parse worker (see parse-in-worker.ts): one file's transform and quality stages and its COPY
// data (produceBatches), in a thread of its own. Its input arrives in chunks sent ahead of need;
// its batches leave as transferred buffers, and it works at most AHEAD batches ahead of what the
// runner has committed.
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { buffersOf } from '../load/encode.js';
import { DESTINATIONS } from '../load/tables.js';
import type { RepairCounts } from '../records.js';
import { loadParser } from '../source.js';
import { produceBatches, type ParseOutcome, type ProducedBatch } from './batches.js';
import { fromErrorMessage, toErrorMessage, type FromWorker, type ToWorker, type WorkerStart, type WorkerTable } from './parse-in-worker.js';

/** Batches handed over and not yet committed beyond which the worker waits: the one loading and one ready. */
const AHEAD = 2;

const start = workerData as WorkerStart;
const port = parentPort!;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const typeOf = new Map<unknown, string>(Object.entries(DESTINATIONS).map(([type, destination]) => [destination, type]));

// Chunks arrive as the runner reads them, up to its budget; each one read here is reported, so
// it sends more while this thread still has input to work on.
const queued: Buffer[] = [];
let ended = false;
/** The input broke (the runner reports why): the stream fails with this after the queued chunks. */
let broken: Error | null = null;
let wanted = false;
/** Pushes the next chunk (or the end) if the stream wants one and there is one. */
function feed(): void {
  if (!wanted) return;
  const chunk = queued.shift();
  if (chunk) {
    wanted = false;
    post({ kind: 'consumed', bytes: chunk.length });
    input.push(chunk);
  } else if (ended) {
    wanted = false;
    if (broken) input.destroy(broken);
    else input.push(null);
  }
}
const input = new Readable({
  read() {
    wanted = true;
    feed();
  },
});
/** Batches handed over and not yet committed. */
const handedOver = new Map<number, ProducedBatch>();
let wakeProducer: (() => void) | null = null;
let finished = false;

port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'chunk':
      queued.push(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength));
      break;
    case 'end':
      ended = true;
      break;
    case 'broken':
      ended = true;
      broken = fromErrorMessage(message);
      break;
    case 'settled':
      handedOver.get(message.id)?.release(message.buffers);
      handedOver.delete(message.id);
      wakeProducer?.();
      if (finished && handedOver.size === 0) port.close();
      return;
  }
  feed();
});

try {
  const source = await loadParser(start.parser);
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const outcome: ParseOutcome = { events: 0, broken: null };
  const context = { path: start.path, repairs, blobs: null, exportedAt: start.exportedAt };
  let id = 0;
  for await (const batch of produceBatches(source, input, context, start.produce, outcome)) {
    const tables: WorkerTable[] = batch.tables.map(({ destination, ...rest }) => ({ ...rest, type: typeOf.get(destination)! }));
    handedOver.set(id, batch);
    const { quarantine, eventsDone, lastOffset, last } = batch;
    post({ kind: 'batch', id, tables, quarantine, eventsDone, lastOffset, last }, buffersOf(tables));
    id++;
    while (handedOver.size > AHEAD) await new Promise<void>((resolve) => (wakeProducer = resolve));
    wakeProducer = null;
  }
  post({ kind: 'done', outcome, repairs });
} catch (error) {
  post({ kind: 'error', ...toErrorMessage(error) });
}
finished = true;
if (handedOver.size === 0) port.close();
