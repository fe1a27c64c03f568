// A mutation fuzzer over every registered source parser (src/ingest/sources): real-shaped seed
// inputs (the fixtures under test/fixtures, and generated ones for the sources that have none)
// mutated by fast-check-drawn operations: bytes flipped, cut, repeated, deleted, control bytes and
// invalid UTF-8 inserted (anywhere, or inside a quoted string), values nested thousands deep, numbers made huge, format tokens and
// stray JSON values inserted, the whole re-encoded (UTF-16 with and without BOM, Latin-1, a UTF-8
// BOM). Each case goes through produceBatches (src/ingest/pipeline/batches.ts): the source's
// parse, normalization, validation and COPY encoding, without a database.
//
// The only acceptable outcomes are records, quarantine entries and LakeErrors. A failure is any
// other exception, a record or quarantine entry PostgreSQL could not store (a NUL or a lone
// surrogate left in its text), a hang (no verdict within the per-input timeout) or a worker that
// ran out of its bounded heap. Cases run in a worker thread (FuzzRunner) so a hang or a heap blow-up
// can be stopped and told apart; the worker is restarted after one.
//
// A case is a pure function of (source id, 32-bit seed): `caseFromSeed` rebuilds it anywhere,
// which is how a failure is replayed (bench/fuzz-sources.ts --source ID --replay SEED).
// Used by test/fuzz-sources.test.ts (short, seeded) and bench/fuzz-sources.ts (long).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { LakeError } from '../../src/errors.js';
import { produceBatches, type ParseOutcome } from '../../src/ingest/pipeline/batches.js';
import type { LakeRecord, ParseEvent, RepairCounts } from '../../src/ingest/records.js';
import type { Source } from '../../src/ingest/source.js';
import { detectSource, SOURCES } from '../../src/ingest/sources/all.js';
import { docxEntries, makePdf } from '../fixtures/documents/make.js';
import { buildZip } from './archives.js';
import { gif, jpeg, mp4, png } from './media.js';

export const SOURCE_IDS: readonly string[] = SOURCES.map((source) => source.id);

/** Inputs grow no larger than this after mutation (a nesting mutation is cut down to fit). */
const MAX_CASE_BYTES = 512 * 1024;
/** The worker's heap bound: a parser holding more than this for a 2 MiB input is a failure. */
export const WORKER_HEAP_MB = 512;
/** Chunks an input is handed over in, at most. */
const MAX_CHUNKS = 2000;

// ---------------------------------------------------------------------------------------------
// Seeds

export interface Seed {
  /** The file's path as a source sees it (the fixture's, or a Takeout-like one). */
  path: string;
  bytes: Buffer;
}

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

function fixtureFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((entry) => (entry.isDirectory() ? fixtureFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)]))
    .filter((file) => statSync(file).size <= 256 * 1024 && !file.endsWith('.ts') && !file.endsWith('README.md'));
}

