// A mutation fuzzer over the archive readers (src/ingest/extract): fast-check arbitraries that
// describe a valid, real-shaped input (zip with stored and deflated entries, ZIP64, split Takeout
// parts, tar with PAX and GNU long names, tgz, folders, single files, several of those in one call)
// with hostile names, plus a
// list of mutations to apply to its bytes (flips, cuts, repeated or deleted sections, header fields
// set to huge or lying values). `runFuzzCase` writes the case into a temp folder, reads it through
// readExport, consumes every entry's stream fully and judges the outcome: entries read, or a
// LakeError naming the input; anything else (another exception, an uncaught error, a hang, a
// file written, bytes that disagree with the declared size, memory or a file descriptor kept) is a
// failure.
// Used by test/fuzz-archives.test.ts (short, seeded) and bench/fuzz-archives.ts (long).
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { LakeError } from '../../src/errors.js';
import { readExport, readHead, sniffMimeType, type ExtractLimits } from '../../src/ingest/extract/index.js';
import { buildZip, paxHeader, TAR_END, tarFile, tarHeader, writeYazl } from './archives.js';

export const ARCHIVE_KINDS = ['zip', 'zip64', 'split', 'tar', 'tgz', 'folder', 'file', 'mixed'] as const;
export type ArchiveKind = (typeof ARCHIVE_KINDS)[number];

/** Names written into entries that, if anything ever wrote them to disk, would be found by checkNothingWritten. */
const ESCAPE_MARKER = 'fuzz-escape';
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Entry names and contents

const nameArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('Takeout/Location History/Records.json', 'Takeout/Mail/All mail.mbox', 'Takeout/My Activity/Search/MyActivity.html', 'a.csv', 'Takeout/Photos/IMG_0001.JPG', 'Takeout/Photos/img_0001.jpg').map((name) => Buffer.from(name)) },
  { weight: 3, arbitrary: fc.constantFrom(`../${ESCAPE_MARKER}`, `a/../../${ESCAPE_MARKER}`, `..\\${ESCAPE_MARKER}`, `/tmp/${ESCAPE_MARKER}`, `C:${ESCAPE_MARKER}`, `./Takeout/./x.json`, '', '.', './', '/', 'dir/', `a//b///${ESCAPE_MARKER}`).map((name) => Buffer.from(name)) },
  // Long names, deep folders: past the 100-byte tar name field and the 255-byte file name limit.
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 300 })).map(([depth, length]) => Buffer.from(`${Array.from({ length: depth }, (_, i) => `d${i}`).join('/')}/${'n'.repeat(length)}.json`)) },
  // Control bytes, invalid and odd encodings: latin1, truncated and overlong UTF-8, encoded surrogates, UTF-16, NUL.
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('Takeout/', 'x', ''), fc.constantFrom([0x00], [0x01], [0x0a], [0x1b, 0x5b, 0x32, 0x4a], [0x7f], [0xe9], [0xc3, 0x28], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xff, 0xfe, 0x41, 0x00], [0xf4, 0x90, 0x80, 0x80], [0xc3]), fc.constantFrom('.json', '', '/x')).map(([before, bytes, after]) => Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)])) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constantFrom('e\u0301.json', '\u00e9.json', 'Ω/ω.txt', '😀.json', '\u202e.json').map((name) => Buffer.from(name)) },
);

const contentArbitrary: fc.Arbitrary<Buffer<ArrayBuffer>> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 3, arbitrary: fc.constantFrom('{"locations":[{"latitudeE7":1,"longitudeE7":2}]}', 'From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n', 'a,b\n1,2\n3,4\n', '<!doctype html><html><body>x</body></html>', '').map((text) => Buffer.from(text)) },
  // Compressible runs, larger than one zlib chunk (16 KiB) so inflation is streamed.
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 200_000 })).map(([byte, length]) => Buffer.alloc(length, byte)) },
);

// ---------------------------------------------------------------------------------------------
// Mutations

/** Positions are drawn as 32-bit numbers and taken modulo the input's length when applied. */
export type Mutation =
  | { op: 'flip'; at: number; xor: number }
  | { op: 'cut'; at: number }
  | { op: 'repeat'; from: number; length: number; at: number; times: number }
  | { op: 'delete'; from: number; length: number }
  | { op: 'insert'; at: number; bytes: Buffer }
  | { op: 'field'; which: number; value: FieldValue; fixChecksum: boolean };

/** What to write into a header field: chosen by meaning, since the field's width is known only then. */
export type FieldValue = 'zero' | 'one' | 'max' | 'max-1' | 'int31' | 'plus1' | 'minus1' | 'double' | 'half' | 'pow53' | 'garbage' | 'negative';

