// How each tier lays a blob out on disk. Hot: the bytes as they are. Warm (LZ4) and cold (zstd):
// the content cut into 1 MiB pieces, each compressed as one standard frame (frame-codecs.ts), so
// compression and decompression stream with bounded memory although the codecs work on buffers.
//
// A compressed blob file is a sequence of frames that the `lz4` and `zstd` command-line tools
// decode as they are (both skip "skippable frames", magic 0x184D2A50-0x184D2A5F):
//   skippable 0x184D2A5B, 16 bytes: "DPLB", format version (u32 LE), content size (u64 LE)
//   then per piece: skippable 0x184D2A5F, 8 bytes: frame length, content length (u32 LE each);
//   then the frame
// The header makes `stat` cheap (no decompression); the lengths before each frame let the reader
// cut frames without parsing LZ4 or zstd, and bound what a damaged frame can make a decoder do.
import type { FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { FRAME_CODECS, type FrameCodec } from './frame-codecs.js';

import type { BlobTier } from './blob-settings.js';

/** Content per compressed frame: large enough for a good ratio, small enough to hold two in memory. */
export const PIECE_BYTES = 1 << 20;

const SKIPPABLE_HEADER_BYTES = 8;
const HEADER_MAGIC = 0x184d2a5b;
const FRAME_LENGTH_MAGIC = 0x184d2a5f;
const HEADER_SIGNATURE = 'DPLB';
const FORMAT_VERSION = 1;
const HEADER_PAYLOAD_BYTES = 16;
/** Bytes before the first frame of a compressed blob. */
export const HEADER_BYTES = SKIPPABLE_HEADER_BYTES + HEADER_PAYLOAD_BYTES;
const FRAME_PREFIX_PAYLOAD_BYTES = 8;
const FRAME_PREFIX_BYTES = SKIPPABLE_HEADER_BYTES + FRAME_PREFIX_PAYLOAD_BYTES;
/** No frame of ours is longer: incompressible input grows by a few bytes per block only. */
const MAX_FRAME_BYTES = PIECE_BYTES + (64 << 10);

/** The file does not have the layout of its tier: truncated, overwritten, or not ours. */
export class BlobFormatError extends Error {
  override name = 'BlobFormatError';
}

function encodeHeader(contentBytes: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(HEADER_MAGIC, 0);
  header.writeUInt32LE(HEADER_PAYLOAD_BYTES, 4);
  header.write(HEADER_SIGNATURE, 8, 'latin1');
  header.writeUInt32LE(FORMAT_VERSION, 12);
  header.writeBigUInt64LE(BigInt(contentBytes), 16);
  return header;
}

/** The content size recorded in a compressed blob's header. */
export function decodeHeader(header: Buffer): number {
  if (
    header.length < HEADER_BYTES ||
    header.readUInt32LE(0) !== HEADER_MAGIC ||
    header.readUInt32LE(4) !== HEADER_PAYLOAD_BYTES ||
    header.toString('latin1', 8, 12) !== HEADER_SIGNATURE
  ) {
    throw new BlobFormatError('no blob header at the start of the file');
  }
  const version = header.readUInt32LE(12);
  if (version !== FORMAT_VERSION) throw new BlobFormatError(`blob format version ${version} is not known`);
  return Number(header.readBigUInt64LE(16));
}

/** Writes one blob's content into an open file in the layout of its tier. */
export class TierEncoder {
  private readonly codec: FrameCodec | null;
  private piece: Buffer | null = null;
  private pieceFill = 0;
  private position = 0;
  /** The previous piece's frame being written: the write runs while the next piece fills. */
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: FileHandle,
    readonly tier: BlobTier,
  ) {
    this.codec = tier === 'hot' ? null : FRAME_CODECS[tier];
    // The header's place; its content size is written by finish().
    if (this.codec) this.position = HEADER_BYTES;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (!this.codec) {
      await this.writeAll(chunk);
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      this.piece ??= Buffer.allocUnsafe(PIECE_BYTES);
      const copied = Buffer.from(chunk.buffer, chunk.byteOffset + offset, chunk.length - offset).copy(this.piece, this.pieceFill);
      this.pieceFill += copied;
      offset += copied;
      if (this.pieceFill === PIECE_BYTES) await this.flushPiece();
    }
  }

  /** Write what is left and the header; returns the file's size. The caller syncs and closes. */
  async finish(contentBytes: number): Promise<number> {
    if (this.codec) {
      if (this.pieceFill > 0) await this.flushPiece();
      await this.inFlight;
      await this.file.write(encodeHeader(contentBytes), 0, HEADER_BYTES, 0);
    }
    return this.position;
  }

  private async flushPiece(): Promise<void> {
    const codec = this.codec!;
    const piece = this.piece!.subarray(0, this.pieceFill);
    this.piece = null;
    this.pieceFill = 0;
    // At most one frame is being written while the next piece fills: two pieces in memory, never more.
    await this.inFlight;
    const next = (async () => {
      const frame = await codec.compress(piece);
      const prefix = Buffer.alloc(FRAME_PREFIX_BYTES);
      prefix.writeUInt32LE(FRAME_LENGTH_MAGIC, 0);
      prefix.writeUInt32LE(FRAME_PREFIX_PAYLOAD_BYTES, 4);
      prefix.writeUInt32LE(frame.length, 8);
      prefix.writeUInt32LE(piece.length, 12);
      await this.writeAll(prefix);
      await this.writeAll(frame);
    })();
    // Awaited by the next flush or by finish(); marked handled so a failure waits for them.
    next.catch(() => {});
    this.inFlight = next;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, written, bytes.length - written, this.position);
      written += bytesWritten;
      this.position += bytesWritten;
    }
  }
}