/** Inputs for the sources the fixtures do not cover (or cover thinly), written as exports hold them. */
function generatedSeeds(): Seed[] {
  const text = (name: string, content: string): Seed => ({ path: name, bytes: Buffer.from(content, 'utf8') });
  const docx = buildZip(docxEntries(['First paragraph', 'Zweiter Absatz é'], { title: 'Fuzz', creator: 'fuzz', created: '2024-01-01T00:00:00Z' }));
  return [
    { path: 'Takeout/Drive/report.pdf', bytes: makePdf(['Page one text', 'Page two, café'], { title: 'Fuzz', author: 'fuzz' }) },
    { path: 'Takeout/Drive/letter.docx', bytes: docx },
    text('Takeout/Drive/table.csv', 'name;amount;date\n"Müller, A";12,50;2024-01-02\nB;3;2024-01-03\n'),
    text('Takeout/Drive/data.json', '{"name":"fuzz","list":[1,2.5,"three",{"deep":[true,null]}],"text":"café"}'),
    text('Takeout/Drive/notes.txt', 'Plain notes\nwith two lines, and ünïcödé.\n'),
    text('Takeout/Drive/page.html', '<!doctype html><html><head><title>T</title></head><body><div><p>Hello <b>world</b></p></div></body></html>'),
    { path: 'Takeout/Google Photos/Trip/IMG_0001.jpg', bytes: jpeg({ width: 64, height: 48, exif: { make: 'Fuzz', model: 'One', orientation: 6, dateTimeOriginal: '2024:01:02 10:11:12', offsetTimeOriginal: '+02:00', gps: { lat: 48.85, lon: 2.29, alt: 35 } } }) },
    { path: 'Takeout/Google Photos/Trip/IMG_0002.png', bytes: png(16, 16, { exif: { make: 'Fuzz' } }) },
    { path: 'Takeout/Google Photos/Trip/anim.gif', bytes: gif(8, 8) },
    { path: 'Takeout/Google Photos/Trip/VID_0001.mp4', bytes: mp4({ durationSeconds: 3, width: 320, height: 240, createdAt: new Date('2024-01-02T10:00:00Z'), location: '+48.8584+002.2945/', mdatBytes: 256 }) },
    text('Takeout/Location History/Records.json', `{"locations":[${Array.from({ length: 6 }, (_, i) => `{"timestamp":"2024-01-0${i + 1}T10:00:00.123Z","latitudeE7":${485000000 + i},"longitudeE7":${23000000 + i},"accuracy":${i},"activity":[{"timestamp":"2024-01-0${i + 1}T10:00:00Z","activity":[{"type":"STILL","confidence":90}]}],"source":"WIFI"}`).join(',')}]}`),
    text('Takeout/Contacts/All Contacts/All Contacts.vcf', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Müller\r\nN:Müller;Ana;;;\r\nEMAIL;TYPE=INTERNET:ana@example.org\r\nTEL;TYPE=CELL:+49 30 1234\r\nADR;TYPE=HOME:;;Street 1;Berlin;;10115;Germany\r\nBDAY:1990-02-03\r\nNOTE:line one\\nline two\r\nEND:VCARD\r\n'),
  ];
}

let seedsBySource: Map<string, Seed[]> | null = null;

/** Seeds per source id: every fixture its source recognises, plus the generated ones. Deterministic. */
export function seedsFor(sourceId: string): Seed[] {
  if (!seedsBySource) {
    seedsBySource = new Map(SOURCE_IDS.map((id) => [id, []]));
    const all: Seed[] = [
      ...fixtureFiles(FIXTURES).map((file) => ({ path: path.relative(FIXTURES, file).split(path.sep).join('/'), bytes: readFileSync(file) })),
      ...generatedSeeds(),
    ];
    for (const seed of all) {
      const source = detectSource({ path: seed.path, head: seed.bytes.subarray(0, 64 * 1024), size: seed.bytes.length });
      if (source) seedsBySource.get(source.id)!.push(seed);
    }
    // A source no seed was recognised for still gets every seed: its parser must refuse them cleanly.
    for (const [id, seeds] of seedsBySource) if (seeds.length === 0) seedsBySource.set(id, all);
  }
  return seedsBySource.get(sourceId) ?? [];
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** Positions are drawn as 32-bit numbers and taken modulo the input's length when applied. */
export type Mutation =
  | { op: 'flip'; at: number; xor: number }
  | { op: 'cut'; at: number }
  | { op: 'repeat'; from: number; length: number; at: number; times: number }
  | { op: 'delete'; from: number; length: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'nest'; at: number; style: NestStyle; depth: number; balanced: boolean }
  | { op: 'number'; at: number; value: string }
  | { op: 'token'; at: number; token: string }
  | { op: 'inString'; at: number; bytes: number[] };

export type NestStyle = 'json-array' | 'json-object' | 'html' | 'ical' | 'vcard' | 'mime';
export type Encoding = 'utf8-bom' | 'utf16le-bom' | 'utf16be-bom' | 'utf16le' | 'latin1';

const NEST: Record<NestStyle, [string, string]> = {
  'json-array': ['[', ']'],
  'json-object': ['{"a":', '}'],
  html: ['<div class="outer-cell">', '</div>'],
  ical: ['BEGIN:X-NEST\r\n', 'END:X-NEST\r\n'],
  vcard: ['BEGIN:VCARD\r\n', 'END:VCARD\r\n'],
  mime: ['Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n', '--b--\r\n'],
};

/** Control bytes and invalid or odd UTF-8: NUL, C0 and DEL, lone continuation, overlong, encoded surrogate, truncated, past U+10FFFF. */
const ODD_BYTES: number[][] = [[0x00], [0x01], [0x08], [0x0b], [0x1b], [0x1f], [0x7f], [0x80], [0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbb, 0xbf], [0xc3, 0xa9], [0xcc, 0x81]];

const HUGE_NUMBERS = ['1e309', '-1e309', '1e-400', '9'.repeat(400), `-${'9'.repeat(30)}`, '179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000', '9007199254740993', '-0', '0.0000000000000000000000001', '4294967296', '18446744073709551616', 'NaN', 'Infinity', '1e21', '0x7fffffff', '99999999999999999999-12-31'];

const TOKENS = ['"', '\\', ',', ':', '[', ']', '{', '}', '\n', '\r\n', '\r', '\t', ' ', '\\u0000', '\\ud800', '\\uDFFF', '\\x', '\u2028', '<div>', '</div>', '<br>', '<a href="', '&amp;', '&#0;', '&#x110000;', '<!--', '<![CDATA[',
  'BEGIN:VEVENT\r\n', 'END:VEVENT\r\n', 'BEGIN:VCARD\r\n', 'END:VCARD\r\n', 'RRULE:FREQ=SECONDLY;COUNT=100000000\r\n', 'DTSTART:99991231T235959Z\r\n', ' continued\r\n', '=\r\n', ';ENCODING=QUOTED-PRINTABLE:=C3=A9=\r\n', ';CHARSET=SHIFT_JIS:',
  'From x@example.org Thu Jan 1 00:00:00 2024\n', '>From ', 'Content-Type: multipart/mixed; boundary=""\n', 'Content-Transfer-Encoding: base64\n', '=?utf-8?B?', '?=', 'Date: Mon, 32 Jan 99999 25:61:61 +9999\n', '\n\n',
  '"""', '""', ';', '\ufeff', 'null', 'true', '-', '.', 'e', 'T', 'Z', '+14:00', '2024-02-30T25:00:00Z', '1970-01-01T00:00:00Z'];

const position = fc.integer({ min: 0, max: 0xffffffff });

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: position, xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cut' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat' as const), from: position, length: fc.integer({ min: 1, max: 2048 }), at: position, times: fc.integer({ min: 1, max: 50 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), from: position, length: fc.integer({ min: 1, max: 256 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, bytes: fc.oneof(fc.constantFrom(...ODD_BYTES), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 })) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('nest' as const), at: position, style: fc.constantFrom<NestStyle>('json-array', 'json-object', 'html', 'ical', 'vcard', 'mime'), depth: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 600, max: 20_000 })), balanced: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('number' as const), at: position, value: fc.oneof(fc.constantFrom(...HUGE_NUMBERS), fc.double().map(String), fc.bigInt().map(String)) }) },
  // Inside a quoted string (JSON, CSV, HTML attribute): the structure holds, the value is odd.
  { weight: 3, arbitrary: fc.record({ op: fc.constant('inString' as const), at: position, bytes: fc.oneof(fc.constantFrom(...ODD_BYTES), fc.array(fc.integer({ min: 0, max: 0x1f }), { minLength: 1, maxLength: 4 })) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('token' as const), at: position, token: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null') }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) }) }) },
);

export interface FuzzCase {
  sourceId: string;
  seed: number;
  /** The seed input's path (and the path the source is told). */
  path: string;
  mutations: Mutation[];
  encoding: Encoding | null;
  /** Size of the chunks the input is handed over in: parsers must not depend on where chunks end. */
  chunkBytes: number;
  bytes: Buffer;
}

const caseShape = fc.record({
  seedIndex: fc.nat(),
  // Mostly one mutation, so that much of the input still parses and the record-building code runs.
  mutations: fc.oneof({ weight: 3, arbitrary: fc.array(mutationArbitrary, { minLength: 1, maxLength: 1 }) }, { weight: 2, arbitrary: fc.array(mutationArbitrary, { minLength: 2, maxLength: 5 }) }),
  // One case in six re-encoded: most should still read as what they are.
  encoding: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom<Encoding>('utf8-bom', 'utf16le-bom', 'utf16be-bom', 'utf16le', 'latin1') }),
  chunkBytes: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(64 * 1024), fc.integer({ min: 65, max: 16 * 1024 })),
});

