// The content-addressed blob store: files kept as they are (photos, attachments, original
// exports), named by the SHA-256 of their content, so the same content is stored once whoever
// has it. Who holds which blob is recorded in the database (blob-refs.ts), not here.
//
// Layout under the blobs directory:
//   <tier>/ab/cd/<sha256>   one blob; tier hot (as is), warm (LZ4) or cold (zstd): blob-codec.ts
//   tmp/                     files being written; renamed into place only once complete and synced
// A blob's file modification time is when it was last stored or put again; the garbage
// collector spares blobs younger than its grace period, so a put not yet referenced survives.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { assertFreeSpace, DISK_RESERVE_BYTES, diskFull, isNoSpace } from '../disk-space.js';
import { LakeError } from '../errors.js';
import { decodeHeader, FrameDecoder, HEADER_BYTES, TierEncoder } from './blob-codec.js';
import { BLOB_TIERS, type BlobTier } from './blob-settings.js';

export { BLOB_TIERS, isBlobTier, type BlobTier } from './blob-settings.js';

export interface PutResult {
  /** Lower-case hex. */
  sha256: string;
  /** Content bytes. */
  size: number;
  /** The tier the blob is in: the one asked for, or where the same content already was. */
  tier: BlobTier;
  /** False when the same content was already stored. */
  created: boolean;
}

export interface BlobStat {
  sha256: string;
  tier: BlobTier;
  /** Content bytes. */
  size: number;
  /** Bytes on disk. */
  storedSize: number;
  /** When the content was last stored or put again. */
  storedAt: Date;
}

/** A copy as list() finds it: a compressed copy whose header cannot be read has no known size. */
export type ListedBlob = (BlobStat & { damaged?: undefined }) | (Omit<BlobStat, 'size'> & { size: null; damaged: string });

export interface TierSummary {
  blobs: number;
  bytes: number;
  storedBytes: number;
}

export interface StoreSummary {
  tiers: Record<BlobTier, TierSummary>;
  total: TierSummary;
  /** Copies whose header cannot be read (counted in blobs and storedBytes, not in bytes). */
  damaged: number;
  /** Files in tmp/: puts in progress, or left by a crash (removed by the garbage collector). */
  temporary: { files: number; bytes: number };
}

/** What removeCopyIfIdleSince did. */
export type RemoveOutcome = { removed: true; storedSize: number } | { removed: false; reason: 'recent' | 'missing' };

type BlobSource = Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array>;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const TEMP_DIR = 'tmp';
const READ_CHUNK_BYTES = 1 << 20;
const PRIVATE_FILE_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;
/** While a blob is written, free space is read again after this many bytes: it stops before the disk's reserve is gone. */
const SPACE_CHECK_BYTES = 8 * 1024 * 1024;

export function assertSha256(value: string): void {
  if (!SHA256_HEX.test(value)) {
    throw new LakeError('USAGE', `${JSON.stringify(value)} is not a SHA-256: expected 64 lower-case hexadecimal digits`);
  }
}

interface Written {
  tempPath: string;
  sha256: string;
  size: number;
  storedSize: number;
}

export class BlobStore {
  constructor(readonly root: string) {}

