// Backup pieces compressed on worker threads (compress-worker.mjs), one per core: the WebAssembly
// zstd compresses about 80-110 MB/s on one core here, the most a backup spends its time on, and
// the main thread meanwhile hashes, seals and writes. Pieces come back in the order asked for by
// whoever awaits them (encodeBackupFile keeps a few in flight and takes them in order).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface CompressedPiece {
  /** True when the piece did not compress (its sample): `bytes` is the piece itself. */
  raw: boolean;
  bytes: Buffer;
}

interface Pending {
  resolve: (piece: CompressedPiece) => void;
  reject: (error: Error) => void;
}

const WORKER_URL = new URL('./compress-worker.mjs', import.meta.url);

class CompressPool {
  private readonly workers: { worker: Worker; pending: Map<number, Pending> }[] = [];
  private nextId = 0;
  private turn = 0;

  constructor(readonly size: number) {}

  /**
   * The piece compressed, or given back raw when its first `sampleBytes` do not compress below
   * `rawRatio`. The piece's memory moves to the worker: the caller must not use `piece` after.
   */
  compress(piece: Buffer, sampleBytes: number, rawRatio: number): Promise<CompressedPiece> {
    const slot = this.slot(this.turn++ % this.size);
    const id = this.nextId++;
    // A piece that shares its memory (a view into a larger buffer, Buffer's pool) is copied into
    // memory of its own, so that only it moves.
    let memory = piece.buffer as ArrayBuffer;
    if (piece.byteOffset !== 0 || memory.byteLength !== piece.length) {
      memory = new ArrayBuffer(piece.length);
      new Uint8Array(memory).set(piece);
    }
    return new Promise<CompressedPiece>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage({ id, buffer: memory, length: piece.length, sampleBytes, rawRatio }, [memory]);
    });
  }

  private slot(index: number): { worker: Worker; pending: Map<number, Pending> } {
    const existing = this.workers[index];
    if (existing) return existing;
    const worker = new Worker(WORKER_URL);
    const slot = { worker, pending: new Map<number, Pending>() };
    worker.unref(); // referenced only while it has pieces to give back
    worker.on('message', (message: { id: number; buffer?: ArrayBuffer; length?: number; raw?: boolean; error?: string }) => {
      const waiting = slot.pending.get(message.id);
      slot.pending.delete(message.id);
      if (slot.pending.size === 0) worker.unref();
      if (!waiting) return;
      if (message.error !== undefined) waiting.reject(new Error(`zstd compression failed: ${message.error}`));
      else waiting.resolve({ raw: Boolean(message.raw), bytes: Buffer.from(message.buffer!, 0, message.length!) });
    });
    const fail = (error: Error) => {
      for (const waiting of slot.pending.values()) waiting.reject(error);
      slot.pending.clear();
      if (this.workers[index] === slot) delete this.workers[index];
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the compression thread ended (exit code ${code})`)));
    this.workers[index] = slot;
    return slot;
  }
}

let pool: CompressPool | null = null;

/** The process's compression pool: a thread per core, at most four, started when first used. */
export function compressPool(): CompressPool {
  pool ??= new CompressPool(Math.max(1, Math.min(4, availableParallelism())));
  return pool;
}