/** Rebuilds the case a (source, seed) pair stands for: the same everywhere. */
export function caseFromSeed(sourceId: string, seed: number): FuzzCase {
  const [shape] = fc.sample(caseShape, { seed, numRuns: 1 });
  const seeds = seedsFor(sourceId);
  if (seeds.length === 0) throw new Error(`no seed input for source ${sourceId}`);
  const chosen = seeds[shape!.seedIndex % seeds.length]!;
  let bytes = applyMutations(chosen.bytes, shape!.mutations);
  if (shape!.encoding) bytes = reencode(bytes, shape!.encoding);
  bytes = bytes.subarray(0, MAX_CASE_BYTES);
  // Tiny chunks, but not a million of them: a large input in 3-byte chunks only measures the stream.
  const chunkBytes = Math.max(shape!.chunkBytes, Math.ceil(bytes.length / MAX_CHUNKS));
  return { sourceId, seed, path: chosen.path, mutations: shape!.mutations, encoding: shape!.encoding, chunkBytes, bytes };
}

/** The seed of input number `n` of a run: spreads a run's seed over sources and inputs. */
export function inputSeed(runSeed: number, sourceId: string, n: number): number {
  let h = (runSeed ^ 0x9e3779b9) >>> 0;
  for (const c of `${sourceId}#${n}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export function applyMutations(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let data = input;
  for (const mutation of mutations) {
    const length = data.length;
    const at = (n: number): number => n % (length + 1);
    const splice = (where: number, removed: number, inserted: Buffer): Buffer => Buffer.concat([data.subarray(0, where), inserted, data.subarray(where + removed)]);
    switch (mutation.op) {
      case 'flip':
        if (length > 0) {
          data = Buffer.from(data);
          data[mutation.at % length]! ^= mutation.xor;
        }
        break;
      case 'cut':
        data = data.subarray(0, at(mutation.at));
        break;
      case 'repeat': {
        const from = at(mutation.from);
        const piece = data.subarray(from, from + mutation.length);
        const times = Math.max(1, Math.min(mutation.times, Math.floor(MAX_CASE_BYTES / 2 / Math.max(1, piece.length))));
        data = splice(at(mutation.at), 0, Buffer.concat(Array.from({ length: times }, () => piece)));
        break;
      }
      case 'delete': {
        const from = at(mutation.from);
        data = splice(from, Math.min(mutation.length, length - from), Buffer.alloc(0));
        break;
      }
      case 'insert':
        data = splice(at(mutation.at), 0, Buffer.from(mutation.bytes));
        break;
      case 'nest': {
        const [open, close] = NEST[mutation.style];
        const depth = Math.min(mutation.depth, Math.floor(MAX_CASE_BYTES / 2 / (open.length + close.length)));
        // At a structural point when there is one near: a value's start in JSON, a line start elsewhere.
        const where = structuralPoint(data, at(mutation.at), mutation.style);
        const nested = open.repeat(depth) + (mutation.balanced ? close.repeat(depth) : '');
        data = splice(where, 0, Buffer.from(nested, 'utf8'));
        break;
      }
      case 'number': {
        // Replaces the next run of digits at or after the position (a timestamp, a coordinate, a length).
        let start = at(mutation.at);
        while (start < length && !(data[start]! >= 0x30 && data[start]! <= 0x39)) start++;
        let end = start;
        while (end < length && ((data[end]! >= 0x30 && data[end]! <= 0x39) || data[end] === 0x2e)) end++;
        data = splice(start, end - start, Buffer.from(mutation.value, 'utf8'));
        break;
      }
      case 'token':
        data = splice(at(mutation.at), 0, Buffer.from(mutation.token, 'utf8'));
        break;
      case 'inString': {
        const quote = data.indexOf(0x22, at(mutation.at));
        data = splice(quote === -1 ? at(mutation.at) : quote + 1, 0, Buffer.from(mutation.bytes));
        break;
      }
    }
    if (data.length > MAX_CASE_BYTES) data = data.subarray(0, MAX_CASE_BYTES);
  }
  return data;
}

/** A nearby position where nesting means something: after `[`, `:` or `,` for JSON, a line start otherwise. */
function structuralPoint(data: Buffer, from: number, style: NestStyle): number {
  const wanted = style.startsWith('json') ? [0x5b, 0x3a, 0x2c] : style === 'html' ? [0x3e] : [0x0a];
  for (let i = from; i < Math.min(data.length, from + 4096); i++) if (wanted.includes(data[i]!)) return i + 1;
  return from;
}

function reencode(bytes: Buffer, encoding: Encoding): Buffer {
  const text = bytes.toString('utf8');
  switch (encoding) {
    case 'utf8-bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    case 'utf16le-bom':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 'utf16be-bom':
      return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    case 'utf16le':
      return Buffer.from(text, 'utf16le');
    case 'latin1':
      return Buffer.from(text, 'latin1');
  }
}

// ---------------------------------------------------------------------------------------------
// One case

export type Verdict =
  | { ok: true; records: number; quarantined: number; lakeError: string | null; heapMiB: number }
  | { ok: false; problem: 'exception' | 'unstorable' | 'hang' | 'memory' | 'crash'; message: string };

/** Deepest level of a record's values that is checked (normalization cuts attributes at 32). */
const CHECK_DEPTH = 64;
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Where in `value` a string PostgreSQL refuses (a NUL, a lone surrogate) is, or null. */
function unstorableAt(value: unknown, at: string, depth = 0): string | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? at : null;
  if (value === null || typeof value !== 'object' || depth > CHECK_DEPTH || value instanceof Date || ArrayBuffer.isView(value)) return null;
  for (const [key, item] of Object.entries(value)) {
    if (UNSTORABLE.test(key)) return `${at} key ${JSON.stringify(key)}`;
    const found = unstorableAt(item, `${at}.${key}`, depth + 1);
    if (found) return found;
  }
  return null;
}

function chunked(bytes: Buffer, size: number): Readable {
  let at = 0;
  return new Readable({
    read() {
      this.push(at < bytes.length ? bytes.subarray(at, (at += size)) : null);
    },
  });
}

/** Runs one case in this thread: the source's events through produceBatches, then the checks. */
export async function runCaseHere(fuzzCase: FuzzCase): Promise<Verdict> {
  const source = SOURCES.find((s) => s.id === fuzzCase.sourceId)!;
  const seen: LakeRecord[] = [];
  const tapped: Source = {
    ...source,
    async *parse(input, context) {
      for await (const event of source.parse(input, context) as AsyncIterable<ParseEvent>) {
        if (event.kind === 'record') seen.push(event.record);
        yield event;
      }
    },
  };
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const outcome: ParseOutcome = { events: 0, broken: null };
  const target = { userId: '00000000-0000-0000-0000-000000000001', jobId: '00000000-0000-0000-0000-000000000002', fileId: '00000000-0000-0000-0000-000000000003' };
  let records = 0;
  let quarantined = 0;
  let lakeError: string | null = null;
  try {
    const batches = produceBatches(tapped, chunked(fuzzCase.bytes, fuzzCase.chunkBytes), { path: fuzzCase.path, repairs, blobs: null, exportedAt: null }, { resumedFrom: 0, batchSize: 500, target }, outcome);
    for await (const batch of batches) {
      for (const table of batch.tables) records += table.rows.length;
      for (const entry of batch.quarantine) {
        quarantined++;
        const bad = unstorableAt({ reason: entry.reason, excerpt: entry.excerpt, entry: entry.entry }, 'quarantine');
        if (bad) return { ok: false, problem: 'unstorable', message: `${bad}: ${JSON.stringify(entry).slice(0, 300)}` };
      }
      for (const record of seen.splice(0)) {
        const bad = unstorableAt(record, record.type);
        if (bad) return { ok: false, problem: 'unstorable', message: `${bad} (source ${fuzzCase.sourceId})` };
      }
      batch.release();
    }
  } catch (error) {
    if (!(error instanceof LakeError)) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      return { ok: false, problem: 'exception', message: message.split('\n').slice(0, 8).join('\n') };
    }
    lakeError = error.code;
  }
  return { ok: true, records, quarantined, lakeError, heapMiB: Math.round(process.memoryUsage().heapUsed / 1024 / 1024) };
}

// ---------------------------------------------------------------------------------------------
// The worker that runs cases, and its driver

interface Job {
  sourceId: string;
  seed: number;
}

/** Runs cases one at a time in a worker thread with a bounded heap; stops it on a hang or a crash and starts another. */
export class FuzzRunner {
  private worker: Promise<Worker> | null = null;
  private current: Worker | null = null;
  private pending: { resolve(verdict: Verdict): void } | null = null;

  constructor(private readonly options: { timeoutMs: number }) {}

  /** Starts the worker ahead of the first case (it takes seconds on a busy machine). */
  async ready(): Promise<void> {
    await (this.worker ??= this.start());
  }

  /** Runs one case; the timeout starts once the worker is ready. */
  async run(job: Job): Promise<Verdict> {
    const worker = await (this.worker ??= this.start());
    return new Promise<Verdict>((resolve) => {
      const timer = setTimeout(() => finish({ ok: false, problem: 'hang', message: `no outcome within ${this.options.timeoutMs} ms` }), this.options.timeoutMs);
      const finish = (verdict: Verdict) => {
        clearTimeout(timer);
        this.pending = null;
        // After a hang or a crash the worker's state is unknown: the next case gets a new one.
        if (!verdict.ok && verdict.problem !== 'exception' && verdict.problem !== 'unstorable') void this.stop();
        resolve(verdict);
      };
      this.pending = { resolve: finish };
      worker.postMessage(job);
    });
  }

  async stop(): Promise<void> {
    const worker = this.current;
    this.worker = null;
    this.current = null;
    if (worker) await worker.terminate();
  }

  private start(): Promise<Worker> {
    const worker = new Worker(new URL('./fuzz-sources-worker.mjs', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB }, stdout: true, stderr: true });
    this.current = worker;
    // What parsers print (pdf.js warnings) is read and dropped, not left to pile up.
    worker.stdout.resume();
    worker.stderr.resume();
    // Only the current worker speaks for the pending case: a stopped one still reports its exit.
    const lost = (verdict: Verdict) => {
      if (this.current !== worker) return;
      this.worker = null;
      this.current = null;
      this.pending?.resolve(verdict);
    };
    worker.on('error', (error: Error & { code?: string }) => {
      const memory = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
      lost({ ok: false, problem: memory ? 'memory' : 'crash', message: (error.stack ?? String(error)).split('\n').slice(0, 8).join('\n') });
    });
    worker.on('exit', (code) => lost({ ok: false, problem: 'crash', message: `the worker exited with code ${code}` }));
    return new Promise<Worker>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', () => {
        worker.off('error', reject);
        worker.on('message', (verdict: Verdict) => {
          if (this.current === worker) this.pending?.resolve(verdict);
        });
        resolve(worker);
      });
    });
  }
}

/** Called in the worker thread (fuzz-sources-worker.mjs). */
export async function serveCases(port: import('node:worker_threads').MessagePort): Promise<void> {
  for (const id of SOURCE_IDS) seedsFor(id);
  port.postMessage('ready');
  port.on('message', (job: Job) => {
    void runCaseHere(caseFromSeed(job.sourceId, job.seed)).then(
      (verdict) => port.postMessage(verdict),
      (error: unknown) => port.postMessage({ ok: false, problem: 'exception', message: String(error instanceof Error ? error.stack : error) }),
    );
  });
}

/** A one-line description of a case, to print with a failure. */
export function describeCase(fuzzCase: FuzzCase): string {
  const mutations = fuzzCase.mutations.map((m) => JSON.stringify(m, (key, value: unknown) => (key === 'token' && typeof value === 'string' && value.length > 40 ? `${value.slice(0, 40)}…` : value)));
  return `source ${fuzzCase.sourceId} seed ${fuzzCase.seed}: ${fuzzCase.path} (${fuzzCase.bytes.length} bytes, chunks of ${fuzzCase.chunkBytes}${fuzzCase.encoding ? `, ${fuzzCase.encoding}` : ''}) mutations ${mutations.join(' ')}`;
}
