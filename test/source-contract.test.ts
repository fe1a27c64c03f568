// The contract every registered source keeps, run over each one's fixtures (one suite over every
// source, as tus-node-server runs one over every store and Kysely one over every dialect):
//   - it has fixtures (test/support/source-fixtures.ts);
//   - detection picks it for each of them, and no other source claims one by its content;
//   - the same events come out whatever the chunks the file arrives in (1 byte, 7 bytes, 64 KiB);
//   - only records (of a known type, with its id, at an offset inside the file), rejections (of a
//     quarantine category) and LakeErrors come out;
//   - an import resumed from any checkpoint loads what an uninterrupted one loads after it;
//   - its entry loads the source it declares, and the registry imports no parser.
// A source added to the registry runs through all of it; one without fixtures fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LakeError } from '../src/errors.js';
import { DESTINATIONS } from '../src/ingest/load/tables.js';
import { produceBatches, type ParseOutcome } from '../src/ingest/pipeline/batches.js';
import type { ParseEvent, QuarantineCategory, RepairCounts } from '../src/ingest/records.js';
import { loadParser, type Source, type SourceEntry } from '../src/ingest/source.js';
import { detectSource, REGISTRY } from '../src/ingest/sources/registry.js';
import { normalizeRecord } from '../src/ingest/transform/normalize.js';
import { SOURCE_FIXTURES, type SourceFixture } from './support/source-fixtures.js';

const CHUNK_SIZES = [1, 7, 64 * 1024];
const CATEGORIES: ReadonlySet<QuarantineCategory> = new Set(['malformed', 'invalid', 'unsupported', 'encrypted', 'unsafe', 'too_large']);
/** Checkpoints a resume is tried from, at most, per fixture (spread over the file). */
const MAX_CHECKPOINTS = 8;
const EXPORTED_AT = new Date('2024-03-01T12:00:00Z');

/** The file in chunks of exactly `size` bytes (an object-mode stream keeps them apart). */
function chunked(bytes: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
    })(),
  );
}

interface Parsed {
  events: ParseEvent[];
  /** What the parse ended with, when it threw: a LakeError's code and message. */
  error: { code: string; message: string } | null;
  repairs: RepairCounts;
}

async function parse(source: Source, fixture: SourceFixture, chunkSize: number): Promise<Parsed> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const events: ParseEvent[] = [];
  try {
    for await (const event of source.parse(chunked(fixture.bytes, chunkSize), { path: fixture.path, repairs, blobs: null, exportedAt: EXPORTED_AT })) events.push(event);
  } catch (error) {
    if (!(error instanceof LakeError)) assert.fail(`chunks of ${chunkSize} bytes: threw what is not a LakeError: ${error instanceof Error ? error.stack : String(error)}`);
    return { events, error: { code: error.code, message: error.message }, repairs };
  }
  return { events, error: null, repairs };
}

/** What an event may be: a record of a known type, with the source's id and an offset in the file, or a rejection of a quarantine category. */
function checkEvent(entry: SourceEntry, fixture: SourceFixture, event: ParseEvent, index: number): void {
  const at = `event ${index}`;
  const inFile = (offset: unknown) => typeof offset === 'number' && Number.isInteger(offset) && offset >= 0 && offset <= fixture.bytes.length;
  if (event.kind === 'record') {
    assert.ok(Object.hasOwn(DESTINATIONS, event.record.type), `${at}: a record of no known type (${String(event.record.type)})`);
    assert.equal(event.record.source, entry.id, `${at}: a ${event.record.type} record of another source`);
    assert.ok(inFile(event.offset), `${at}: record offset ${event.offset} outside the file's ${fixture.bytes.length} bytes`);
    if (event.asciiOnly) {
      // The claim lets the pipeline skip normalization: it must change nothing.
      const normalized = normalizeRecord(structuredClone(event.record), { invalidUtf8: 0, nulCharacters: 0 });
      assert.deepStrictEqual(normalized, structuredClone(event.record), `${at}: marked asciiOnly, but normalization changes it`);
    }
  } else if (event.kind === 'reject') {
    const { category, reason, byteOffset } = event.rejection;
    assert.ok(CATEGORIES.has(category), `${at}: rejection of no quarantine category (${String(category)})`);
    assert.ok(typeof reason === 'string' && reason.length > 0, `${at}: rejection without a reason`);
    assert.ok(byteOffset == null || inFile(byteOffset), `${at}: rejection offset ${byteOffset} outside the file's ${fixture.bytes.length} bytes`);
  } else {
    assert.fail(`${at}: neither a record nor a rejection: ${JSON.stringify(event).slice(0, 200)}`);
  }
}