  /** Where a blob is kept in a tier (whether or not it is there). */
  pathFor(sha256: string, tier: BlobTier): string {
    assertSha256(sha256);
    return path.join(this.root, tier, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  /**
   * Store content, streaming: hashed while it is written to a temporary file, synced, then
   * renamed to its final name (atomic: a crash leaves at most a file in tmp/). Content already
   * stored in any tier stays where it is and gets a fresh time, which keeps the collector off it.
   */
  async put(source: BlobSource, options: { tier?: BlobTier } = {}): Promise<PutResult> {
    const tier = options.tier ?? 'hot';
    const written = await this.writeTemporary(source, tier);
    try {
      const existing = await this.touchExisting(written.sha256);
      if (existing) return { sha256: written.sha256, size: written.size, tier: existing, created: false };
      await this.commit(written.tempPath, written.sha256, tier);
      return { sha256: written.sha256, size: written.size, tier, created: true };
    } finally {
      await unlink(written.tempPath).catch(ignoreMissing);
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.locate(sha256)) !== null;
  }

  /** Null when the blob is in no tier. */
  async stat(sha256: string): Promise<BlobStat | null> {
    for (let attempt = 0; ; attempt++) {
      const found = await this.locate(sha256);
      if (!found) return null;
      try {
        return await this.statCopy(sha256, found.tier, found.stats);
      } catch (error) {
        // Moved to another tier between locate and read: look again.
        if (isMissing(error) && attempt < 3) continue;
        throw error;
      }
    }
  }

  /**
   * The blob's content. The hash and size are checked as it is read: the stream fails with
   * BLOB_CORRUPT at the end (or at a broken frame) when they do not match. BLOB_NOT_FOUND when
   * the blob is in no tier.
   */
  async open(sha256: string): Promise<Readable> {
    for (let attempt = 0; ; attempt++) {
      const found = await this.locate(sha256);
      if (!found) throw new LakeError('BLOB_NOT_FOUND', `blob ${sha256} is not in the store`, { details: { sha256 } });
      let handle: FileHandle;
      try {
        handle = await open(this.pathFor(sha256, found.tier), 'r');
      } catch (error) {
        if (isMissing(error) && attempt < 3) continue;
        throw error;
      }
      return this.verifiedContent(handle, sha256, found.tier, this.pathFor(sha256, found.tier));
    }
  }

  /**
   * Move a blob to another tier: write it there in that tier's layout (from its verified
   * content), read the new file back and check its hash, rename it into place, then remove the
   * copy in the old tier. Its stored time is kept, so its age is unchanged.
   */
  async move(sha256: string, tier: BlobTier): Promise<BlobStat> {
    const found = await this.locate(sha256);
    if (!found) throw new LakeError('BLOB_NOT_FOUND', `blob ${sha256} is not in the store`, { details: { sha256 } });
    if (found.tier !== tier) {
      const written = await this.writeTemporary(await this.open(sha256), tier);
      try {
        // A copy is trusted only once it has been read back whole: its hash and size are checked.
        await drain(this.verifiedContent(await open(written.tempPath, 'r'), sha256, tier, written.tempPath, written.size));
        await utimes(written.tempPath, found.stats.atime, found.stats.mtime);
        await this.commit(written.tempPath, sha256, tier);
      } finally {
        await unlink(written.tempPath).catch(ignoreMissing);
      }
      // A put of the same content during the copy refreshed the old copy's time: keep that.
      const source = await stat(this.pathFor(sha256, found.tier)).catch(ignoreMissingAs(null));
      if (source && source.mtime > found.stats.mtime) await utimes(this.pathFor(sha256, tier), source.atime, source.mtime);
    }
    // Also clears copies left in other tiers by two moves racing each other.
    for (const other of BLOB_TIERS) {
      if (other === tier) continue;
      const file = this.pathFor(sha256, other);
      if (await unlink(file).then(() => true, ignoreMissingAs(false))) await syncDirectory(path.dirname(file));
    }
    const moved = await this.stat(sha256);
    if (!moved) throw new LakeError('BLOB_NOT_FOUND', `blob ${sha256} disappeared while it was moved to ${tier}`, { details: { sha256 } });
    return moved;
  }

  /**
   * Every stored copy, tier by tier (a blob in two tiers, after racing moves, is listed twice).
   * Reads one directory at a time. A damaged copy is listed too, so one bad file stops neither
   * `stats` nor the collector.
   */
  async *list(): AsyncGenerator<ListedBlob> {
    for (const tier of BLOB_TIERS) {
      const tierDir = path.join(this.root, tier);
      for (const first of await listDirectory(tierDir)) {
        for (const second of await listDirectory(path.join(tierDir, first))) {
          for (const name of await listDirectory(path.join(tierDir, first, second))) {
            if (!SHA256_HEX.test(name) || name.slice(0, 2) !== first || name.slice(2, 4) !== second) continue;
            let listed: ListedBlob;
            try {
              listed = await this.statCopy(name, tier);
            } catch (error) {
              if (isMissing(error)) continue; // removed while listing
              if (!(error instanceof LakeError && error.code === 'BLOB_CORRUPT')) throw error;
              const stats = await stat(this.pathFor(name, tier)).catch(ignoreMissingAs(null));
              if (!stats) continue;
              listed = { sha256: name, tier, size: null, storedSize: stats.size, storedAt: stats.mtime, damaged: error.message };
            }
            yield listed;
          }
        }
      }
    }
  }

  async summarize(): Promise<StoreSummary> {
    const empty = (): TierSummary => ({ blobs: 0, bytes: 0, storedBytes: 0 });
    const summary: StoreSummary = {
      tiers: { hot: empty(), warm: empty(), cold: empty() },
      total: empty(),
      damaged: 0,
      temporary: { files: 0, bytes: 0 },
    };
    for await (const blob of this.list()) {
      if (blob.damaged) summary.damaged += 1;
      for (const counts of [summary.tiers[blob.tier], summary.total]) {
        counts.blobs += 1;
        counts.bytes += blob.size ?? 0;
        counts.storedBytes += blob.storedSize;
      }
    }
    for (const name of await listDirectory(path.join(this.root, TEMP_DIR))) {
      const stats = await lstat(path.join(this.root, TEMP_DIR, name)).catch(ignoreMissingAs(null));
      if (!stats) continue;
      summary.temporary.files += 1;
      summary.temporary.bytes += stats.size;
    }
    return summary;
  }

  /**
   * Remove one copy unless the blob was stored or put again at or after `idleSince`. The copy is
   * first renamed out of the way and its time read afterwards: a put that refreshed it before the
   * rename is seen (the copy is put back), and a put after the rename finds no copy and stores
   * its own. The caller has checked that no user references the blob.
   */
  async removeCopyIfIdleSince(sha256: string, tier: BlobTier, idleSince: Date): Promise<RemoveOutcome> {
    const file = this.pathFor(sha256, tier);
    const doomed = path.join(await this.temporaryDirectory(), `${sha256}.${randomUUID()}.collected`);
    if (!(await rename(file, doomed).then(() => true, ignoreMissingAs(false)))) return { removed: false, reason: 'missing' };
    const stats = await stat(doomed);
    if (stats.mtime >= idleSince) {
      await rename(doomed, file);
      return { removed: false, reason: 'recent' };
    }
    await unlink(doomed);
    await syncDirectory(path.dirname(file));
    return { removed: true, storedSize: stats.size };
  }

  /** Remove files in tmp/ older than `before`: writes that a crash or a kill interrupted. */
  async removeStaleTemporaryFiles(before: Date): Promise<{ files: number; bytes: number }> {
    const removed = { files: 0, bytes: 0 };
    const dir = path.join(this.root, TEMP_DIR);
    for (const name of await listDirectory(dir)) {
      const file = path.join(dir, name);
      const stats = await lstat(file).catch(ignoreMissingAs(null));
      if (!stats?.isFile() || stats.mtime >= before) continue;
      if (await unlink(file).then(() => true, ignoreMissingAs(false))) {
        removed.files += 1;
        removed.bytes += stats.size;
      }
    }
    return removed;
  }

  /**
   * A full disk (or one whose reserve, DISK_RESERVE_BYTES, another writer such as the embedded
   * database needs) stops the write with DISK_FULL naming the store; the temporary file goes.
   */
  private async writeTemporary(source: BlobSource, tier: BlobTier): Promise<Written> {
    const known = source instanceof Uint8Array ? source.length : 0;
    assertFreeSpace(this.root, DISK_RESERVE_BYTES + known, 'the blob store');
    const tempPath = path.join(await this.temporaryDirectory(), `${randomUUID()}.part`);
    const file = await open(tempPath, 'wx', PRIVATE_FILE_MODE).catch((error) => {
      throw this.noSpaceAsDiskFull(error);
    });
    try {
      const encoder = new TierEncoder(file, tier);
      const hash = createHash('sha256');
      let size = 0;
      let unchecked = 0;
      for await (const chunk of chunksOf(source)) {
        hash.update(chunk);
        size += chunk.length;
        unchecked += chunk.length;
        if (unchecked >= SPACE_CHECK_BYTES && known === 0) {
          assertFreeSpace(this.root, DISK_RESERVE_BYTES, 'the blob store');
          unchecked = 0;
        }
        await encoder.write(chunk);
      }
      const storedSize = await encoder.finish(size);
      await file.sync();
      await file.close();
      return { tempPath, sha256: hash.digest('hex'), size, storedSize };
    } catch (error) {
      await file.close().catch(() => {});
      await unlink(tempPath).catch(ignoreMissing);
      throw this.noSpaceAsDiskFull(error);
    }
  }

  private noSpaceAsDiskFull(error: unknown): unknown {
    return isNoSpace(error) && !(error instanceof LakeError) ? diskFull(this.root, 'the blob store', { needed: DISK_RESERVE_BYTES, cause: error }) : error;
  }

  /** Rename a complete, synced temporary file to its final name and make the rename durable. */
  private async commit(tempPath: string, sha256: string, tier: BlobTier): Promise<void> {
    const target = this.pathFor(sha256, tier);
    await makeDirectoryDurably(path.dirname(target)).catch((error) => {
      throw this.noSpaceAsDiskFull(error);
    });
    // Replacing a file another put renamed there first is harmless: same name, same content.
    await rename(tempPath, target);
    await syncDirectory(path.dirname(target));
  }

  /** The tier holding the blob, after refreshing its time; null if none does. */
  private async touchExisting(sha256: string): Promise<BlobTier | null> {
    const now = new Date();
    for (const tier of BLOB_TIERS) {
      if (await utimes(this.pathFor(sha256, tier), now, now).then(() => true, ignoreMissingAs(false))) return tier;
    }
    return null;
  }

  /** The first tier (hot, warm, cold) holding the blob. */
  private async locate(sha256: string): Promise<{ tier: BlobTier; stats: Stats } | null> {
    for (const tier of BLOB_TIERS) {
      const stats = await stat(this.pathFor(sha256, tier)).catch(ignoreMissingAs(null));
      if (stats) return { tier, stats };
    }
    return null;
  }

  private async statCopy(sha256: string, tier: BlobTier, known?: Stats): Promise<BlobStat> {
    const file = this.pathFor(sha256, tier);
    if (tier === 'hot') {
      const stats = known ?? (await stat(file));
      return { sha256, tier, size: stats.size, storedSize: stats.size, storedAt: stats.mtime };
    }
    const handle = await open(file, 'r');
    try {
      const stats = await handle.stat();
      const header = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
      let size: number;
      try {
        size = decodeHeader(header.subarray(0, bytesRead));
      } catch (cause) {
        throw corrupt(sha256, tier, file, (cause as Error).message, cause);
      }
      return { sha256, tier, size, storedSize: stats.size, storedAt: stats.mtime };
    } finally {
      await handle.close();
    }
  }

  /**
   * The content of an opened copy, decoded and checked against its name: BLOB_CORRUPT (for a
   * broken layout, or a hash or size mismatch at the end) ends the returned stream.
   */
  private verifiedContent(handle: FileHandle, sha256: string, tier: BlobTier, file: string, expectedSize?: number): Readable {
    const raw = createReadStream('', { fd: handle, highWaterMark: READ_CHUNK_BYTES });
    // pipeline() ends every stream with the first error, so each stage makes its own LakeError.
    const settled = () => {};
    if (tier === 'hot') {
      const verifier = new ContentVerifier(sha256, tier, file, () => expectedSize);
      pipeline(raw, verifier, settled);
      return verifier;
    }
    const decoder = new FrameDecoder(tier, (problem, cause) => corrupt(sha256, tier, file, problem, cause));
    const verifier = new ContentVerifier(sha256, tier, file, () => expectedSize ?? decoder.contentBytes ?? undefined);
    pipeline(raw, decoder, verifier, settled);
    return verifier;
  }

  private async temporaryDirectory(): Promise<string> {
    const dir = path.join(this.root, TEMP_DIR);
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    return dir;
  }
}

/** Passes content through while hashing it; at the end, fails unless hash and size match. */
class ContentVerifier extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;

  constructor(
    private readonly sha256: string,
    private readonly tier: BlobTier,
    private readonly file: string,
    /** Read at the end: a compressed copy's size is known once its header has been read. */
    private readonly expectedSize: () => number | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual !== this.sha256) {
      return callback(corrupt(this.sha256, this.tier, this.file, `its content hashes to ${actual}`));
    }
    const expected = this.expectedSize();
    if (expected !== undefined && this.bytes !== expected) {
      return callback(corrupt(this.sha256, this.tier, this.file, `its content is ${this.bytes} bytes, not ${expected}`));
    }
    callback();
  }
}

