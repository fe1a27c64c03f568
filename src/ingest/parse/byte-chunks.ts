// Reading a source's input as Buffers, the same way for every parser: a failure to read becomes a
// ParseError naming the byte where reading stopped (archive errors stay as they are: the runner
// stops the import on them), and stopping early (the consumer, an error in the loop) releases
// the input.
import { LakeError, ParseError } from '../../errors.js';

export async function* byteChunks(input: AsyncIterable<unknown>, path: string): AsyncGenerator<Buffer> {
  const chunks = input[Symbol.asyncIterator]();
  let bytesRead = 0;
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await chunks.next();
      } catch (error) {
        if (error instanceof LakeError) throw error;
        throw new ParseError(path, bytesRead, 'the file could not be read further', { cause: error });
      }
      if (next.done) return;
      const chunk = toBuffer(next.value);
      bytesRead += chunk.length;
      yield chunk;
    }
  } finally {
    await chunks.return?.();
  }
}

export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`expected bytes from the input stream, got ${typeof chunk}`);
}