const TARGET = { userId: '00000000-0000-0000-0000-000000000001', jobId: '00000000-0000-0000-0000-000000000002', fileId: '00000000-0000-0000-0000-000000000003' };

interface ImportedBatch {
  eventsDone: number;
  /** Each table's COPY rows, each a list of its fields in hex (null for NULL). */
  tables: [table: string, rows: (string | null)[][]][];
  quarantine: string[];
}

/** The fields of one row of binary COPY data: a 16-bit count, then each field's 32-bit length (-1: NULL) and bytes. */
function fieldsOf(row: Buffer): (string | null)[] {
  const fields: (string | null)[] = [];
  let at = 2;
  for (let i = row.readInt16BE(0); i > 0; i--) {
    const length = row.readInt32BE(at);
    at += 4;
    fields.push(length < 0 ? null : row.subarray(at, at + length).toString('hex'));
    if (length > 0) at += length;
  }
  return fields;
}

const RANDOM_UUID = /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/;

/** Fields that are a new random UUID in each of two runs of the same import (items.item_id), as `table#field`. */
function randomFields(a: readonly ImportedBatch[], b: readonly ImportedBatch[]): Set<string> {
  const random = new Set<string>();
  a.forEach((batch, i) => {
    batch.tables.forEach(([table, rows], t) => {
      rows.forEach((fields, r) => {
        fields.forEach((field, f) => {
          const other = b[i]?.tables[t]?.[1][r]?.[f];
          if (field !== other && RANDOM_UUID.test(field ?? '') && RANDOM_UUID.test(other ?? '')) random.add(`${table}#${f}`);
        });
      });
    });
  });
  return random;
}

function masked(batches: readonly ImportedBatch[], random: ReadonlySet<string>): ImportedBatch[] {
  return batches.map((batch) => ({
    ...batch,
    tables: batch.tables.map(([table, rows]) => [table, rows.map((fields) => fields.map((field, f) => (random.has(`${table}#${f}`) ? '(random)' : field)))]),
  }));
}

/** The file through the transform and quality stages, as the runner loads it (no database). */
async function importBatches(source: Source, fixture: SourceFixture, resumedFrom: number, batchSize: number): Promise<{ batches: ImportedBatch[]; outcome: ParseOutcome }> {
  const outcome: ParseOutcome = { events: 0, broken: null };
  const context = { path: fixture.path, repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs: null, exportedAt: EXPORTED_AT };
  const batches: ImportedBatch[] = [];
  try {
    for await (const batch of produceBatches(source, chunked(fixture.bytes, 64 * 1024), context, { resumedFrom, batchSize, target: TARGET }, outcome)) {
      const tables = batch.tables.map((table): [string, (string | null)[][]] => {
        const ends = [...table.rows.slice(1), table.data.length];
        return [table.destination.table, table.rows.map((start, i) => fieldsOf(table.data.subarray(start, ends[i])))];
      });
      batches.push({ eventsDone: batch.eventsDone, tables, quarantine: batch.quarantine.map((q) => JSON.stringify(q)) });
      batch.release();
    }
  } catch (error) {
    if (!(error instanceof LakeError)) assert.fail(`resumed from ${resumedFrom}: threw what is not a LakeError: ${error instanceof Error ? error.stack : String(error)}`);
    batches.push({ eventsDone: -1, tables: [], quarantine: [`${error.code}: ${error.message}`] });
  }
  return { batches, outcome };
}

/** Up to `count` of the values, spread from first to last. */
function spread<T>(values: readonly T[], count: number): T[] {
  if (values.length <= count) return [...values];
  return Array.from({ length: count }, (_, i) => values[Math.round((i * (values.length - 1)) / (count - 1))]!);
}

