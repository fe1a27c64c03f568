// PostgreSQL's binary COPY format, written straight into one growing Buffer per batch. Binary
// rows spare both processes the number and date text round trip (Node's float and ISO formatting,
// the server's float8in and timestamptz_in: most of what COPY into staging cost) and leave no
// per-field strings for the garbage collector. Written by hand: the format is a header,
// length-prefixed fields and a trailer, and the npm encoders for it (pg-copy-streams-binary)
// build a stream of small Buffers per row, the garbage this avoids.
// Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
import { randomFillSync } from 'node:crypto';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags and header extension length: where the first row starts. */
export const COPY_HEADER_BYTES = 19;
const TRAILER_BYTES = 2;
/** The smallest buffer a writer starts with (and the smallest worth reusing). */
export const MIN_BUFFER_BYTES = 1024;
/** 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;
const DAY_MS = 86_400_000;
const TEXT_OID = 25;
const TWO_32 = 2 ** 32;
/** Entropy for randomUuid, drawn from the CSPRNG 4096 ids at a time; every byte is used once. */
const UUID_ENTROPY = Buffer.allocUnsafeSlow(16 * 4096);
let uuidEntropyUsed = UUID_ENTROPY.length;

/** The column types the lake loads; each field must match its staging column's type exactly. */
export class CopyBinaryWriter {
  private buffer: Buffer;
  /** The same memory as `buffer`: DataView's setters are inlined by V8, Buffer's write methods check their arguments in JavaScript first. */
  private view: DataView;
  private position = 0;

  /** `start`: the bytes to expect, or a buffer to write into (one of an earlier batch, committed since; it grows as a new one would). */
  constructor(start: number | Buffer = 64 * 1024) {
    // Never the shared pool's memory: parse workers transfer it.
    this.buffer = typeof start === 'number' ? Buffer.allocUnsafeSlow(Math.max(start, MIN_BUFFER_BYTES)) : start;
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.buffer.set(SIGNATURE, 0);
    this.buffer.writeInt32BE(0, 11); // flags: no OIDs
    this.buffer.writeInt32BE(0, 15); // header extension length
    this.position = COPY_HEADER_BYTES;
  }

  /** Bytes written so far: where the next row starts. */
  get length(): number {
    return this.position;
  }

  /** Starts a row of `fields` fields. */
  row(fields: number): void {
    this.reserve(2);
    this.view.setInt16(this.position, fields);
    this.position += 2;
  }

  null(): void {
    this.reserve(4);
    this.view.setInt32(this.position, -1);
    this.position += 4;
  }

  /** A uuid already converted with `uuidBytes` (ids repeat on every row of a batch). */
  uuid(value: Buffer | null): void {
    if (value == null) return this.null();
    this.bytes(value);
  }

  /**
   * A new random (version 4) UUID. Made here rather than by the column's gen_random_uuid()
   * default, costly in PGlite for every row (strong random bytes through WebAssembly).
   */
  randomUuid(): void {
    if (uuidEntropyUsed === UUID_ENTROPY.length) {
      randomFillSync(UUID_ENTROPY);
      uuidEntropyUsed = 0;
    }
    this.reserve(4 + 16);
    this.view.setInt32(this.position, 16);
    const at = this.position + 4;
    UUID_ENTROPY.copy(this.buffer, at, uuidEntropyUsed, uuidEntropyUsed + 16);
    uuidEntropyUsed += 16;
    this.buffer[at + 6] = (this.buffer[at + 6]! & 0x0f) | 0x40; // version 4
    this.buffer[at + 8] = (this.buffer[at + 8]! & 0x3f) | 0x80; // RFC 9562 variant
    this.position = at + 16;
  }

  bytes(value: Uint8Array | null | undefined): void {
    if (value == null) return this.null();
    this.reserve(4 + value.length);
    this.view.setInt32(this.position, value.length);
    this.position += 4;
    this.buffer.set(value, this.position);
    this.position += value.length;
  }

  /** bytea from a binary string, one character per byte (a digest in `latin1`). */
  latin1(value: string | null | undefined): void {
    if (value == null) return this.null();
    this.reserve(4 + value.length);
    this.view.setInt32(this.position, value.length);
    this.position += 4;
    this.position += this.buffer.write(value, this.position, value.length, 'latin1');
  }

  /** bytea from hex digits. */
  hex(digits: string | null | undefined): void {
    if (digits == null) return this.null();
    const length = digits.length >>> 1;
    this.reserve(4 + length);
    this.view.setInt32(this.position, length);
    this.position += 4;
    this.position += this.buffer.write(digits, this.position, length, 'hex');
  }

  text(value: string | null | undefined): void {
    if (value == null) return this.null();
    // UTF-8 takes at most 3 bytes per UTF-16 unit; write in place, then fill in the length.
    this.reserve(4 + value.length * 3);
    const start = this.position + 4;
    const written = this.buffer.write(value, start, 'utf8');
    this.view.setInt32(this.position, written);
    this.position = start + written;
  }

  /** A JSON value as jsonb (version 1, then the text); null stays NULL, so does `{}` with `emptyAsNull`. */
  jsonb(value: Record<string, unknown> | readonly unknown[] | null | undefined, emptyAsNull = false): void {
    if (value == null || (emptyAsNull && isEmpty(value))) return this.null();
    const json = JSON.stringify(value);
    this.reserve(5 + json.length * 3);
    const start = this.position + 5;
    this.buffer[this.position + 4] = 1;
    const written = this.buffer.write(json, start, 'utf8');
    this.view.setInt32(this.position, written + 1);
    this.position = start + written;
  }