const position = fc.integer({ min: 0, max: 0xffffffff });
const fieldValue = fc.constantFrom<FieldValue>('zero', 'one', 'max', 'max-1', 'int31', 'plus1', 'minus1', 'double', 'half', 'pow53', 'garbage', 'negative');

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('flip' as const), at: position, xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cut' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat' as const), from: position, length: fc.integer({ min: 1, max: 4096 }), at: position, times: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), from: position, length: fc.integer({ min: 1, max: 1024 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('field' as const), which: position, value: fieldValue, fixChecksum: fc.boolean() }) },
);

const mutationsArbitrary = fc.array(mutationArbitrary, { minLength: 0, maxLength: 4 });

/** A header field found in an archive's bytes: where it is, how wide, little- or big-endian binary, or tar octal text. */
interface Field {
  offset: number;
  width: number;
  encoding: 'le' | 'octal' | 'text';
  /** For tar: the header block whose checksum covers the field. */
  tarHeader?: number;
}

const ZIP_LOCAL = 0x04034b50;
const ZIP_CENTRAL = 0x02014b50;
const ZIP_END = 0x06054b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP_DATA_DESCRIPTOR = 0x08074b50;

const le = (offset: number, width: number): Field => ({ offset, width, encoding: 'le' });

/** Every header field of every zip record found by its signature (a flipped byte may hide some; that is fine). */
function zipFields(data: Buffer): Field[] {
  const fields: Field[] = [];
  for (let at = 0; at + 4 <= data.length; at += 1) {
    if (data[at] !== 0x50 || data[at + 1] !== 0x4b) continue;
    const signature = data.readUInt32LE(at);
    const widths: Array<[number, number]> =
      signature === ZIP_LOCAL ? [[4, 2], [6, 2], [8, 2], [10, 2], [12, 2], [14, 4], [18, 4], [22, 4], [26, 2], [28, 2]]
      : signature === ZIP_CENTRAL ? [[4, 2], [6, 2], [8, 2], [10, 2], [12, 2], [14, 2], [16, 4], [20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [34, 2], [36, 2], [38, 4], [42, 4]]
      : signature === ZIP_END ? [[4, 2], [6, 2], [8, 2], [10, 2], [12, 4], [16, 4], [20, 2]]
      : signature === ZIP64_END ? [[4, 8], [12, 2], [14, 2], [16, 4], [20, 4], [24, 8], [32, 8], [40, 8], [48, 8]]
      : signature === ZIP64_LOCATOR ? [[4, 4], [8, 8], [16, 4]]
      : signature === ZIP_DATA_DESCRIPTOR ? [[4, 4], [8, 4], [12, 4]]
      : [];
    for (const [offset, width] of widths) if (at + offset + width <= data.length) fields.push(le(at + offset, width));
    if (signature === ZIP_CENTRAL && at + 46 <= data.length) fields.push(...extraFieldFields(data, at));
  }
  return fields;
}

/** The extra fields of a central record (ZIP64 sizes and offset, Info-ZIP names and times). */
function extraFieldFields(data: Buffer, record: number): Field[] {
  const fields: Field[] = [];
  const start = record + 46 + data.readUInt16LE(record + 28);
  const end = Math.min(data.length, start + data.readUInt16LE(record + 30));
  for (let at = start; at + 4 <= end; ) {
    const size = data.readUInt16LE(at + 2);
    fields.push(le(at + 2, 2));
    for (let value = at + 4; value + 8 <= Math.min(end, at + 4 + size); value += 8) fields.push(le(value, 8));
    at += 4 + size;
  }
  return fields;
}

/** Header blocks of a tar (at 512-byte boundaries, recognised by `ustar` or a correct checksum) and their fields. */
function tarFields(data: Buffer): Field[] {
  const fields: Field[] = [];
  for (let at = 0; at + 512 <= data.length; at += 512) {
    if (data.toString('latin1', at + 257, at + 262) !== 'ustar') continue;
    const fieldsOfBlock: Array<[number, number, Field['encoding']]> = [[0, 100, 'text'], [100, 8, 'octal'], [124, 12, 'octal'], [136, 12, 'octal'], [148, 8, 'octal'], [156, 1, 'text'], [157, 100, 'text'], [257, 6, 'text'], [345, 155, 'text']];
    for (const [offset, width, encoding] of fieldsOfBlock) fields.push({ offset: at + offset, width, encoding, tarHeader: at });
    // A PAX body follows an `x`/`g` header: its record lengths and values are fields too.
    if (data[at + 156] === 0x78 || data[at + 156] === 0x67) {
      const body = data.toString('latin1', at + 512, Math.min(data.length, at + 1024));
      for (const match of body.matchAll(/(\d+) [^=\n]+=([^\n]*)\n/g)) {
        fields.push({ offset: at + 512 + match.index, width: match[1]!.length, encoding: 'text' });
        fields.push({ offset: at + 512 + match.index + match[0].length - 1 - match[2]!.length, width: match[2]!.length, encoding: 'text' });
      }
    }
  }
  return fields;
}

function readField(data: Buffer, field: Field): bigint {
  if (field.encoding === 'le') {
    let value = 0n;
    for (let i = field.width - 1; i >= 0; i -= 1) value = (value << 8n) | BigInt(data[field.offset + i] ?? 0);
    return value;
  }
  const text = data.toString('latin1', field.offset, field.offset + field.width).replace(/[\0 ]+$/, '').trim();
  return /^[0-7]+$/.test(field.encoding === 'octal' ? text : 'x') ? BigInt(`0o${text}`) : /^\d+$/.test(text) ? BigInt(text) : 0n;
}

function fieldBytes(field: Field, original: bigint, value: FieldValue): Buffer {
  const bits = BigInt(field.width * (field.encoding === 'le' ? 8 : 3));
  const max = field.encoding === 'text' ? 10n ** BigInt(field.width) - 1n : (1n << bits) - 1n;
  const clamp = (n: bigint): bigint => (n < 0n ? 0n : n > max ? max : n);
  const numbers: Record<FieldValue, bigint> = {
    zero: 0n, one: 1n, max, 'max-1': max - 1n, int31: 0x7fffffffn, plus1: original + 1n, minus1: original - 1n,
    double: original * 2n, half: original / 2n, pow53: 1n << 53n, garbage: 0n, negative: 0n,
  };
  if (field.encoding === 'le') {
    const out = Buffer.alloc(field.width);
    if (value === 'garbage' || value === 'negative') return out.fill(value === 'garbage' ? 0xa5 : 0xff);
    let n = clamp(numbers[value]);
    for (let i = 0; i < field.width; i += 1) { out[i] = Number(n & 0xffn); n >>= 8n; }
    return out;
  }
  if (value === 'garbage') return Buffer.from('z9-\u00ff'.repeat(field.width).slice(0, field.width), 'latin1');
  if (value === 'negative' || (value === 'max' && field.encoding === 'octal' && field.width >= 8)) {
    // GNU base-256: the high bit of the first byte set; 0xff... is a negative number.
    const out = Buffer.alloc(field.width, value === 'negative' ? 0xff : 0x7f);
    out[0] = value === 'negative' ? 0xff : 0x80;
    return out;
  }
  const n = clamp(numbers[value]);
  const text = field.encoding === 'octal' ? n.toString(8).padStart(field.width - 1, '0') : n.toString();
  return Buffer.from(`${text}\0`.slice(0, field.width), 'latin1');
}

function fixTarChecksum(data: Buffer, header: number): void {
  if (header + 512 > data.length) return;
  data.fill(0x20, header + 148, header + 156);
  let sum = 0;
  for (let i = header; i < header + 512; i += 1) sum += data[i]!;
  data.write(`${sum.toString(8).padStart(6, '0')}\0 `, header + 148, 'latin1');
}

export function applyMutations(input: Buffer, mutations: readonly Mutation[], format: 'zip' | 'tar' | 'bytes'): Buffer {
  let data = Buffer.from(input);
  for (const mutation of mutations) {
    const length = data.length;
    const at = (n: number): number => (length === 0 ? 0 : n % (length + 1));
    switch (mutation.op) {
      case 'flip':
        if (length > 0) data[mutation.at % length]! ^= mutation.xor;
        break;
      case 'cut':
        data = data.subarray(0, at(mutation.at));
        break;
      case 'repeat': {
        const from = at(mutation.from);
        const section = data.subarray(from, from + mutation.length);
        const where = at(mutation.at);
        data = Buffer.concat([data.subarray(0, where), ...Array<Buffer>(mutation.times).fill(section), data.subarray(where)]);
        break;
      }
      case 'delete': {
        const from = at(mutation.from);
        data = Buffer.concat([data.subarray(0, from), data.subarray(from + mutation.length)]);
        break;
      }
      case 'insert': {
        const where = at(mutation.at);
        data = Buffer.concat([data.subarray(0, where), mutation.bytes, data.subarray(where)]);
        break;
      }
      case 'field': {
        const fields = format === 'zip' ? zipFields(data) : format === 'tar' ? tarFields(data) : [];
        if (fields.length === 0) break;
        const field = fields[mutation.which % fields.length]!;
        data = Buffer.from(data);
        fieldBytes(field, readField(data, field), mutation.value).copy(data, field.offset);
        if (mutation.fixChecksum && field.tarHeader !== undefined && field.offset !== field.tarHeader + 148) fixTarChecksum(data, field.tarHeader);
        break;
      }
    }
    if (data.length > MAX_INPUT_BYTES) data = data.subarray(0, MAX_INPUT_BYTES);
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Cases: what to build, how to mutate it, which limits to read it with

export interface ZipEntrySpec {
  name: Buffer;
  content: Buffer<ArrayBuffer>;
  stored: boolean;
  /** Written as the entry's kind: a directory record, a Unix symlink, the encryption bit. */
  shape: 'file' | 'directory' | 'symlink' | 'encrypted' | 'method-12';
}

export interface TarEntrySpec {
  name: Buffer;
  content: Buffer<ArrayBuffer>;
  shape: 'file' | 'gnu-long-name' | 'pax' | 'directory' | 'symlink' | 'hardlink' | 'global-pax' | 'unknown-type';
  /** Extra PAX records (hostile values) for the `pax` shape. */
  pax: Record<string, string>;
}

export interface FolderNodeSpec {
  segments: Buffer[];
  content: Buffer<ArrayBuffer>;
  shape: 'file' | 'symlink-inside' | 'symlink-outside' | 'symlink-broken' | 'symlink-loop' | 'symlink-folder' | 'fifo';
}

/**
 * How the entries are read: `full` (every stream to its end, as the brief of the harness asks),
 * `partial` (the first chunk, then the stream is destroyed), `unopened` (the iteration moves on)
 * or `break` (the loop is left after the first entry), since abandoned streams and iterations have
 * their own paths (drains, destroys, closes) that must not fail or leak either.
 */
export type ReadMode = 'full' | 'partial' | 'unopened' | 'break';

export type FuzzCase = { readMode: ReadMode } & (
  | { kind: 'zip' | 'zip64'; entries: ZipEntrySpec[]; mutations: Mutation[]; limits: Partial<ExtractLimits> }
  | { kind: 'split'; format: 'zip' | 'tgz'; parts: ZipEntrySpec[][]; mutatedPart: number; mutations: Mutation[]; dropPart: number | null; allowIncompleteSplit: boolean; limits: Partial<ExtractLimits> }
  | { kind: 'tar' | 'tgz'; entries: TarEntrySpec[]; endMarker: boolean; gzipMembers: number; mutateGzip: boolean; mutations: Mutation[]; limits: Partial<ExtractLimits> }
  | { kind: 'folder'; nodes: FolderNodeSpec[]; limits: Partial<ExtractLimits> }
  | { kind: 'file'; base: 'zip' | 'tar' | 'gzip' | 'bytes'; content: Buffer<ArrayBuffer>; mutations: Mutation[]; name: string }
  // Several inputs of different kinds in one readExport call (the first part's limits apply).
  | { kind: 'mixed'; parts: FuzzCase[] }
);

const readModeArbitrary: fc.Arbitrary<ReadMode> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('full' as const) },
  { weight: 1, arbitrary: fc.constantFrom('partial' as const, 'unopened' as const, 'break' as const) },
);

/** Usually the defaults; sometimes low limits, so the limit paths are reached by small inputs. */
const limitsArbitrary: fc.Arbitrary<Partial<ExtractLimits>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ maxEntries: fc.integer({ min: 1, max: 10 }), maxTotalBytes: fc.integer({ min: 1, max: 300_000 }), maxEntryBytes: fc.integer({ min: 1, max: 200_000 }), maxCompressionRatio: fc.integer({ min: 1, max: 100 }), ratioThresholdBytes: fc.integer({ min: 1, max: 100_000 }) }, { requiredKeys: [] }) },
);

