// A small PMTiles version 3 writer for tests (spec: github.com/protomaps/PMTiles, spec/v3/spec.md),
// written here from the spec: a 127-byte header, one root directory (no leaf directories) of
// varint-encoded entries in columns, the JSON metadata, then the tiles in tile id order (so the
// archive is clustered). Directory and metadata are stored as they are or gzipped
// (InternalCompression 1 or 2); tiles are stored as given, uncompressed (TileCompression 1).
import { gzipSync } from 'node:zlib';

export interface ArchiveTile {
  z: number;
  x: number;
  y: number;
  /** The tile's bytes (an MVT tile for tileType 'mvt'); empty tiles are left out, as the spec wants. */
  data: Uint8Array;
}

export interface ArchiveOptions {
  /** How the root directory and the metadata are stored: 'none' (1) or 'gzip' (2). */
  internalCompression: 'none' | 'gzip';
  /** The JSON metadata; for MVT tiles it should list vector_layers (TileJSON 3.0). */
  metadata: Record<string, unknown>;
  /** [west, south, east, north] in degrees. */
  bounds: [number, number, number, number];
  /** [longitude, latitude, zoom]. */
  center: [number, number, number];
}

const HEADER_BYTES = 127;
/** The header and root directory must fit in the first 16 KiB (spec: Directory Hierarchy). */
const ROOT_LIMIT = 16_384;
const COMPRESSION = { none: 1, gzip: 2 } as const;
const TILE_TYPE_MVT = 1;

/**
 * The tile id of z/x/y: the tiles of all lower zooms (1 + 4 + ... + 4^(z-1)) plus the tile's
 * position along the Hilbert curve filling zoom z's 2^z x 2^z square.
 */
export function tileId(z: number, x: number, y: number): number {
  const size = 2 ** z;
  if (!Number.isInteger(z) || z < 0 || z > 26 || x < 0 || y < 0 || x >= size || y >= size) throw new RangeError(`no tile ${z}/${x}/${y}`);
  let before = 0;
  for (let level = 0; level < z; level++) before += 4 ** level;
  let position = 0;
  let [cx, cy] = [x, y];
  for (let half = size / 2; half >= 1; half /= 2) {
    const right = cx >= half ? 1 : 0;
    const lower = cy >= half ? 1 : 0;
    position += half * half * ((3 * right) ^ lower);
    // Into the quadrant's own frame: the lower quadrants are mirrored and turned, the upper ones turned.
    cx %= half;
    cy %= half;
    if (lower === 0) {
      if (right === 1) [cx, cy] = [half - 1 - cx, half - 1 - cy];
      [cx, cy] = [cy, cx];
    }
  }
  return before + position;
}