describe('the registry', () => {
  test('one entry per id, each loading the source it declares (id, description, detection)', async () => {
    assert.equal(new Set(REGISTRY.map((entry) => entry.id)).size, REGISTRY.length, 'an id registered twice');
    for (const entry of REGISTRY) {
      const source = await loadParser(entry.parser);
      assert.equal(source.id, entry.id);
      assert.equal(source.description, entry.description, entry.id);
      assert.equal(source.detect, entry.detect, `${entry.id}: the source detects with its entry's function`);
      assert.equal(typeof source.parse, 'function', entry.id);
    }
  });

  test('fixtures name registered sources only', () => {
    const ids = new Set(REGISTRY.map((entry) => entry.id));
    assert.deepEqual(Object.keys(SOURCE_FIXTURES).filter((id) => !ids.has(id)), []);
  });

  test('detection imports no parser: nothing the registry loads up front is a parser module', () => {
    const registry = fileURLToPath(new URL('../src/ingest/sources/registry.ts', import.meta.url));
    const parsers = new Set(REGISTRY.map((entry) => fileURLToPath(entry.parser.url).replace(/\.js$/, '.ts')));
    const loaded = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const text = readFileSync(file, 'utf8');
      // Static imports and re-exports, not `import type`.
      for (const [, specifier] of text.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s+'([^']+)'/gms)) {
        if (specifier!.startsWith('.')) visit(path.resolve(path.dirname(file), specifier!.replace(/\.js$/, '.ts')));
        else if (!specifier!.startsWith('node:')) packages.add(specifier!);
      }
    };
    visit(registry);
    assert.deepEqual([...parsers].filter((file) => loaded.has(file)).map((file) => path.relative(path.dirname(registry), file)), [], 'parsers loaded with the registry');
    assert.deepEqual([...packages], [], 'packages loaded with the registry');
  });
});

const ALL_FIXTURES = Object.entries(SOURCE_FIXTURES).flatMap(([id, fixtures]) => fixtures.map((fixture) => ({ id, fixture })));

for (const entry of REGISTRY) {
  describe(entry.id, () => {
    const fixtures = SOURCE_FIXTURES[entry.id] ?? [];

    test('has fixtures', () => {
      assert.ok(fixtures.length > 0, `no fixtures for ${entry.id}: add them to test/support/source-fixtures.ts`);
    });

    test('claims no fixture of another source by its content', () => {
      const claimed = ALL_FIXTURES.filter(({ id, fixture }) => id !== entry.id && entry.detect({ path: fixture.path, head: fixture.bytes.subarray(0, 64 * 1024), size: fixture.bytes.length }) === 'content');
      assert.deepEqual(claimed.map(({ id, fixture }) => `${fixture.path} (${id})`), []);
    });

    for (const fixture of fixtures) {
      describe(fixture.path, () => {
        test('is recognised as this source, by no other source\'s content', () => {
          const probe = { path: fixture.path, head: fixture.bytes.subarray(0, 64 * 1024), size: fixture.bytes.length };
          assert.equal(detectSource(probe, REGISTRY)?.id, entry.id);
          assert.deepEqual(REGISTRY.filter((other) => other !== entry && other.detect(probe) === 'content').map((other) => other.id), []);
        });

        test('gives the same events in chunks of 1 byte, 7 bytes and 64 KiB: records, rejections and LakeErrors only', async () => {
          const source = await loadParser(entry.parser);
          const [first, ...others] = await Promise.all(CHUNK_SIZES.map((size) => parse(source, fixture, size)));
          first!.events.forEach((event, index) => {
            checkEvent(entry, fixture, event, index);
          });
          // asciiOnly is a hint that may be missed where a chunk ends (checked above where given).
          const comparable = ({ events, ...rest }: Parsed) => ({ ...rest, events: events.map((event) => (event.kind === 'record' ? { ...event, asciiOnly: undefined } : event)) });
          others.forEach((parsed, i) => {
            assert.deepStrictEqual(comparable(parsed), comparable(first!), `chunks of ${CHUNK_SIZES[i + 1]} bytes against chunks of ${CHUNK_SIZES[0]}`);
          });
        });

        test('resumed from each checkpoint, loads what an uninterrupted import loads after it', async () => {
          const source = await loadParser(entry.parser);
          const probe = await importBatches(source, fixture, 0, Number.MAX_SAFE_INTEGER);
          // Batches of a size that makes up to MAX_CHECKPOINTS checkpoints.
          const batchSize = Math.max(1, Math.ceil(probe.outcome.events / MAX_CHECKPOINTS));
          const whole = await importBatches(source, fixture, 0, batchSize);
          const random = randomFields(whole.batches, (await importBatches(source, fixture, 0, batchSize)).batches);
          const checkpoints = [...new Set(whole.batches.filter((batch, i) => i < whole.batches.length - 1 && batch.eventsDone > 0).map((batch) => batch.eventsDone))];
          for (const checkpoint of spread(checkpoints, MAX_CHECKPOINTS)) {
            const resumed = await importBatches(source, fixture, checkpoint, batchSize);
            const after = whole.batches.slice(whole.batches.findIndex((batch) => batch.eventsDone === checkpoint) + 1);
            assert.deepStrictEqual(masked(resumed.batches, random), masked(after, random), `resumed after ${checkpoint} of ${whole.outcome.events} events`);
            assert.deepStrictEqual(resumed.outcome, whole.outcome, `resumed after ${checkpoint} events`);
          }
        });
      });
    }
  });
}
