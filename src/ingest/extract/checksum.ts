// SHA-256 and byte count computed while the data flows to its consumer, so recording a file's
// checksum never costs a second read of a multi-GB file.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface Checksum {
  sha256: string; // lowercase hex
  bytes: number;
}

/**
 * A pass-through Transform. `digest()` resolves once the stream has ended (all bytes have passed),
 * and rejects if it is destroyed first: a checksum of part of a file is never reported.
 */
export class ChecksumStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private byteCount = 0;
  private result: Checksum | null = null;
  private pending: Promise<Checksum> | null = null;

  /** Bytes that have passed through so far. */
  get bytes(): number {
    return this.byteCount;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.byteCount += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.result = { sha256: this.hash.digest('hex'), bytes: this.byteCount };
    this.emit('checksum', this.result);
    callback();
  }

  digest(): Promise<Checksum> {
    this.pending ??= new Promise<Checksum>((resolve, reject) => {
      const settle = (): void => {
        if (this.result !== null) resolve(this.result);
        else reject(new Error('checksum stream closed before the end of the data'));
      };
      if (this.result !== null || this.destroyed) settle();
      else {
        // Resolves as soon as the last byte is hashed, even if the output is not read to its end.
        this.once('checksum', settle);
        this.once('error', reject);
        this.once('close', settle);
      }
    });
    return this.pending;
  }
}
