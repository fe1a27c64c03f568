// Reading the first bytes of a stream (for magic-byte detection) without reading the rest.
import type { Readable } from 'node:stream';

/**
 * Resolves with up to `length` bytes from the start of `stream` (fewer if it ends first), then
 * destroys the stream: the caller opens a fresh one to read the whole.
 */
export function readHead(stream: Readable, length: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let collected = 0;
    const finish = (error: Error | null): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      // Errors after we stopped listening (a source torn down with it) are of no interest.
      stream.on('error', () => {});
      stream.destroy();
      if (error !== null) reject(error);
      else resolve(Buffer.concat(chunks, collected).subarray(0, length));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      collected += chunk.length;
      if (collected >= length) finish(null);
    };
    const onEnd = (): void => finish(null);
    const onError = (error: Error): void => finish(error);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
