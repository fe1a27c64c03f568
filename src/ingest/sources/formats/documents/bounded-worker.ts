// A worker thread that reads one document at a time within its own heap and a time limit (pdf.js
// for PDFs, mammoth for DOCX): a file that needs more fails alone, the import and the process go on.
import { Worker } from 'node:worker_threads';

/** What became of one read: the worker's answer, or why there is none. */
export type WorkerOutcome<T> =
  | { ok: true; answer: T }
  | { ok: false; failure: 'heap' | 'time' | 'error' | 'exit'; detail: string };

export class BoundedWorker<T> {
  private worker: Worker | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: URL,
    readonly heapMb: number,
  ) {}

  /** Send `bytes` (handed over, not copied, when they have a buffer to themselves) with `fields`; one read at a time. */
  read(bytes: Buffer, fields: Record<string, unknown>, timeoutMs: number): Promise<WorkerOutcome<T>> {
    const run = this.queue.then(() => this.readNow(bytes, fields, timeoutMs));
    this.queue = run.catch(() => {});
    return run;
  }

  private start(): Worker {
    // Without the parent's flags (the tsx loader, its heap size): the worker is plain JavaScript.
    const started = new Worker(this.url, { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: this.heapMb } });
    started.unref(); // an idle reader does not keep the process alive (a read in progress has its timer)
    started.on('exit', () => {
      if (this.worker === started) this.worker = null;
    });
    started.on('error', () => {}); // reported to the read in progress, below
    return started;
  }

  private readNow(bytes: Buffer, fields: Record<string, unknown>, timeoutMs: number): Promise<WorkerOutcome<T>> {
    const reader = (this.worker ??= this.start());
    return new Promise((resolve) => {
      const finish = (outcome: WorkerOutcome<T>): void => {
        clearTimeout(timer);
        reader.off('message', onMessage);
        reader.off('error', onError);
        reader.off('exit', onExit);
        // A worker that failed is not used again: its heap or state may be spent.
        if (!outcome.ok) {
          if (this.worker === reader) this.worker = null;
          void reader.terminate();
        }
        resolve(outcome);
      };
      const onMessage = (answer: T): void => finish({ ok: true, answer });
      const onError = (error: Error & { code?: string }): void =>
        finish(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? { ok: false, failure: 'heap', detail: error.message } : { ok: false, failure: 'error', detail: error.message });
      const onExit = (code: number): void => finish({ ok: false, failure: 'exit', detail: String(code) });
      const timer = setTimeout(() => finish({ ok: false, failure: 'time', detail: `${timeoutMs} ms` }), timeoutMs);
      reader.on('message', onMessage);
      reader.once('error', onError);
      reader.once('exit', onExit);
      const own = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength && bytes.buffer instanceof ArrayBuffer;
      const data = own ? new Uint8Array(bytes.buffer, 0, bytes.byteLength) : new Uint8Array(bytes);
      reader.postMessage({ ...fields, data }, [data.buffer as ArrayBuffer]);
    });
  }
}
