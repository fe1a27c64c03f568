// The one file format of the lake's backups (database snapshots, blob copies, lists): content cut
// into 1 MiB pieces, each compressed as a zstd frame (store/frame-codecs.ts; on worker threads:
// compress-pool.ts) and, when the repository has a key, sealed with AES-256-GCM; an end record
// carries the content's size and SHA-256, so a file cut short, a piece dropped, reordered or
// changed, or the wrong key, fails with the byte offset named. Written by hand: Node 20 has no streaming zstd, and the one
// maintained streaming-encryption library (age-encryption) measured 80 MB/s here, where
// node:crypto's AES-GCM is native.
//
//   header, 32 bytes: "DPLKBAK1", flags (u32 LE, bit 0: sealed), reserved (u32), salt (16 bytes)
//   records: kind (u8: 1 piece, 2 end, 3 raw piece), stored length (u32 LE), content length (u32 LE), stored bytes
//     piece: the zstd frame (raw piece: the content as it is, when a sample of it does not
//     compress: photos and videos are) + the first 8 bytes of its SHA-256, or when sealed the frame
//     encrypted + 16-byte tag (so a changed byte is found at its record, not only at the end)
//     end: content bytes (u64 LE) + SHA-256 of the content (32 bytes), checked or sealed like a piece
// A sealed file's key is HKDF-SHA256(repository key, header salt); record n's nonce is n as 12
// bytes big-endian; the associated data is the record's own first 9 bytes, so a record moved or
// retyped does not open.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { LakeError } from '../errors.js';
import { FRAME_CODECS } from '../store/frame-codecs.js';
import { type CompressedPiece, compressPool } from './compress-pool.js';

const MAGIC = 'DPLKBAK1';
const HEADER_BYTES = 32;
const RECORD_HEAD_BYTES = 9;
const TAG_BYTES = 16;
/** Unsealed records end with this much of their payload's SHA-256. */
const DIGEST_BYTES = 8;
const PIECE_BYTES = 1 << 20;
/** No stored record is longer: a frame of incompressible content grows by a few bytes per block. */
const MAX_STORED_BYTES = PIECE_BYTES + (64 << 10);
const KIND_PIECE = 1;
const KIND_END = 2;
const KIND_RAW = 3;
/** A piece is compressed when its first SAMPLE_BYTES compress to less than RAW_RATIO of their size. */
const SAMPLE_BYTES = 64 << 10;
const RAW_RATIO = 0.9;
const zstd = FRAME_CODECS.cold;
/** Pieces given to the compression pool and not yet written: a few per thread keep them all busy. */
const IN_FLIGHT = 8;

/** What a written backup file holds, for the manifest. */
export interface WrittenFile {
  /** Bytes on disk. */
  storedBytes: number;
  /** Bytes of content. */
  contentBytes: number;
  /** SHA-256 of the content. */
  sha256: string;
}

/** The repository's 32-byte key, or null when backups are not encrypted. */
export type BackupKey = Buffer | null;

function fileKey(key: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, 'datapunk-lake backup file', 32));
}

/** An unsealed record's check: its head and payload hashed, the first DIGEST_BYTES kept. */
function recordDigest(head: Buffer, payload: Uint8Array): Buffer {
  return createHash('sha256').update(head).update(payload).digest().subarray(0, DIGEST_BYTES);
}

function nonce(index: number): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeUIntBE(index, 6, 6);
  return bytes;
}

