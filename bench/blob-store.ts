// Blob store throughput per tier: put (hash + encode + write + fsync + rename) and read (decode +
// verify the hash) of one large generated blob, in MB/s, with the stored size and the peak RSS.
//
//   node --import tsx bench/blob-store.ts [--megabytes 1024] [--tiers hot,warm,cold] [--data media,records] [--dir DIR] [--json]
//
// Two kinds of content: `media` (random bytes: photos and videos, which do not compress) and
// `records` (JSON lines of location points with random values, compressing about as real exports
// do). Each tier and kind runs in a process of its own, so its peak RSS is its own, against a
// fresh store under DIR (default: the system temporary directory), removed afterwards. The data is
// streamed from a 32 MiB pool made before timing; the codecs compress each 1 MiB piece on its own,
// so the repetition does not help them. Reads come from the page cache right after the put: they
// measure decoding and hashing, not the disk.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs, promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { BLOB_TIERS, BlobStore, isBlobTier, type BlobTier } from '../src/store/blob-store.js';
import { makeRandom } from './support/random.js';

const MIB = 1 << 20;
const POOL_BYTES = 32 * MIB;
const CHUNK_BYTES = MIB;
const KINDS = ['media', 'records'] as const;
type Kind = (typeof KINDS)[number];

interface RunResult {
  tier: BlobTier;
  kind: Kind;
  megabytes: number;
  putSeconds: number;
  readSeconds: number;
  storedBytes: number;
  /** After the data pool is made, before the put. */
  startRssMiB: number;
  peakRssMiB: number;
}

const { values: args } = parseArgs({
  options: {
    megabytes: { type: 'string', default: '1024' },
    tiers: { type: 'string', default: BLOB_TIERS.join(',') },
    data: { type: 'string', default: KINDS.join(',') },
    dir: { type: 'string', default: os.tmpdir() },
    json: { type: 'boolean', default: false },
    // Internal: run one tier and kind in this process and print its result as JSON.
    run: { type: 'string' },
  },
});
const megabytes = Number(args.megabytes);

function makePool(kind: Kind): Buffer {
  if (kind === 'media') return randomBytes(POOL_BYTES);
  // Written line by line into the pool, so making it holds no more than the pool itself.
  const pool = Buffer.alloc(POOL_BYTES);
  const random = makeRandom(7);
  let offset = 0;
  let at = Date.UTC(2019, 0, 1);
  while (offset < POOL_BYTES) {
    at += Math.floor(random() * 120_000);
    const line = JSON.stringify({
      timestamp: new Date(at).toISOString(),
      latitudeE7: Math.round(525_200_000 + random() * 1_000_000),
      longitudeE7: Math.round(134_050_000 + random() * 1_000_000),
      accuracy: Math.floor(random() * 60),
      source: random() < 0.8 ? 'WIFI' : 'GPS',
    });
    offset += pool.write(`${line}\n`, offset);
  }
  return pool;
}

/** `total` bytes from the pool, in 1 MiB chunks, without copying. */
function streamFrom(pool: Buffer, total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return this.push(null);
      const start = sent % pool.length;
      const chunk = pool.subarray(start, Math.min(start + CHUNK_BYTES, pool.length, start + total - sent));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

async function runOne(tier: BlobTier, kind: Kind): Promise<RunResult> {
  const pool = makePool(kind);
  const startRssMiB = Math.round(process.memoryUsage().rss / MIB);
  const root = await mkdtemp(path.join(args.dir!, 'lake-bench-blobs-'));
  try {
    const store = new BlobStore(root);
    const total = megabytes * MIB;
    let started = performance.now();
    const put = await store.put(streamFrom(pool, total), { tier });
    const putSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    let read = 0;
    for await (const chunk of await store.open(put.sha256)) read += (chunk as Buffer).length;
    const readSeconds = (performance.now() - started) / 1000;
    if (read !== total) throw new Error(`read ${read} bytes, put ${total}`);
    const storedBytes = (await store.stat(put.sha256))!.storedSize;
    return { tier, kind, megabytes, putSeconds, readSeconds, storedBytes, startRssMiB, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (args.run) {
  const [tier, kind] = args.run.split(':') as [BlobTier, Kind];
  process.stdout.write(`${JSON.stringify(await runOne(tier, kind))}\n`);
} else {
  const tiers = args.tiers!.split(',').filter(isBlobTier);
  const kinds = args.data!.split(',').filter((k): k is Kind => (KINDS as readonly string[]).includes(k));
  const results: RunResult[] = [];
  for (const kind of kinds) {
    for (const tier of tiers) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', new URL(import.meta.url).pathname, '--run', `${tier}:${kind}`, '--megabytes', String(megabytes), '--dir', args.dir!],
        { maxBuffer: MIB },
      );
      const result = JSON.parse(stdout) as RunResult;
      results.push(result);
      if (!args.json) {
        const mb = (result.megabytes * MIB) / 1e6;
        console.log(
          `${kind.padEnd(8)} ${tier.padEnd(5)} put ${(mb / result.putSeconds).toFixed(0).padStart(5)} MB/s  read ${(mb / result.readSeconds).toFixed(0).padStart(5)} MB/s  ` +
            `stored ${((result.storedBytes / (result.megabytes * MIB)) * 100).toFixed(1).padStart(5)}%  RSS ${result.startRssMiB} -> peak ${result.peakRssMiB} MiB`,
        );
      }
    }
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ megabytes, node: process.version, cpus: os.cpus().length, results }, null, 2)}\n`);
}
