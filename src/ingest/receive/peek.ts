// Look at a stream's first bytes without losing them: archive entries inside a .tgz can be read
// only once, so detection must happen on the same stream the parser then reads.
import { Readable } from 'node:stream';

export async function peekHead(stream: Readable, length: number): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < length) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* chunks;
    if (ended) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  const rest = Readable.from(replay(), { objectMode: false });
  rest.on('close', () => void iterator.return?.());
  return { head: Buffer.concat(chunks, size).subarray(0, length), rest };
}

/** Read a stream to its end, discarding the bytes (so a checksum over it completes). */
export async function drain(stream: Readable): Promise<void> {
  for await (const chunk of stream) void chunk;
}