const zipEntryArbitrary: fc.Arbitrary<ZipEntrySpec> = fc.record({
  name: nameArbitrary,
  content: contentArbitrary,
  stored: fc.boolean(),
  shape: fc.oneof({ weight: 12, arbitrary: fc.constant('file' as const) }, { weight: 1, arbitrary: fc.constantFrom('directory' as const, 'symlink' as const, 'encrypted' as const, 'method-12' as const) }),
});

const hostilePaxValue = fc.constantFrom('0', '-1', 'NaN', '1e400', '18446744073709551616', '9007199254740993', '0x10', '', ' 12', '\u0000', '../x', '99999999999');
const paxRecords: fc.Arbitrary<Record<string, string>> = fc.dictionary(fc.constantFrom('size', 'mtime', 'path', 'linkpath', 'uid', 'SCHILY.xattr.user.x', 'comment', 'atime'), hostilePaxValue, { maxKeys: 3 });

const tarEntryArbitrary: fc.Arbitrary<TarEntrySpec> = fc.record({
  name: nameArbitrary,
  content: contentArbitrary,
  shape: fc.oneof(
    { weight: 8, arbitrary: fc.constant('file' as const) },
    { weight: 2, arbitrary: fc.constantFrom('gnu-long-name' as const, 'pax' as const) },
    { weight: 1, arbitrary: fc.constantFrom('directory' as const, 'symlink' as const, 'hardlink' as const, 'global-pax' as const, 'unknown-type' as const) },
  ),
  pax: paxRecords,
});

const segmentArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('Takeout', 'Photos', 'a', 'B', 'Records.json', 'x.mbox', '.hidden').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constantFrom([0x01], [0xe9], [0xc3, 0x28], [0x5c, 0x2e, 0x2e], [0x7f], [0xed, 0xa0, 0x80]).map((bytes) => Buffer.concat([Buffer.from('n'), Buffer.from(bytes)])) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 255 }).map((length) => Buffer.alloc(length, 0x6c)) },
);

const folderNodeArbitrary: fc.Arbitrary<FolderNodeSpec> = fc.record({
  segments: fc.array(segmentArbitrary, { minLength: 1, maxLength: 6 }),
  content: contentArbitrary,
  shape: fc.oneof(
    { weight: 6, arbitrary: fc.constant('file' as const) },
    { weight: 1, arbitrary: fc.constantFrom('symlink-inside' as const, 'symlink-outside' as const, 'symlink-broken' as const, 'symlink-loop' as const, 'symlink-folder' as const, 'fifo' as const) },
  ),
});

export function fuzzCaseArbitrary(kind: ArchiveKind): fc.Arbitrary<FuzzCase> {
  return fc.tuple(kindCaseArbitrary(kind), readModeArbitrary).map(([fuzzCase, readMode]) => ({ ...fuzzCase, readMode }));
}

