// Mapbox Vector Tiles (MVT 2.1: https://github.com/mapbox/vector-tile-spec/tree/master/2.1) of
// point features, written here rather than by PostGIS's ST_AsMVT: the PostGIS of the embedded
// database (@electric-sql/pglite-postgis 0.0.8) is built without protobuf-c, so ST_AsMVT and
// ST_AsMVTGeom fail there ("Compiled without protobuf-c support"), and a lake without PostGIS has
// neither. The database finds the features and their positions; this writes the protocol buffer.
// Also the Web Mercator arithmetic of the tile grid the queries share (query/tiles.ts).

/** Tile coordinates per tile side: the spec's default, and what MapLibre expects. */
export const EXTENT = 4096;
/** Web Mercator's latitude limit (the square world): latitudes beyond are drawn at the edge. */
export const MAX_LATITUDE = 85.0511287798066;

/** A property value: numbers are written as unsigned, signed or double values as they need. */
export type PropertyValue = string | number | boolean;

export interface PointFeature {
  /** Tile coordinates, 0..EXTENT from the tile's west and north edges. */
  x: number;
  y: number;
  /** Properties; undefined ones are left out. */
  properties: Record<string, PropertyValue | undefined>;
}

export interface Layer {
  name: string;
  features: readonly PointFeature[];
}

/** A position's place in the world's square at zoom z, in tiles: [x, y], fractions within a tile. */
export function worldPosition(lat: number, lon: number, z: number): [number, number] {
  const size = 2 ** z;
  const phi = (Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat)) * Math.PI) / 180;
  const x = ((lon + 180) / 360) * size;
  const y = ((1 - Math.asinh(Math.tan(phi)) / Math.PI) / 2) * size;
  return [x, y];
}

/** The latitude of the north edge of tile row y at zoom z. */
export function tileLatitude(y: number, z: number): number {
  return (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / 2 ** z))) * 180) / Math.PI;
}

/** The longitude of the west edge of tile column x at zoom z. */
export function tileLongitude(x: number, z: number): number {
  return (x / 2 ** z) * 360 - 180;
}