function corrupt(sha256: string, tier: BlobTier, file: string, problem: string, cause?: unknown): LakeError {
  return new LakeError('BLOB_CORRUPT', `blob ${sha256} (${tier}, ${file}) is corrupt: ${problem}`, {
    cause,
    details: { sha256, tier, path: file },
  });
}

async function* chunksOf(source: BlobSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    // A large buffer is handed on in pieces so compression can overlap the writes.
    for (let offset = 0; offset < source.length; offset += READ_CHUNK_BYTES) yield source.subarray(offset, offset + READ_CHUNK_BYTES);
    return;
  }
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk);
    else if (chunk instanceof Uint8Array) yield chunk;
    else throw new TypeError('a blob source yields bytes: Buffer or Uint8Array chunks');
  }
}

/** Read a stream to its end, for its errors. */
async function drain(content: Readable): Promise<void> {
  for await (const _chunk of content) {
    // the verifier checks what passes
  }
}

/** Names in a directory; none if it does not exist. */
async function listDirectory(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(ignoreMissingAs([] as string[]))).sort();
}

/** mkdir -p, then sync each directory that got a new entry, so the new path survives a crash. */
async function makeDirectoryDurably(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (!firstCreated) return;
  // From the deepest new directory's parent up to the parent of the first one created.
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    await syncDirectory(parent);
    if (parent === path.dirname(firstCreated) || parent === path.dirname(parent)) break;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}

function ignoreMissingAs<T>(value: T): (error: unknown) => T {
  return (error) => {
    if (isMissing(error)) return value;
    throw error;
  };
}
