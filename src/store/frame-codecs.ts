// One piece of content <-> one standard compressed frame, for the warm (LZ4) and cold (zstd) tiers.
//
// Both codecs are WebAssembly builds shipped inside their npm packages (lz4_flex, by its author,
// and the reference zstd library): nothing is compiled or downloaded at install, they behave the
// same on every platform, and their memory is one linear heap that stays as large as one piece
// needs. The native bindings measured here (lz4-napi, @mongodb-js/zstd 1.x) grew the process in
// proportion to the blob because the buffers they return are reclaimed late; zstd-napi
// streams natively but has no prebuilt binary in the npm registry. The calls are synchronous, on
// one piece (1 MiB) at a time.
//
// The container (blob-codec.ts) records each frame's content size, so both decoders are told how
// much to expect and a damaged frame cannot make them allocate more.
import { compress as zstdCompress, decompress as zstdDecompress, init as initZstd } from '@bokuweb/zstd-wasm';
import { compress as lz4CompressBlock, decompress as lz4DecompressBlock } from 'lz4-wasm-nodejs';

export interface FrameCodec {
  compress(piece: Uint8Array): Promise<Uint8Array>;
  /** The content of `frame`, which must be `contentBytes` long; throws when the frame is broken. */
  decompress(frame: Uint8Array, contentBytes: number): Promise<Uint8Array>;
}

// ---------------------------------------------------------------------------------------------
// LZ4 frame format (lz4_Frame_format.md), one block per frame. lz4-wasm-nodejs compresses blocks
// (with a 4-byte size in front, as lz4_flex's compress_prepend_size does); the frame around them
// is written here, so `lz4 -d` reads the files.

const LZ4_HEADER = Buffer.from([
  0x04, 0x22, 0x4d, 0x18, // magic 0x184D2204
  0x60, // FLG: version 01, independent blocks, no checksums, no content size
  0x60, // BD: blocks up to 1 MiB
  0x51, // HC: second byte of xxh32(FLG, BD); a constant, as FLG and BD are
]);
const LZ4_BLOCK_SIZE_BYTES = 4;
const LZ4_END_MARK_BYTES = 4;
/** Block size flag: the block is stored as it is (incompressible content). */
const LZ4_UNCOMPRESSED = 0x80000000;
export const MAX_LZ4_BLOCK_BYTES = 1 << 20;

const lz4: FrameCodec = {
  async compress(piece) {
    if (piece.length > MAX_LZ4_BLOCK_BYTES) throw new RangeError(`an LZ4 frame here holds up to ${MAX_LZ4_BLOCK_BYTES} bytes`);
    const sized = piece.length > 0 ? lz4CompressBlock(piece) : null;
    const compressedBytes = sized ? sized.length - LZ4_BLOCK_SIZE_BYTES : 0;
    const compressedIsSmaller = sized !== null && compressedBytes < piece.length;
    const blockBytes = piece.length === 0 ? 0 : compressedIsSmaller ? compressedBytes : piece.length;
    const frame = Buffer.alloc(LZ4_HEADER.length + (piece.length === 0 ? 0 : LZ4_BLOCK_SIZE_BYTES + blockBytes) + LZ4_END_MARK_BYTES);
    LZ4_HEADER.copy(frame, 0);
    let at = LZ4_HEADER.length;
    if (piece.length > 0) {
      frame.writeUInt32LE(compressedIsSmaller ? compressedBytes : (piece.length | LZ4_UNCOMPRESSED) >>> 0, at);
      at += LZ4_BLOCK_SIZE_BYTES;
      frame.set(compressedIsSmaller ? sized.subarray(LZ4_BLOCK_SIZE_BYTES) : piece, at);
      at += blockBytes;
    }
    frame.writeUInt32LE(0, at); // end mark
    return frame;
  },

  async decompress(frame, contentBytes) {
    const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
    if (bytes.length < LZ4_HEADER.length + LZ4_END_MARK_BYTES || !bytes.subarray(0, LZ4_HEADER.length).equals(LZ4_HEADER)) {
      throw new Error('not an LZ4 frame of this store');
    }
    if (contentBytes === 0) {
      if (bytes.length !== LZ4_HEADER.length + LZ4_END_MARK_BYTES || bytes.readUInt32LE(LZ4_HEADER.length) !== 0) throw new Error('an empty LZ4 frame has data');
      return new Uint8Array(0);
    }
    const blockField = bytes.readUInt32LE(LZ4_HEADER.length);
    const blockBytes = blockField & ~LZ4_UNCOMPRESSED;
    const start = LZ4_HEADER.length + LZ4_BLOCK_SIZE_BYTES;
    if (start + blockBytes + LZ4_END_MARK_BYTES !== bytes.length || bytes.readUInt32LE(start + blockBytes) !== 0) {
      throw new Error(`the LZ4 block size ${blockBytes} does not fit the frame`);
    }
    if (blockField & LZ4_UNCOMPRESSED) {
      if (blockBytes !== contentBytes) throw new Error(`an uncompressed LZ4 block of ${blockBytes} bytes, expected ${contentBytes}`);
      return bytes.subarray(start, start + blockBytes);
    }
    // lz4_flex reads the content size from 4 bytes in front of the block.
    const sized = Buffer.allocUnsafe(LZ4_BLOCK_SIZE_BYTES + blockBytes);
    sized.writeUInt32LE(contentBytes, 0);
    bytes.copy(sized, LZ4_BLOCK_SIZE_BYTES, start, start + blockBytes);
    const content = lz4DecompressBlock(sized);
    if (content.length !== contentBytes) throw new Error(`the LZ4 block holds ${content.length} bytes, expected ${contentBytes}`);
    return content;
  },
};

// ---------------------------------------------------------------------------------------------
// zstd: the library writes and reads whole frames itself.

/** zstd's default level. */
const ZSTD_LEVEL = 3;
const ZSTD_MAGIC = 0xfd2fb528;
let zstdReady: Promise<void> | null = null;

const zstd: FrameCodec = {
  async compress(piece) {
    await (zstdReady ??= initZstd());
    return zstdCompress(piece, ZSTD_LEVEL);
  },

  async decompress(frame, contentBytes) {
    await (zstdReady ??= initZstd());
    // The WebAssembly decoder allocates what the frame header declares: check that first.
    const declared = zstdContentSize(frame);
    if (declared !== contentBytes) throw new Error(`the zstd frame declares ${declared ?? 'no'} content size, expected ${contentBytes}`);
    const content = zstdDecompress(frame);
    if (content.length !== contentBytes) throw new Error(`the zstd frame holds ${content.length} bytes, expected ${contentBytes}`);
    return content;
  },
};

/** Frame_Content_Size from a zstd frame header (RFC 8878, 3.1.1.1); null when absent or unreadable. */
function zstdContentSize(frame: Uint8Array): number | null {
  const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
  if (bytes.length < 6 || bytes.readUInt32LE(0) !== ZSTD_MAGIC) return null;
  const descriptor = bytes[4]!;
  const singleSegment = (descriptor >> 5) & 1;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]!;
  const fieldBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
  if (fieldBytes === 0 || bytes.length < at + fieldBytes) return null;
  if (fieldBytes === 1) return bytes[at]!;
  if (fieldBytes === 2) return bytes.readUInt16LE(at) + 256;
  if (fieldBytes === 4) return bytes.readUInt32LE(at);
  return Number(bytes.readBigUInt64LE(at));
}

export const FRAME_CODECS = { warm: lz4, cold: zstd } as const;