function kindCaseArbitrary(kind: ArchiveKind): fc.Arbitrary<DistributiveOmit<FuzzCase, 'readMode'>> {
  const entries = fc.array(zipEntryArbitrary, { minLength: 1, maxLength: 6 });
  switch (kind) {
    case 'zip':
    case 'zip64':
      return fc.record({ kind: fc.constant(kind), entries, mutations: mutationsArbitrary, limits: limitsArbitrary });
    case 'split':
      return fc.record({
        kind: fc.constant(kind),
        format: fc.constantFrom('zip' as const, 'tgz' as const),
        parts: fc.array(fc.array(zipEntryArbitrary, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 }),
        mutatedPart: fc.nat(),
        mutations: mutationsArbitrary,
        dropPart: fc.option(fc.nat(), { freq: 8, nil: null }),
        allowIncompleteSplit: fc.boolean(),
        limits: limitsArbitrary,
      });
    case 'tar':
    case 'tgz':
      return fc.record({
        kind: fc.constant(kind),
        entries: fc.array(tarEntryArbitrary, { minLength: 1, maxLength: 6 }),
        endMarker: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        gzipMembers: fc.integer({ min: 1, max: 2 }),
        mutateGzip: fc.boolean(),
        mutations: mutationsArbitrary,
        limits: limitsArbitrary,
      });
    case 'folder':
      return fc.record({ kind: fc.constant(kind), nodes: fc.array(folderNodeArbitrary, { minLength: 1, maxLength: 8 }), limits: limitsArbitrary });
    case 'mixed':
      return fc.record({
        kind: fc.constant(kind),
        parts: fc.array(fc.constantFrom<ArchiveKind>('zip', 'zip64', 'tar', 'tgz', 'folder', 'file').chain(fuzzCaseArbitrary), { minLength: 2, maxLength: 4 }),
      });
    case 'file':
      return fc.record({
        kind: fc.constant(kind),
        base: fc.constantFrom('zip' as const, 'tar' as const, 'gzip' as const, 'bytes' as const),
        content: contentArbitrary,
        mutations: mutationsArbitrary,
        name: fc.constantFrom('Records.json', 'export.zip', 'takeout-20240101T000000Z-001.tgz', 'x.tar.gz', 'noext', 'photo.jpg'),
      });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// ---------------------------------------------------------------------------------------------
// Building a case's inputs on disk

const UNIX_SYMLINK_ATTRIBUTES = (0o120777 << 16) >>> 0;

async function buildZipBytes(entries: ZipEntrySpec[], zip64: boolean, scratch: string): Promise<Buffer> {
  if (zip64) {
    // yazl writes real ZIP64 records (forced on small entries), directories and extended times.
    const file = path.join(scratch, 'yazl.zip');
    await writeYazl(file, entries.map((entry, index) => ({ name: yazlName(entry, index), content: entry.content })), { zip64: true });
    const data = await readFile(file);
    await rm(file);
    return data;
  }
  return buildZip(entries.map((entry) => ({
    name: entry.shape === 'directory' ? Buffer.concat([entry.name, Buffer.from('/')]) : entry.name,
    content: entry.content,
    method: entry.shape === 'method-12' ? 12 : entry.stored ? 0 : 8,
    flags: (entry.shape === 'encrypted' ? 1 : 0) | (entry.name.some((byte) => byte >= 0x80) ? 0x800 : 0),
    ...(entry.shape === 'symlink' ? { versionMadeBy: 0x0314, externalAttributes: UNIX_SYMLINK_ATTRIBUTES } : {}),
  })));
}

/** yazl refuses names it considers invalid; those keep a safe stand-in so the archive is still written. */
function yazlName(entry: ZipEntrySpec, index: number): string {
  const name = entry.name.toString('utf8');
  const usable = name !== '' && !name.startsWith('/') && !/^[A-Za-z]:/.test(name) && !name.split(/[/\\]/).includes('..') && !name.includes('\\');
  const safe = usable ? name : `entry-${index}`;
  return entry.shape === 'directory' ? `${safe.replace(/\/+$/, '')}/` : safe.replace(/\/+$/, '') || `entry-${index}`;
}

function buildTarBytes(entries: TarEntrySpec[], endMarker: boolean): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const name = entry.name;
    switch (entry.shape) {
      case 'file':
        blocks.push(tarFile({ name }, entry.content));
        break;
      case 'gnu-long-name':
        blocks.push(tarFile({ name: '././@LongLink', type: 'L' }, Buffer.concat([name, Buffer.alloc(1)])), tarFile({ name: name.subarray(0, 100) }, entry.content));
        break;
      case 'pax':
        blocks.push(paxHeader({ path: name.toString('utf8'), ...entry.pax }), tarFile({ name: 'short-name' }, entry.content));
        break;
      case 'global-pax':
        blocks.push(tarFile({ name: 'pax_global_header', type: 'g' }, Buffer.from(`${name.length + 9} path=${name.toString('latin1')}\n`, 'latin1')));
        break;
      case 'directory':
        blocks.push(tarHeader({ name: Buffer.concat([name, Buffer.from('/')]), type: '5' }));
        break;
      case 'symlink':
      case 'hardlink':
        blocks.push(tarHeader({ name, type: entry.shape === 'symlink' ? '2' : '1', linkname: `../${ESCAPE_MARKER}` }));
        break;
      case 'unknown-type':
        blocks.push(tarFile({ name, type: 'V' }, entry.content));
        break;
    }
  }
  if (endMarker) blocks.push(TAR_END);
  return Buffer.concat(blocks);
}