/** A growable buffer of protocol buffer fields, written in place (a tile is thousands of them). */
class Writer {
  private bytes = Buffer.allocUnsafe(4096);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  /** A non-negative integer up to 2^53 as a varint: bit operations below 2^31, arithmetic above. */
  varint(value: number): void {
    this.room(10);
    const b = this.bytes;
    let v = value;
    while (v >= 0x80000000) {
      b[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    while (v >= 0x80) {
      b[this.length++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.length++] = v;
  }

  tag(field: number, wireType: 0 | 1 | 2): void {
    this.varint(field * 8 + wireType);
  }

  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** A length-delimited field. */
  message(field: number, bytes: Uint8Array): void {
    this.tag(field, 2);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  string(field: number, value: string): void {
    this.message(field, Buffer.from(value, 'utf8'));
  }

  double(field: number, value: number): void {
    this.tag(field, 1);
    this.room(8);
    this.bytes.writeDoubleLE(value, this.length);
    this.length += 8;
  }

  finish(): Buffer {
    return this.bytes.subarray(0, this.length);
  }
}

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function varintLength(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let n = 5;
  for (let v = Math.floor(value / 0x800000000); v > 0; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** A Value message (spec 4.1) as field 4 of a layer: string, uint (field 5), sint (6), double (3) or bool (7). */
function writeValue(w: Writer, value: PropertyValue): void {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    w.tag(4, 2);
    w.varint(1 + varintLength(bytes.length) + bytes.length);
    w.message(1, bytes);
  } else if (typeof value === 'boolean') {
    w.tag(4, 2);
    w.varint(2);
    w.tag(7, 0);
    w.varint(value ? 1 : 0);
  } else if (Number.isSafeInteger(value)) {
    const [field, encoded] = value >= 0 ? [5, value] : [6, zigzag(value)];
    w.tag(4, 2);
    w.varint(1 + varintLength(encoded));
    w.tag(field, 0);
    w.varint(encoded);
  } else {
    w.tag(4, 2);
    w.varint(9);
    w.double(3, value);
  }
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/**
 * Numbers to their index in a layer's values: open addressing on the number's bits. A tile's times
 * are mostly distinct doubles above the small-integer range, which a Map hashes slowly.
 */
class NumberIndex {
  private keys = new Float64Array(1024);
  private indexes = new Int32Array(1024).fill(-1);
  private size = 0;

  /** The index of value, or `next` when it is new (and then recorded as such). */
  indexOf(value: number, next: number): number {
    if (this.size * 2 >= this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    bits[0] = value;
    // murmur3's finalizer of the two words: integers leave the low word's low bits all zero.
    let slot = words[0]! ^ Math.imul(words[1]!, 0x9e3779b1);
    slot = Math.imul(slot ^ (slot >>> 16), 0x85ebca6b);
    slot = Math.imul(slot ^ (slot >>> 13), 0xc2b2ae35);
    slot ^= slot >>> 16;
    for (;; slot++) {
      slot &= mask;
      const index = this.indexes[slot]!;
      if (index === -1) break;
      if (this.keys[slot] === value) return index;
    }
    this.keys[slot] = value;
    this.indexes[slot] = next;
    this.size++;
    return next;
  }

  private grow(): void {
    const { keys, indexes } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.indexes = new Int32Array(keys.length * 2).fill(-1);
    this.size = 0;
    for (let slot = 0; slot < keys.length; slot++) if (indexes[slot] !== -1) this.indexOf(keys[slot]!, indexes[slot]!);
  }
}

/**
 * One layer (spec 4.1): its features, each a single point, with keys and values shared in tables.
 * Each feature's length is counted before it is written, so it is written once, in place.
 */
function writeLayer(w: Writer, layer: Layer): void {
  const keys = new Map<string, number>();
  // Values by type: the number 1 and the string "1" are two values.
  const numbers = new NumberIndex();
  const others = new Map<string | boolean, number>();
  const values: PropertyValue[] = [];
  const indexOf = (value: PropertyValue): number => {
    if (typeof value === 'number') {
      const index = numbers.indexOf(value, values.length);
      if (index === values.length) values.push(value);
      return index;
    }
    let index = others.get(value);
    if (index === undefined) {
      index = values.length;
      others.set(value, index);
      values.push(value);
    }
    return index;
  };
  w.tag(15, 0);
  w.varint(2); // version
  w.string(1, layer.name);
  const tags: number[] = [];
  for (const feature of layer.features) {
    tags.length = 0;
    let tagBytes = 0;
    for (const key in feature.properties) {
      const value = feature.properties[key];
      if (value === undefined) continue;
      let k = keys.get(key);
      if (k === undefined) keys.set(key, (k = keys.size));
      const v = indexOf(value);
      tags.push(k, v);
      tagBytes += varintLength(k) + varintLength(v);
    }
    // One MoveTo of one point (command 1, count 1), the position from the tile's origin (4.3).
    const x = zigzag(Math.round(feature.x));
    const y = zigzag(Math.round(feature.y));
    const geometryBytes = 1 + varintLength(x) + varintLength(y);
    const featureBytes = (tags.length > 0 ? 1 + varintLength(tagBytes) + tagBytes : 0) + 2 + 1 + varintLength(geometryBytes) + geometryBytes;
    w.tag(2, 2);
    w.varint(featureBytes);
    if (tags.length > 0) {
      w.tag(2, 2);
      w.varint(tagBytes);
      for (const t of tags) w.varint(t);
    }
    w.tag(3, 0);
    w.varint(1); // POINT
    w.tag(4, 2);
    w.varint(geometryBytes);
    w.varint(9);
    w.varint(x);
    w.varint(y);
  }
  for (const key of keys.keys()) w.string(3, key);
  for (const value of values) writeValue(w, value);
  w.tag(5, 0);
  w.varint(EXTENT);
}

/** The tile: its layers that hold features, in the order given (none: an empty tile, zero bytes). */
export function encodeTile(layers: readonly Layer[]): Buffer {
  const tile = new Writer();
  const layerWriter = new Writer();
  for (const layer of layers) {
    if (layer.features.length === 0) continue;
    layerWriter.length = 0;
    writeLayer(layerWriter, layer);
    tile.message(3, layerWriter.finish());
  }
  return tile.finish();
}