/**
 * Turns a compressed blob file's bytes back into its content. A broken layout or a frame that does
 * not decompress ends the stream with the error `describe` makes of the problem (the store's
 * BLOB_CORRUPT); the content hash is checked after this.
 */
export class FrameDecoder extends Transform {
  private readonly codec: FrameCodec;
  private readonly queued: Buffer[] = [];
  private queuedBytes = 0;
  private headerRead = false;
  private nextFrame: { frameBytes: number; contentBytes: number } | null = null;
  private offset = 0;
  /** The content size from the header, once read. */
  contentBytes: number | null = null;

  constructor(
    tier: Exclude<BlobTier, 'hot'>,
    private readonly describe: (problem: string, cause?: unknown) => Error = (problem) => new BlobFormatError(problem),
  ) {
    super();
    this.codec = FRAME_CODECS[tier];
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    this.drainFrames().then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.headerRead) return callback(this.describe(`the file ends after ${this.offset + this.queuedBytes} bytes, inside its header`));
    if (this.queuedBytes > 0 || this.nextFrame !== null) {
      return callback(this.describe(`the file ends inside the frame at byte ${this.offset} (${this.queuedBytes} bytes left over)`));
    }
    callback();
  }

  private async drainFrames(): Promise<void> {
    for (;;) {
      if (!this.headerRead) {
        if (this.queuedBytes < HEADER_BYTES) return;
        try {
          this.contentBytes = decodeHeader(this.takeBytes(HEADER_BYTES));
        } catch (cause) {
          throw this.describe((cause as Error).message, cause);
        }
        this.headerRead = true;
      }
      if (this.nextFrame === null) {
        if (this.queuedBytes < FRAME_PREFIX_BYTES) return;
        const at = this.offset;
        const prefix = this.takeBytes(FRAME_PREFIX_BYTES);
        const frameBytes = prefix.readUInt32LE(8);
        const contentBytes = prefix.readUInt32LE(12);
        if (
          prefix.readUInt32LE(0) !== FRAME_LENGTH_MAGIC ||
          prefix.readUInt32LE(4) !== FRAME_PREFIX_PAYLOAD_BYTES ||
          frameBytes < 4 ||
          frameBytes > MAX_FRAME_BYTES ||
          contentBytes > PIECE_BYTES
        ) {
          throw this.describe(`no frame lengths at byte ${at}`);
        }
        this.nextFrame = { frameBytes, contentBytes };
      }
      if (this.queuedBytes < this.nextFrame.frameBytes) return;
      const at = this.offset;
      const { frameBytes, contentBytes } = this.nextFrame;
      const frame = this.takeBytes(frameBytes);
      this.nextFrame = null;
      let content: Uint8Array;
      try {
        content = await this.codec.decompress(frame, contentBytes);
      } catch (cause) {
        throw this.describe(`the frame at byte ${at} does not decompress (${cause instanceof Error ? cause.message : String(cause)})`, cause);
      }
      this.push(content);
    }
  }

  /** The next `bytes` bytes of the file, joined only when they span several chunks. */
  private takeBytes(bytes: number): Buffer {
    if (bytes === 0) return Buffer.alloc(0);
    let result: Buffer;
    const first = this.queued[0]!;
    if (first.length >= bytes) {
      result = first.subarray(0, bytes);
      if (first.length === bytes) this.queued.shift();
      else this.queued[0] = first.subarray(bytes);
    } else {
      result = Buffer.allocUnsafe(bytes);
      let filled = 0;
      while (filled < bytes) {
        const head = this.queued[0]!;
        const used = head.copy(result, filled, 0, Math.min(head.length, bytes - filled));
        filled += used;
        if (used === head.length) this.queued.shift();
        else this.queued[0] = head.subarray(used);
      }
    }
    this.queuedBytes -= bytes;
    this.offset += bytes;
    return result;
  }
}