function gzipMembers(tar: Buffer, members: number): Buffer {
  if (members <= 1) return zlib.gzipSync(tar);
  const half = Math.floor(tar.length / 2);
  return Buffer.concat([zlib.gzipSync(tar.subarray(0, half)), zlib.gzipSync(tar.subarray(half))]);
}

/** Writes the case's inputs under `dir` (created, empty) and returns them as readExport takes them. */
export async function materialize(fuzzCase: FuzzCase, dir: string): Promise<string[]> {
  const scratch = path.join(dir, 'scratch');
  await mkdir(scratch, { recursive: true });
  try {
    switch (fuzzCase.kind) {
      case 'zip':
      case 'zip64': {
        const file = path.join(dir, 'takeout.zip');
        await writeFile(file, applyMutations(await buildZipBytes(fuzzCase.entries, fuzzCase.kind === 'zip64', scratch), fuzzCase.mutations, 'zip'));
        return [file];
      }
      case 'split': {
        const files: string[] = [];
        const mutated = fuzzCase.mutatedPart % fuzzCase.parts.length;
        for (const [index, entries] of fuzzCase.parts.entries()) {
          if (fuzzCase.dropPart !== null && fuzzCase.dropPart % fuzzCase.parts.length === index) continue;
          const file = path.join(dir, `takeout-20240101T000000Z-${String(index + 1).padStart(3, '0')}.${fuzzCase.format}`);
          const mutations = index === mutated ? fuzzCase.mutations : [];
          if (fuzzCase.format === 'zip') await writeFile(file, applyMutations(await buildZipBytes(entries, false, scratch), mutations, 'zip'));
          else {
            const tarEntries = entries.map((entry): TarEntrySpec => ({ name: entry.name, content: entry.content, shape: 'file', pax: {} }));
            await writeFile(file, zlib.gzipSync(applyMutations(buildTarBytes(tarEntries, true), mutations, 'tar')));
          }
          files.push(file);
        }
        return files;
      }
      case 'tar':
      case 'tgz': {
        const tar = buildTarBytes(fuzzCase.entries, fuzzCase.endMarker);
        let bytes: Buffer;
        if (fuzzCase.kind === 'tar') bytes = applyMutations(tar, fuzzCase.mutations, 'tar');
        else if (fuzzCase.mutateGzip) bytes = applyMutations(gzipMembers(tar, fuzzCase.gzipMembers), fuzzCase.mutations, 'bytes');
        else bytes = gzipMembers(applyMutations(tar, fuzzCase.mutations, 'tar'), fuzzCase.gzipMembers);
        const file = path.join(dir, fuzzCase.kind === 'tar' ? 'takeout.tar' : 'takeout.tgz');
        await writeFile(file, bytes);
        return [file];
      }
      case 'folder': {
        const root = path.join(dir, 'export');
        await mkdir(root);
        await buildFolder(Buffer.from(root), fuzzCase.nodes, Buffer.from(dir));
        return [root];
      }
      case 'mixed': {
        const inputs: string[] = [];
        for (const [index, part] of fuzzCase.parts.entries()) {
          const partDir = path.join(dir, `part-${index}`);
          await mkdir(partDir);
          inputs.push(...(await materialize(part, partDir)));
        }
        return inputs;
      }
      case 'file': {
        const base =
          fuzzCase.base === 'zip' ? buildZip([{ name: 'a.json', content: fuzzCase.content }])
          : fuzzCase.base === 'tar' ? Buffer.concat([tarFile({ name: 'a.json' }, fuzzCase.content), TAR_END])
          : fuzzCase.base === 'gzip' ? zlib.gzipSync(fuzzCase.content)
          : fuzzCase.content;
        const file = path.join(dir, fuzzCase.name);
        await writeFile(file, applyMutations(base, fuzzCase.mutations, fuzzCase.base === 'zip' ? 'zip' : fuzzCase.base === 'tar' ? 'tar' : 'bytes'));
        return [file];
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Creates the nodes by their raw byte names; a node whose folder path is taken by a file is skipped. */
async function buildFolder(root: Buffer, nodes: FolderNodeSpec[], outside: Buffer): Promise<void> {
  const join = (...parts: Buffer[]): Buffer => Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from('/'), part])));
  for (const node of nodes) {
    const parents = node.segments.slice(0, -1);
    const leaf = join(root, ...node.segments);
    try {
      await mkdir(join(root, ...parents), { recursive: true });
      switch (node.shape) {
        case 'file':
          await writeFile(leaf, node.content, { flag: 'wx' });
          break;
        case 'symlink-inside':
          await symlink(join(root, node.segments[0]!), leaf);
          break;
        case 'symlink-outside':
          await writeFile(join(outside, Buffer.from(ESCAPE_MARKER)), 'outside', { flag: 'w' });
          await symlink(join(outside, Buffer.from(ESCAPE_MARKER)), leaf);
          break;
        case 'symlink-broken':
          await symlink(Buffer.from('does-not-exist'), leaf);
          break;
        case 'symlink-loop':
          await symlink(leaf, leaf);
          break;
        case 'symlink-folder':
          await symlink(root, leaf);
          break;
        case 'fifo':
          execFileSync('mkfifo', [leaf.toString('utf8')], { stdio: 'ignore' });
          break;
      }
    } catch {
      // A name clash (a file where a folder should be, the same leaf twice) or a name too long: leave it out.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading a case and judging the outcome

export type Verdict =
  | { ok: true; outcome: 'read'; entries: number; refused: number; bytes: number }
  | { ok: true; outcome: 'lake-error'; code: string; entries: number }
  | { ok: false; problem: 'exception' | 'unnamed-error' | 'uncaught' | 'hang' | 'size-mismatch' | 'wrote-files' | 'memory' | 'fd-leak'; message: string };

export interface RunOptions {
  /** A case still running after this long is a hang. */
  timeoutMs: number;
  /** Memory (JS heap and buffers) a case may add while it runs; inputs are at most 4 MiB. Default 128 MiB. */
  maxMemoryGrowthMiB?: number;
}

const memoryInUse = (): number => {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};

/** What every input kind and every entry is read through: the stream as the import pipeline reads it. */
async function consume(stream: Readable, name: string): Promise<number> {
  let bytes = 0;
  let head: Buffer | null = null;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    if (head === null) {
      head = buffer.subarray(0, 4096);
      sniffMimeType(head, name);
    }
    bytes += buffer.length;
  }
  return bytes;
}

async function readCase(inputs: string[], limits: Partial<ExtractLimits>, allowIncompleteSplit: boolean, readMode: ReadMode): Promise<Verdict> {
  let entries = 0;
  let refused = 0;
  let bytes = 0;
  try {
    for await (const outcome of readExport(inputs, { limits, allowIncompleteSplit })) {
      if ('refused' in outcome) {
        refused += 1;
        continue;
      }
      const { entry } = outcome;
      entries += 1;
      if (readMode === 'unopened') continue;
      if (readMode === 'break') {
        sniffMimeType(await readHead(await entry.open(), 512), entry.path);
        break;
      }
      if (readMode === 'partial') {
        const stream = await entry.open();
        for await (const chunk of stream) {
          sniffMimeType(chunk as Buffer, entry.path);
          break; // leaving the loop destroys the stream
        }
        continue;
      }
      // Zip and folder entries are read twice by the pipeline: a head to sniff, then the whole.
      if (!entry.sequential) sniffMimeType(await readHead(await entry.open(), 4096), entry.path);
      const read = await consume(await entry.open(), entry.path);
      // Folder files are stat'ed, so only archive entries are held to their declared size.
      if (entry.archive !== null && entry.size !== null && read !== entry.size) {
        return { ok: false, problem: 'size-mismatch', message: `${entry.archive}: entry "${entry.path}" declared ${entry.size} bytes, gave ${read}` };
      }
      bytes += read;
    }
    return { ok: true, outcome: 'read', entries, refused, bytes };
  } catch (error) {
    if (!(error instanceof LakeError)) {
      return { ok: false, problem: 'exception', message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    const names = inputs.flatMap((input) => [path.basename(input), path.basename(input).replace(/-\d{3}\.[a-z.]+$/i, '')]);
    if (!names.some((name) => error.message.includes(name))) {
      return { ok: false, problem: 'unnamed-error', message: `${error.code}: ${error.message} (names none of ${names.join(', ')})` };
    }
    return { ok: true, outcome: 'lake-error', code: error.code, entries };
  }
}

/** This process's open descriptors and what they point at; null where /proc is absent. */
async function openDescriptors(): Promise<string[] | null> {
  const names = await readdir('/proc/self/fd').catch(() => null);
  if (names === null) return null;
  const targets = await Promise.all(names.map((fd) => readlink(`/proc/self/fd/${fd}`).then((target) => `${fd}:${target}`, () => null)));
  // The readdir above has its own descriptor, gone by now; /proc files are the runtime's own (memory figures).
  return targets.filter((target): target is string => target !== null && !target.includes(':/proc/'));
}

/** Every path under dir, by raw bytes (folder cases hold names that are not UTF-8), not following links. */
async function listTree(dir: Buffer, found: string[] = []): Promise<string[]> {
  for (const entry of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const child = Buffer.concat([dir, Buffer.from('/'), entry.name]);
    found.push(child.toString('latin1'));
    if (entry.isDirectory()) await listTree(child, found);
  }
  return found.sort();
}

/**
 * Builds the case in `dir` (a fresh folder inside a temp dir), reads it, and judges it. Errors
 * thrown outside the iteration (an 'error' event nobody listens to, a rejection nobody awaits)
 * while it runs are failures of this case.
 */
export async function runFuzzCase(fuzzCase: FuzzCase, dir: string, options: RunOptions): Promise<Verdict> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const inputs = await materialize(fuzzCase, dir);
  const before = await listTree(Buffer.from(dir));
  const descriptorsBefore = await openDescriptors();

  const stray: unknown[] = [];
  const onStray = (error: unknown): void => {
    stray.push(error);
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  let timer: NodeJS.Timeout | undefined;
  const memoryBefore = memoryInUse();
  let memoryPeak = memoryBefore;
  const sampler = setInterval(() => {
    memoryPeak = Math.max(memoryPeak, memoryInUse());
  }, 10);
  try {
    const first = fuzzCase.kind === 'mixed' ? fuzzCase.parts[0] : fuzzCase;
    const limits = first !== undefined && 'limits' in first ? first.limits : {};
    const hang = new Promise<Verdict>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, problem: 'hang', message: `still reading after ${options.timeoutMs} ms` }), options.timeoutMs);
    });
    let verdict = await Promise.race([readCase(inputs, limits, fuzzCase.kind === 'split' && fuzzCase.allowIncompleteSplit, fuzzCase.readMode), hang]);
    // Late errors (a stream failing after the iteration ended) show up within a few turns.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const growthMiB = (memoryPeak - memoryBefore) / 1024 / 1024;
    if (verdict.ok && growthMiB > (options.maxMemoryGrowthMiB ?? 128)) {
      verdict = { ok: false, problem: 'memory', message: `memory in use grew by ${growthMiB.toFixed(0)} MiB while reading` };
    }
    if (stray.length > 0) {
      const error = stray[0];
      verdict = { ok: false, problem: 'uncaught', message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    if (verdict.ok) {
      const after = await listTree(Buffer.from(dir));
      const written = after.filter((file) => !before.includes(file));
      const escaped = (await readdir(path.dirname(dir))).filter((name) => name.includes(ESCAPE_MARKER));
      if (written.length > 0 || escaped.length > 0) verdict = { ok: false, problem: 'wrote-files', message: [...written, ...escaped].join(', ') };
    }
    if (verdict.ok && descriptorsBefore !== null) {
      // Descriptors close asynchronously once the iteration has ended: give them a moment.
      let open = await openDescriptors();
      for (let wait = 0; wait < 50 && open !== null && open.length > descriptorsBefore.length; wait += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        open = await openDescriptors();
      }
      const leaked = (open ?? []).filter((fd) => !descriptorsBefore.includes(fd));
      if (leaked.length > 0) verdict = { ok: false, problem: 'fd-leak', message: `file descriptors left open: ${leaked.join(', ')}` };
    }
    return verdict;
  } finally {
    clearTimeout(timer);
    clearInterval(sampler);
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
  }
}

/** One case of a kind from a seed: the bench replays a failure with `--kind K --replay SEED`. */
export function caseFromSeed(kind: ArchiveKind, seed: number): FuzzCase {
  const [fuzzCase] = fc.sample(fuzzCaseArbitrary(kind), { seed, numRuns: 1 });
  return fuzzCase!;
}

/** A stable per-input seed from the run's seed, the kind and the input's number. */
export function inputSeed(runSeed: number, kind: ArchiveKind, index: number): number {
  let hash = (runSeed ^ 0x9e3779b9) >>> 0;
  for (const char of `${kind}:${index}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash & 0x7fffffff;
}

/** Heap in use after a full collection, in MiB (gc exposed on demand so no flag is needed). */
export async function settledHeapMiB(): Promise<number> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers) / 1024 / 1024;
}