  /** double precision; NaN and infinities become NULL (they are never data here). */
  float8(value: number | null | undefined): void {
    if (value == null || !Number.isFinite(value)) return this.null();
    this.reserve(12);
    this.view.setInt32(this.position, 8);
    this.view.setFloat64(this.position + 4, value);
    this.position += 12;
  }

  /** real */
  float4(value: number | null | undefined): void {
    if (value == null || !Number.isFinite(value)) return this.null();
    this.reserve(8);
    this.view.setInt32(this.position, 4);
    this.view.setFloat32(this.position + 4, value);
    this.position += 8;
  }

  /** smallint; validation has checked the range, fractions are rounded. */
  int2(value: number | null | undefined): void {
    if (value == null || !Number.isFinite(value)) return this.null();
    this.reserve(6);
    this.view.setInt32(this.position, 2);
    this.view.setInt16(this.position + 4, Math.round(value));
    this.position += 6;
  }

  /** bigint, for integers within ±2^53. */
  int8(value: number | null | undefined): void {
    if (value == null || !Number.isFinite(value)) return this.null();
    this.reserve(12);
    this.view.setInt32(this.position, 8);
    this.position += 4;
    this.writeInt64(Math.round(value));
  }

  bool(value: boolean | null | undefined): void {
    if (value == null) return this.null();
    this.reserve(5);
    this.view.setInt32(this.position, 1);
    this.buffer[this.position + 4] = value ? 1 : 0;
    this.position += 5;
  }

  /**
   * timestamptz: microseconds since 2000-01-01 UTC; an invalid Date becomes NULL. `micros`: the
   * microseconds past the Date's millisecond (0-999) where the source has them.
   */
  timestamptz(value: Date | null | undefined, micros?: number | null): void {
    const ms = value?.getTime();
    if (ms === undefined || Number.isNaN(ms)) return this.null();
    this.reserve(12);
    this.view.setInt32(this.position, 8);
    this.position += 4;
    this.writeInt64((ms - PG_EPOCH_MS) * 1000 + (micros ?? 0));
  }

  /** date from `YYYY-MM-DD` (validated upstream): days since 2000-01-01. */
  date(value: string | null | undefined): void {
    if (value == null) return this.null();
    const days = (Date.UTC(Number(value.slice(0, 4)), Number(value.slice(5, 7)) - 1, Number(value.slice(8, 10))) - PG_EPOCH_MS) / DAY_MS;
    if (!Number.isInteger(days)) return this.null();
    this.reserve(8);
    this.view.setInt32(this.position, 4);
    this.view.setInt32(this.position + 4, days);
    this.position += 8;
  }

  /** text[] (one dimension, no NULL elements). */
  textArray(values: readonly string[] | null | undefined): void {
    if (values == null) return this.null();
    const lengthAt = this.position;
    this.reserve(24);
    this.position += 4;
    this.position = this.buffer.writeInt32BE(values.length > 0 ? 1 : 0, this.position); // dimensions
    this.position = this.buffer.writeInt32BE(0, this.position); // has NULLs
    this.position = this.buffer.writeInt32BE(TEXT_OID, this.position);
    if (values.length > 0) {
      this.position = this.buffer.writeInt32BE(values.length, this.position);
      this.position = this.buffer.writeInt32BE(1, this.position); // lower bound
    }
    for (const value of values) this.text(value);
    this.buffer.writeInt32BE(this.position - lengthAt - 4, lengthAt);
  }

  /** The COPY data so far plus the trailer; the writer is not used afterwards. */
  finish(): Buffer {
    this.reserve(2);
    this.position = this.buffer.writeInt16BE(-1, this.position);
    return this.buffer.subarray(0, this.position);
  }

  private writeInt64(value: number): void {
    const high = Math.floor(value / TWO_32);
    this.view.setInt32(this.position, high);
    this.view.setUint32(this.position + 4, value - high * TWO_32);
    this.position += 8;
  }

  private reserve(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }
}

/**
 * The rows of `data` (finished COPY data) from byte `start` to byte `end`, as COPY data of their
 * own: to split a batch the database refused.
 */
export function sliceCopyRows(data: Buffer, start: number, end: number): Buffer {
  const slice = Buffer.allocUnsafeSlow(COPY_HEADER_BYTES + (end - start) + TRAILER_BYTES);
  data.copy(slice, 0, 0, COPY_HEADER_BYTES);
  data.copy(slice, COPY_HEADER_BYTES, start, end);
  slice.writeInt16BE(-1, slice.length - TRAILER_BYTES);
  return slice;
}

/** Where the trailer of finished COPY data starts: the end of its last row. */
export function copyRowsEnd(data: Buffer): number {
  return data.length - TRAILER_BYTES;
}

/** A uuid's 16 bytes, for `CopyBinaryWriter.uuid`. */
export function uuidBytes(value: string): Buffer {
  return Buffer.from(value.replace(/-/g, ''), 'hex');
}

function isEmpty(value: object): boolean {
  for (const _ in value) return false;
  return true;
}