/** Unsigned LEB128: seven bits a byte, lowest first (numbers up to 2^53, so arithmetic, not bit operations). */
function varint(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a varint: ${value}`);
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

interface Entry {
  tileId: number;
  offset: number;
  length: number;
  runLength: number;
}

/** A directory as the spec serializes it: count, then tile ids (as deltas), run lengths, lengths, offsets, each column in turn. */
function directoryBytes(entries: readonly Entry[]): Buffer {
  if (entries.length === 0) throw new Error('a directory must not be empty');
  const out: number[] = [];
  varint(out, entries.length);
  let previousId = 0;
  for (const entry of entries) {
    varint(out, entry.tileId - previousId);
    previousId = entry.tileId;
  }
  for (const entry of entries) varint(out, entry.runLength);
  for (const entry of entries) varint(out, entry.length);
  entries.forEach((entry, i) => {
    const previous = entries[i - 1];
    // 0: right after the previous entry's bytes; otherwise the offset plus one.
    varint(out, previous && entry.offset === previous.offset + previous.length ? 0 : entry.offset + 1);
  });
  return Buffer.from(out);
}

function u64(header: Buffer, at: number, value: number): void {
  header.writeBigUInt64LE(BigInt(value), at);
}

const e7 = (degrees: number) => Math.round(degrees * 10_000_000);

/** The archive's bytes. */
export function writePmtiles(tiles: readonly ArchiveTile[], options: ArchiveOptions): Buffer {
  const compress = (bytes: Buffer) => (options.internalCompression === 'gzip' ? gzipSync(bytes) : bytes);
  const sorted = tiles.filter((tile) => tile.data.length > 0).map((tile) => ({ ...tile, id: tileId(tile.z, tile.x, tile.y) })).sort((a, b) => a.id - b.id);
  if (sorted.length === 0) throw new Error('an archive needs at least one tile');
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.id === sorted[i - 1]!.id) throw new Error(`tile ${sorted[i]!.z}/${sorted[i]!.x}/${sorted[i]!.y} is given twice`);
  const entries: Entry[] = [];
  let offset = 0;
  for (const tile of sorted) {
    entries.push({ tileId: tile.id, offset, length: tile.data.length, runLength: 1 });
    offset += tile.data.length;
  }
  const root = compress(directoryBytes(entries));
  if (HEADER_BYTES + root.length > ROOT_LIMIT) throw new Error(`the root directory (${root.length} bytes) does not fit in the first 16 KiB: this writer makes no leaf directories`);
  const metadata = compress(Buffer.from(JSON.stringify(options.metadata)));
  const tileData = Buffer.concat(sorted.map((tile) => tile.data));

  const rootOffset = HEADER_BYTES;
  const metadataOffset = rootOffset + root.length;
  const leavesOffset = metadataOffset + metadata.length;
  const dataOffset = leavesOffset;
  const header = Buffer.alloc(HEADER_BYTES);
  header.write('PMTiles', 0, 'ascii');
  header.writeUInt8(3, 7);
  u64(header, 8, rootOffset);
  u64(header, 16, root.length);
  u64(header, 24, metadataOffset);
  u64(header, 32, metadata.length);
  u64(header, 40, leavesOffset);
  u64(header, 48, 0);
  u64(header, 56, dataOffset);
  u64(header, 64, tileData.length);
  u64(header, 72, entries.length); // addressed tiles: the sum of the run lengths
  u64(header, 80, entries.length); // tile entries
  u64(header, 88, entries.length); // tile contents: no two entries share bytes
  header.writeUInt8(1, 96); // clustered: the tiles are in tile id order
  header.writeUInt8(COMPRESSION[options.internalCompression], 97);
  header.writeUInt8(COMPRESSION.none, 98);
  header.writeUInt8(TILE_TYPE_MVT, 99);
  header.writeUInt8(Math.min(...sorted.map((t) => t.z)), 100);
  header.writeUInt8(Math.max(...sorted.map((t) => t.z)), 101);
  const [west, south, east, north] = options.bounds;
  header.writeInt32LE(e7(west), 102);
  header.writeInt32LE(e7(south), 106);
  header.writeInt32LE(e7(east), 110);
  header.writeInt32LE(e7(north), 114);
  header.writeUInt8(options.center[2], 118);
  header.writeInt32LE(e7(options.center[0]), 119);
  header.writeInt32LE(e7(options.center[1]), 123);
  return Buffer.concat([header, root, metadata, tileData]);
}

/**
 * An MVT layer (vector tile spec 2.1) of axis-aligned rectangles, for the style's fill layers:
 * src/geo/mvt.ts's encodeTile writes points only. Its bytes are a Tile message holding one layer,
 * so they may be appended to encodeTile's (a tile's layers are a repeated field). Rectangles are
 * [x0, y0, x1, y1] in tile units (0..4096, y down); each ring is written clockwise on screen, as
 * exterior rings must be. Every rectangle gets the same properties (string values).
 */
export function rectangleLayer(name: string, rectangles: readonly [number, number, number, number][], properties: Record<string, string>): Buffer {
  const zigzag = (n: number) => (n < 0 ? -2 * n - 1 : 2 * n);
  const field = (out: number[], number: number, wireType: 0 | 2) => varint(out, number * 8 + wireType);
  const bytesField = (out: number[], number: number, bytes: readonly number[] | Buffer) => {
    field(out, number, 2);
    varint(out, bytes.length);
    out.push(...bytes);
  };
  const packed = (values: readonly number[]) => {
    const out: number[] = [];
    for (const value of values) varint(out, value);
    return out;
  };
  const keys = Object.keys(properties);
  const layer: number[] = [];
  field(layer, 15, 0);
  varint(layer, 2); // version
  bytesField(layer, 1, Buffer.from(name));
  rectangles.forEach(([x0, y0, x1, y1], i) => {
    const [left, right, top, bottom] = [Math.min(x0, x1), Math.max(x0, x1), Math.min(y0, y1), Math.max(y0, y1)].map(Math.round) as [number, number, number, number];
    // MoveTo the top left corner; LineTo top right, bottom right, bottom left; ClosePath.
    const geometry = [
      (1 & 7) | (1 << 3), zigzag(left), zigzag(top),
      (2 & 7) | (3 << 3), zigzag(right - left), 0, 0, zigzag(bottom - top), zigzag(left - right), 0,
      (7 & 7) | (1 << 3),
    ];
    const feature: number[] = [];
    field(feature, 1, 0);
    varint(feature, i + 1); // id
    bytesField(feature, 2, packed(keys.flatMap((_, k) => [k, k]))); // tags: key k, value k
    field(feature, 3, 0);
    varint(feature, 3); // POLYGON
    bytesField(feature, 4, packed(geometry));
    bytesField(layer, 2, feature);
  });
  for (const key of keys) bytesField(layer, 3, Buffer.from(key));
  for (const key of keys) {
    const value: number[] = [];
    bytesField(value, 1, Buffer.from(properties[key]!)); // string_value
    bytesField(layer, 4, value);
  }
  field(layer, 5, 0);
  varint(layer, 4096); // extent
  const tile: number[] = [];
  bytesField(tile, 3, layer);
  return Buffer.from(tile);
}