/** The encoded file, record by record; the content's size and hash at `done`. */
export async function* encodeBackupFile(content: AsyncIterable<Uint8Array>, key: BackupKey, done?: (written: WrittenFile) => void): AsyncGenerator<Buffer> {
  const salt = randomBytes(16);
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(key ? 1 : 0, 8);
  salt.copy(header, 16);
  yield header;
  const sealKey = key ? fileKey(key, salt) : null;
  const hash = createHash('sha256');
  let storedBytes = HEADER_BYTES;
  let contentBytes = 0;
  let index = 0;
  const record = (kind: number, contentLength: number, payload: Uint8Array): Buffer => {
    const head = Buffer.alloc(RECORD_HEAD_BYTES);
    head.writeUInt8(kind, 0);
    head.writeUInt32LE(payload.length + (sealKey ? TAG_BYTES : DIGEST_BYTES), 1);
    head.writeUInt32LE(contentLength, 5);
    let stored: Buffer;
    if (sealKey) {
      const cipher = createCipheriv('aes-256-gcm', sealKey, nonce(index));
      cipher.setAAD(head);
      stored = Buffer.concat([head, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
    } else {
      stored = Buffer.concat([head, payload, recordDigest(head, payload)]);
    }
    index++;
    storedBytes += stored.length;
    return stored;
  };
  // Pieces compressed on the pool's threads, a few in flight, recorded in order. Already
  // compressed content (photos, videos, archives) is stored as it is: compressing it costs more
  // time than anything else in a backup and saves nothing.
  const pool = compressPool();
  const inFlight: { length: number; compressed: Promise<CompressedPiece> }[] = [];
  const recorded = async (): Promise<Buffer> => {
    const next = inFlight.shift()!;
    const { raw, bytes } = await next.compressed;
    return record(raw ? KIND_RAW : KIND_PIECE, next.length, bytes);
  };
  const send = (bytes: Buffer) => {
    const length = bytes.length; // before its memory moves to the thread
    const compressed = pool.compress(bytes, SAMPLE_BYTES, RAW_RATIO);
    compressed.catch(() => {}); // awaited in order by recorded(); a failure is thrown there
    inFlight.push({ length, compressed });
  };
  let piece = Buffer.allocUnsafe(PIECE_BYTES);
  let fill = 0;
  try {
    for await (const chunk of content) {
      hash.update(chunk);
      contentBytes += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        const copied = Buffer.from(chunk.buffer, chunk.byteOffset + offset, chunk.length - offset).copy(piece, fill);
        fill += copied;
        offset += copied;
        if (fill === PIECE_BYTES) {
          send(piece);
          piece = Buffer.allocUnsafe(PIECE_BYTES);
          fill = 0;
          while (inFlight.length > IN_FLIGHT) yield await recorded();
        }
      }
    }
    if (fill > 0) send(piece.subarray(0, fill));
    while (inFlight.length > 0) yield await recorded();
  } finally {
    // Abandoned midway (the write failed): the pieces still out are not waited for.
    inFlight.length = 0;
  }
  const sha256 = hash.digest('hex');
  const end = Buffer.alloc(40);
  end.writeBigUInt64LE(BigInt(contentBytes), 0);
  Buffer.from(sha256, 'hex').copy(end, 8);
  yield record(KIND_END, 0, end);
  done?.({ storedBytes, contentBytes, sha256 });
}

/**
 * The content of a backup file, checked as it is read: fails with BACKUP_CORRUPT naming `name`
 * and the byte offset (cut short, a record broken, the hash or size wrong), or BACKUP_KEY when the
 * file is sealed and the key is missing or not the one it was sealed with.
 */
export async function* decodeBackupFile(stored: AsyncIterable<Uint8Array>, key: BackupKey, name: string, expectedSha256?: string): AsyncGenerator<Buffer> {
  const reader = new ByteReader(stored);
  const corrupt = (problem: string, cause?: unknown) => new LakeError('BACKUP_CORRUPT', `backup file ${name} is damaged: ${problem}`, { cause });
  const header = await reader.take(HEADER_BYTES);
  if (!header || header.toString('latin1', 0, 8) !== MAGIC) throw corrupt('it does not start with a backup file header');
  const sealed = (header.readUInt32LE(8) & 1) === 1;
  if (sealed && !key) throw new LakeError('BACKUP_KEY', `backup file ${name} is encrypted: set LAKE_BACKUP_KEY_FILE to the file holding its passphrase`);
  const openKey = sealed ? fileKey(key!, header.subarray(16, 32)) : null;
  const hash = createHash('sha256');
  let contentBytes = 0;
  for (let index = 0; ; index++) {
    const at = reader.offset;
    const head = await reader.take(RECORD_HEAD_BYTES);
    if (!head) throw corrupt(`it ends at byte ${at} without its end record (cut short)`);
    const kind = head.readUInt8(0);
    const storedLength = head.readUInt32LE(1);
    const contentLength = head.readUInt32LE(5);
    if ((kind !== KIND_PIECE && kind !== KIND_END && kind !== KIND_RAW) || storedLength > MAX_STORED_BYTES + TAG_BYTES || contentLength > PIECE_BYTES) {
      throw corrupt(`no record at byte ${at}`);
    }
    const body = await reader.take(storedLength);
    if (!body) throw corrupt(`it ends inside the record at byte ${at} (cut short)`);
    let payload: Buffer = body;
    if (!openKey) {
      if (body.length < DIGEST_BYTES) throw corrupt(`the record at byte ${at} is too short`);
      payload = body.subarray(0, body.length - DIGEST_BYTES);
      if (!recordDigest(head, payload).equals(body.subarray(body.length - DIGEST_BYTES))) throw corrupt(`the record at byte ${at} does not match its checksum`);
    } else {
      try {
        const decipher = createDecipheriv('aes-256-gcm', openKey, nonce(index));
        decipher.setAAD(head);
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        payload = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
      } catch (cause) {
        if (index === 0) throw new LakeError('BACKUP_KEY', `backup file ${name} does not open with the key in LAKE_BACKUP_KEY_FILE (a wrong key, or the file is damaged at byte ${at})`, { cause });
        throw corrupt(`the record at byte ${at} does not authenticate`, cause);
      }
    }
    if (kind === KIND_END) {
      if (payload.length !== 40) throw corrupt(`the end record at byte ${at} is malformed`);
      const size = Number(payload.readBigUInt64LE(0));
      const expected = payload.subarray(8, 40).toString('hex');
      const actual = hash.digest('hex');
      if (size !== contentBytes) throw corrupt(`its content is ${contentBytes} bytes, its end record says ${size}`);
      if (actual !== expected) throw corrupt(`its content hashes to ${actual}, its end record says ${expected}`);
      if (expectedSha256 && actual !== expectedSha256) throw corrupt(`its content hashes to ${actual}, the backup's manifest says ${expectedSha256} (another file in its place)`);
      if (await reader.take(1)) throw corrupt(`bytes follow its end record at byte ${reader.offset - 1}`);
      return;
    }
    let content: Uint8Array;
    if (kind === KIND_RAW) {
      if (payload.length !== contentLength) throw corrupt(`the raw record at byte ${at} holds ${payload.length} bytes, not ${contentLength}`);
      content = payload;
    } else {
      try {
        content = await zstd.decompress(payload, contentLength);
      } catch (cause) {
        throw corrupt(`the record at byte ${at} does not decompress`, cause);
      }
    }
    hash.update(content);
    contentBytes += content.length;
    yield Buffer.from(content.buffer, content.byteOffset, content.length);
  }
}

/** Write `content` as a backup file at `file`: written beside it, synced, then renamed into place. */
export async function writeBackupFile(file: string, content: AsyncIterable<Uint8Array>, key: BackupKey): Promise<WrittenFile> {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  let written: WrittenFile | null = null;
  const handle = await open(partial, 'w');
  try {
    for await (const bytes of encodeBackupFile(content, key, (w) => (written = w))) {
      let offset = 0;
      while (offset < bytes.length) offset += (await handle.write(bytes, offset)).bytesWritten;
    }
    await handle.sync();
    await handle.close();
    await rename(partial, file);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(partial, { force: true });
    throw error;
  }
  return written!;
}

/** The checked content of the backup file at `file`. */
export function readBackupFile(file: string, key: BackupKey, name = file, expectedSha256?: string): AsyncGenerator<Buffer> {
  return decodeBackupFile(createReadStream(file, { highWaterMark: PIECE_BYTES }), key, name, expectedSha256);
}

/** The checked content of the backup file at `file`, line by line (lists, file states). */
export function readBackupFileLines(file: string, key: BackupKey, name = file, expectedSha256?: string): AsyncIterable<string> {
  return readline.createInterface({ input: Readable.from(readBackupFile(file, key, name, expectedSha256)), crlfDelay: Infinity });
}

/** Read a backup file to its end, for its errors: the check `verify` makes of each file. */
export async function checkBackupFile(file: string, key: BackupKey, name = file, expectedSha256?: string): Promise<number> {
  let bytes = 0;
  for await (const chunk of readBackupFile(file, key, name, expectedSha256)) bytes += chunk.length;
  return bytes;
}

/** Exact-length reads from a stream of chunks. */
class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** The next `bytes` bytes; null when the stream ends first (the bytes read are then lost). */
  async take(bytes: number): Promise<Buffer | null> {
    while (this.queuedBytes < bytes) {
      const next = await this.iterator.next();
      if (next.done) return null;
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.length);
      this.queued.push(chunk);
      this.queuedBytes += chunk.length;
    }
    const joined = this.queued.length === 1 ? this.queued[0]! : Buffer.concat(this.queued);
    const result = joined.subarray(0, bytes);
    const rest = joined.subarray(bytes);
    this.queued = rest.length > 0 ? [rest] : [];
    this.queuedBytes = rest.length;
    this.offset += bytes;
    return result;
  }
}
