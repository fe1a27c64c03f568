// Inputs the source fuzzer (bench/fuzz-sources.ts) found that made a source parser throw, each cut
// down to what matters and run through the same path as an import (produceBatches: parse,
// normalize, validate, encode), without a database. Each must end in records and quarantine
// entries, never in another exception.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { produceBatches, type ParseOutcome } from '../src/ingest/pipeline/batches.js';
import type { QuarantineEntry } from '../src/ingest/load/loader.js';
import { SOURCES } from '../src/ingest/sources/all.js';

async function importWithoutDatabase(sourceId: string, path: string, content: string | Buffer): Promise<{ rows: number; quarantine: QuarantineEntry[]; outcome: ParseOutcome }> {
  const source = SOURCES.find((s) => s.id === sourceId)!;
  const outcome: ParseOutcome = { events: 0, broken: null };
  const target = { userId: '00000000-0000-0000-0000-000000000001', jobId: null, fileId: null };
  const context = { path, repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs: null, exportedAt: null };
  let rows = 0;
  const quarantine: QuarantineEntry[] = [];
  for await (const batch of produceBatches(source, Readable.from([Buffer.from(content)]), context, { resumedFrom: 0, batchSize: 100, target }, outcome)) {
    for (const table of batch.tables) rows += table.rows.length;
    quarantine.push(...batch.quarantine);
  }
  return { rows, quarantine, outcome };
}

describe('source parsers on inputs the fuzzer found', () => {
  test('google.fit.raw: an endTimeNanos past any date is refused for its point, not thrown (RangeError: Invalid time value)', async () => {
    const point = (start: string, end: string) => `{"dataTypeName":"com.google.step_count.delta","startTimeNanos":"${start}","endTimeNanos":"${end}","fitValue":[{"value":{"intVal":12}}]}`;
    const text = `{"Data Source":"derived:x","Data Points":[${point('1600000000000000000', '9'.repeat(80))},${point('1600000000000000000', '1600000060000000000')}]}`;
    const { rows, quarantine } = await importWithoutDatabase('google.fit.raw', 'Takeout/Fit/All Data/raw_steps.json', text);
    assert.equal(rows, 1);
    assert.deepEqual(quarantine.map((q) => [q.category, q.reason, q.byteOffset]), [['invalid', 'Fit data point of com.google.step_count.delta with an endTimeNanos out of range', text.indexOf('{"dataTypeName"')]]);
  });

  test('google.calendar.ics: an RRULE BYDAY that names no weekday refuses its event, not the whole calendar (Error thrown while expanding)', async () => {
    const event = (uid: string, rule: string) => ['BEGIN:VEVENT', `UID:${uid}`, 'DTSTART:20240101T100000Z', 'DTEND:20240101T110000Z', `SUMMARY:${uid}`, ...(rule ? [`RRULE:${rule}`] : []), 'END:VEVENT'];
    const text = ['BEGIN:VCALENDAR', 'VERSION:2.0', ...event('bad', 'FREQ=WEEKLY;COUNT=3;BYDAY=M\u0001O'), ...event('good', 'FREQ=DAILY;COUNT=2'), 'END:VCALENDAR', ''].join('\r\n');
    const { rows, quarantine } = await importWithoutDatabase('google.calendar.ics', 'Takeout/Calendar/cal.ics', text);
    assert.equal(rows, 2);
    assert.deepEqual(quarantine.map((q) => [q.category, q.reason, q.line]), [['malformed', 'VEVENT on line 3: RRULE BYDAY M\u0001O is not a weekday', 3]]);
  });

  test('document.file: a long run of e-mail local-part characters without an @ is scanned for PII in linear time (20,000 `}` took 6 s)', async () => {
    const text = `notes ${'{"a":'.repeat(1000)}${'}'.repeat(200_000)} and ${'='.repeat(100_000)} ana@example.org\n`;
    const started = performance.now();
    const { rows, quarantine } = await importWithoutDatabase('document.file', 'Takeout/Drive/notes.txt', text);
    // Quadratic, this took minutes; linear, well under a second.
    assert.ok(performance.now() - started < 10_000, `${Math.round(performance.now() - started)} ms`);
    assert.equal(rows, 1);
    assert.deepEqual(quarantine, []);
  });
});
