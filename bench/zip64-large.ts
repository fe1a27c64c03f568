// Z6: a ZIP64 archive over 4 GiB holding an entry over 4 GiB, read back through readExport.
// Too slow for the test suite (it writes and reads about 9 GiB); run it by hand:
//   node --import tsx bench/zip64-large.ts [--entry-gib 4.5] [--deflate]
// Writes into a temp folder that is removed at the end, and exits non-zero on any mismatch.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import yazl from 'yazl';
import { readExport } from '../src/ingest/extract/index.js';

const { values } = parseArgs({ options: { 'entry-gib': { type: 'string', default: '4.5' }, deflate: { type: 'boolean', default: false } } });
const entryBytes = Math.round(Number(values['entry-gib']) * 1024 ** 3);
const compress = values.deflate === true;
const CHUNK = 1024 * 1024;

/** Deterministic, non-repeating content: a random-looking block with the chunk number stamped in. */
function* content(total: number, hash: ReturnType<typeof createHash>): Generator<Buffer> {
  const base = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i += 1) base[i] = (i * 2654435761) >>> 24;
  for (let offset = 0, index = 0; offset < total; offset += CHUNK, index += 1) {
    const chunk = Buffer.from(base.subarray(0, Math.min(CHUNK, total - offset)));
    if (chunk.length >= 8) chunk.writeBigUInt64LE(BigInt(index), 0);
    hash.update(chunk);
    yield chunk;
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-zip64-bench-'));
try {
  const file = path.join(dir, 'takeout-zip64.zip');
  const written = createHash('sha256');
  const trailer = Buffer.from('the entry after the big one starts past 4 GiB');

  let started = performance.now();
  const zip = new yazl.ZipFile();
  zip.addReadStream(Readable.from(content(entryBytes, written)), 'Takeout/Drive/big.bin', { size: entryBytes, compress });
  zip.addBuffer(trailer, 'Takeout/after.txt', { compress: false });
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
  const archiveBytes = (await stat(file)).size;
  const writeSeconds = (performance.now() - started) / 1000;
  const expectedDigest = written.digest('hex');

  started = performance.now();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const seen: Array<{ path: string; size: number | null; bytes: number; sha256: string }> = [];
  for await (const outcome of readExport([file])) {
    if ('refused' in outcome) throw new Error(`refused: ${JSON.stringify(outcome.refused)}`);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of await outcome.entry.open()) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    seen.push({ path: outcome.entry.path, size: outcome.entry.size, bytes, sha256: hash.digest('hex') });
  }
  clearInterval(sampler);
  const readSeconds = (performance.now() - started) / 1000;

  const [big, after] = seen;
  const ok =
    seen.length === 2 &&
    big?.path === 'Takeout/Drive/big.bin' &&
    big.size === entryBytes &&
    big.bytes === entryBytes &&
    big.sha256 === expectedDigest &&
    after?.path === 'Takeout/after.txt' &&
    after.sha256 === createHash('sha256').update(trailer).digest('hex');

  console.log(
    JSON.stringify(
      {
        ok,
        compress,
        entryBytes,
        archiveBytes,
        archiveOver4GiB: archiveBytes > 2 ** 32,
        writeSeconds: Number(writeSeconds.toFixed(1)),
        readSeconds: Number(readSeconds.toFixed(1)),
        readMiBPerSecond: Math.round(entryBytes / 1024 ** 2 / readSeconds),
        peakRssMiB: Math.round(peakRss / 1024 ** 2),
        entries: seen,
      },
      null,
      2,
    ),
  );
  if (!ok) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
