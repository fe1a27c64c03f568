// One thread of the backup compression pool (compress-pool.ts): pieces in, zstd frames out, with
// the same library and level as the store's cold tier (store/frame-codecs.ts). Plain JavaScript:
// a worker starts without the tsx loader.
import { parentPort } from 'node:worker_threads';
import { compress, init } from '@bokuweb/zstd-wasm';

/** zstd's default level, as store/frame-codecs.ts. */
const LEVEL = 3;
await init();

// { id, buffer, length, sampleBytes, rawRatio } -> { id, buffer, length, raw }: a piece whose
// first sampleBytes do not compress below rawRatio of their size comes back as it went (raw).
parentPort.on('message', ({ id, buffer, length, sampleBytes, rawRatio }) => {
  try {
    const piece = new Uint8Array(buffer, 0, length);
    const sample = piece.subarray(0, sampleBytes);
    if (compress(sample, LEVEL).length >= sample.length * rawRatio) {
      parentPort.postMessage({ id, buffer, length, raw: true }, [buffer]);
      return;
    }
    const frame = compress(piece, LEVEL).slice(); // out of the WebAssembly heap
    parentPort.postMessage({ id, buffer: frame.buffer, length: frame.length, raw: false }, [frame.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: String(error?.message ?? error) });
  }
});
