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

/** A growable buffer of protocol buffer fields. */
class Writer {
  private bytes = Buffer.allocUnsafe(1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  /** A non-negative integer up to 2^53 as a varint (arithmetic, not 32-bit bit operations). */
  varint(value: number): void {
    this.room(10);
    let v = value;
    while (v >= 0x80) {
      this.bytes[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[this.length++] = v;
  }

  tag(field: number, wireType: 0 | 1 | 2): void {
    this.varint(field * 8 + wireType);
  }

  raw(bytes: Buffer): void {
    this.room(bytes.length);
    bytes.copy(this.bytes, this.length);
    this.length += bytes.length;
  }

  /** A length-delimited field. */
  message(field: number, bytes: Buffer): void {
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

  /** Packed repeated varints, their bytes counted first (no buffer of their own). */
  packed(field: number, values: readonly number[]): void {
    let bytes = 0;
    for (const v of values) bytes += varintLength(v);
    this.tag(field, 2);
    this.varint(bytes);
    for (const v of values) this.varint(v);
  }

  /** Start again, keeping the memory (a scratch writer reused for every feature). */
  reset(): void {
    this.length = 0;
  }

  finish(): Buffer {
    return this.bytes.subarray(0, this.length);
  }
}

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function varintLength(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
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

/** One layer (spec 4.1): its features, each a single point, with keys and values shared in tables. */
function layerMessage(layer: Layer): Buffer {
  const keys = new Map<string, number>();
  // Values by type: the number 1 and the string "1" are two values.
  const numbers = new Map<number, number>();
  const strings = new Map<string, number>();
  const booleans = new Map<boolean, number>();
  const values: PropertyValue[] = [];
  const indexOf = (value: PropertyValue): number => {
    const table: Map<PropertyValue, number> = typeof value === 'number' ? numbers : typeof value === 'string' ? strings : booleans;
    let index = table.get(value);
    if (index === undefined) {
      index = values.length;
      table.set(value, index);
      values.push(value);
    }
    return index;
  };
  const w = new Writer();
  w.tag(15, 0);
  w.varint(2); // version
  w.string(1, layer.name);
  const f = new Writer();
  const tags: number[] = [];
  for (const feature of layer.features) {
    tags.length = 0;
    for (const key in feature.properties) {
      const value = feature.properties[key];
      if (value === undefined) continue;
      let k = keys.get(key);
      if (k === undefined) keys.set(key, (k = keys.size));
      tags.push(k, indexOf(value));
    }
    f.reset();
    if (tags.length > 0) f.packed(2, tags);
    f.tag(3, 0);
    f.varint(1); // POINT
    // One MoveTo of one point (command 1, count 1), the position from the tile's origin (4.3).
    f.packed(4, [9, zigzag(Math.round(feature.x)), zigzag(Math.round(feature.y))]);
    w.message(2, f.finish());
  }
  for (const key of keys.keys()) w.string(3, key);
  for (const value of values) writeValue(w, value);
  w.tag(5, 0);
  w.varint(EXTENT);
  return w.finish();
}

/** The tile: its layers that hold features, in the order given (none: an empty tile, zero bytes). */
export function encodeTile(layers: readonly Layer[]): Buffer {
  const w = new Writer();
  for (const layer of layers) if (layer.features.length > 0) w.message(3, layerMessage(layer));
  return w.finish();
}
