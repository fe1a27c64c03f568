// Issue 12, defects 2 and 3, through the real runner on both backends: raw control bytes inside
// the strings of a Google JSON file are repaired and counted like their escaped forms, and input
// nested deeper than MAX_NESTING_DEPTH is quarantined with its byte offset while the rest of the
// file loads. Each import runs twice: a re-run must end the same way.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_NESTING_DEPTH } from '../src/ingest/parse/nesting.js';
import type { ImportReport } from '../src/ingest/report.js';
import { runImport } from '../src/ingest/runner.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let dir: string;

before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-hostile-json-'));
});
after(async () => {
  await t.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function fileAt(relative: string, content: string | Buffer): Promise<string> {
  const file = path.join(dir, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}

/** Imports `input` twice as `user`; both runs must finish without an error. Returns both reports. */
async function importTwice(user: string, input: string): Promise<[ImportReport, ImportReport]> {
  const first = await runImport(t.lake.db, { userId: user, inputs: [input], batchSize: 1000, blobs: t.lake.blobs });
  const second = await runImport(t.lake.db, { userId: user, inputs: [input], batchSize: 1000, blobs: t.lake.blobs });
  for (const report of [first, second]) {
    assert.equal(report.error, null, JSON.stringify(report.error));
    assert.equal(report.files.length, 1);
    assert.notEqual(report.files[0]!.status, 'failed', report.files[0]!.note ?? '');
  }
  return [first, second];
}

async function query<T>(user: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await t.lake.db.asUser(user, (tx) => tx.query<T & object>(sql, params))).rows as T[];
}

/** A Records.json fix at minute `n` of 2020-03-01, with `extra` members as raw JSON text. */
const fix = (n: number, extra = '') =>
  `{"timestampMs":"${Date.UTC(2020, 2, 1) + n * 60_000}","latitudeE7":${485000000 + n},"longitudeE7":${23000000 + n}${extra}}`;

describe('raw control bytes inside JSON strings', () => {
  test('Records.json: a raw NUL in "source" is removed and counted, raw 0x01 and tab kept; every point loads, twice', async () => {
    const user = await createUser(t.lake, 'raw-nul-records');
    const text = `{"locations":[\n${[fix(0, ',"source":"wi\u0000fi"'), fix(1, ',"source":"gps\u0001\tx"'), fix(2), fix(3, ',"bad":nu\u0000ll')].join(',\n')}\n]}`;
    const input = await fileAt('nul/Records.json', Buffer.from(text, 'utf8'));
    const [first] = await importTwice(user, input);
    const f = first.files[0]!;
    assert.equal(f.format, 'google.location.records');
    assert.equal(f.records, 3);
    assert.equal(f.repairs.nulCharacters, 1);
    // The fourth element is broken outside any string: quarantined, its excerpt stored without the NUL.
    assert.equal(f.quarantined.malformed, 1);
    const sources = await query<{ source: string | null }>(user, `SELECT attributes->>'source' AS source FROM timeseries.location_points ORDER BY recorded_at`);
    assert.deepEqual(sources.map((r) => r.source), ['wifi', 'gps\u0001\tx', null]);
    const quarantined = await query<{ byte_offset: number; excerpt: string }>(user, `SELECT byte_offset, excerpt FROM imports.quarantine WHERE entry LIKE '%Records.json'`);
    assert.equal(quarantined.length, 1, 'the re-run adds no second quarantine row');
    assert.equal(quarantined[0]!.byte_offset, Buffer.from(text).indexOf(fix(3, ',"bad":nu\u0000ll')));
    assert.ok(quarantined[0]!.excerpt.includes('"bad":null'), quarantined[0]!.excerpt);
  });

  test('My Activity JSON: a raw NUL in a title is removed and counted; both entries load, twice', async () => {
    const user = await createUser(t.lake, 'raw-nul-activity');
    const entry = (query: string, time: string) =>
      `{"header":"Search","title":"Searched for ${query}","titleUrl":"https://www.google.com/search?q=x","time":"${time}","products":["Search"]}`;
    const text = `[${entry('nul\u0000here', '2021-06-01T10:00:00.000Z')},${entry('plain', '2021-06-02T10:00:00.000Z')}]`;
    const input = await fileAt('activity/My Activity.json', Buffer.from(text, 'utf8'));
    const [first] = await importTwice(user, input);
    assert.equal(first.files[0]!.format, 'google.myactivity.json');
    assert.equal(first.files[0]!.records, 2);
    assert.equal(first.files[0]!.repairs.nulCharacters, 1);
    const titles = await query<{ title: string }>(user, `SELECT title FROM user_data.items ORDER BY occurred_at`);
    assert.deepEqual(titles.map((r) => r.title), ['nulhere', 'plain']);
  });
});

describe(`nesting deeper than ${MAX_NESTING_DEPTH} levels`, () => {
  test('Records.json: 5,000 nested arrays are quarantined at their byte offset and the next point loads, twice', async () => {
    const user = await createUser(t.lake, 'deep-records');
    const text = `{"locations":[${'['.repeat(5000)}${']'.repeat(5000)},${fix(0)}]}`;
    const input = await fileAt('deep/Records.json', text);
    const [first] = await importTwice(user, input);
    const f = first.files[0]!;
    assert.equal(f.records, 1);
    assert.equal(f.quarantined.too_large, 1);
    const rows = await query<{ byte_offset: number; reason: string }>(user, `SELECT byte_offset, reason FROM imports.quarantine`);
    assert.deepEqual(rows, [{ byte_offset: '{"locations":['.length, reason: `element 0 of "locations" nests deeper than ${MAX_NESTING_DEPTH} levels, over the limit` }]);
    assert.equal((await query<{ n: number }>(user, `SELECT count(*)::int AS n FROM timeseries.location_points`))[0]!.n, 1);
  });

  test('exactly MAX_NESTING_DEPTH levels still load', async () => {
    const user = await createUser(t.lake, 'deep-enough');
    const nested = `${'['.repeat(MAX_NESTING_DEPTH - 2)}1${']'.repeat(MAX_NESTING_DEPTH - 2)}`;
    const input = await fileAt('deep-enough/Records.json', `{"locations":[${fix(0, `,"deep":${nested}`)}]}`);
    const [first] = await importTwice(user, input);
    assert.equal(first.files[0]!.records, 1);
    assert.deepEqual(first.files[0]!.quarantined, {});
  });

  test('a JSON document (document.json) nested 100,000 deep is kept, with a quarantine entry where the bound was passed', async () => {
    const user = await createUser(t.lake, 'deep-document');
    const text = `{"name":"kept text","deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const input = await fileAt('doc/notes.json', text);
    const [first] = await importTwice(user, input);
    const f = first.files[0]!;
    assert.equal(f.format, 'document.json');
    assert.equal(f.records, 2); // the document and its blob reference
    assert.equal(f.quarantined.malformed, 1);
    const rows = await query<{ byte_offset: number; reason: string }>(user, `SELECT byte_offset, reason FROM imports.quarantine`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.byte_offset, text.indexOf('[') + MAX_NESTING_DEPTH - 1);
    assert.match(rows[0]!.reason, new RegExp(`nested deeper than ${MAX_NESTING_DEPTH} levels`));
    const docs = await query<{ body: string }>(user, `SELECT body FROM user_data.documents`);
    assert.match(docs[0]!.body, /kept text/);
  });

  test('an HTML mail body nested 20,000 deep loads, the deepest text left out', async () => {
    const user = await createUser(t.lake, 'deep-mail');
    const message = (id: string, contentType: string, body: string) =>
      `From ${id}@example.org Mon Jan 01 10:00:00 2024\nFrom: a@example.org\nTo: b@example.org\nSubject: ${id}\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <${id}@example.org>\nContent-Type: ${contentType}\n\n${body}\n\n`;
    const deep = `<html><body>top text${'<div>'.repeat(20_000)}deepest${'</div>'.repeat(20_000)}</body></html>`;
    const input = await fileAt('mail/All mail Including Spam and Trash.mbox', message('deep', 'text/html; charset=utf-8', deep) + message('plain', 'text/plain', 'hello'));
    const [first] = await importTwice(user, input);
    assert.equal(first.files[0]!.format, 'google.gmail.mbox');
    assert.equal(first.files[0]!.records, 2);
    const bodies = await query<{ subject: string; body: string }>(user, `SELECT subject, body FROM user_data.messages ORDER BY subject`);
    assert.equal(bodies[0]!.subject, 'deep');
    assert.match(bodies[0]!.body, /top text/);
    assert.doesNotMatch(bodies[0]!.body, /deepest/);
  });

  test('iCalendar: components nested past the bound are skipped with a quarantine entry; the event after them loads', async () => {
    const user = await createUser(t.lake, 'deep-calendar');
    const depth = MAX_NESTING_DEPTH + 100;
    const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0'];
    for (let i = 0; i < depth; i++) lines.push('BEGIN:X-NEST');
    for (let i = 0; i < depth; i++) lines.push('END:X-NEST');
    lines.push('BEGIN:VEVENT', 'UID:after@example.org', 'DTSTART:20240101T100000Z', 'DTEND:20240101T110000Z', 'SUMMARY:after the nest', 'END:VEVENT', 'END:VCALENDAR', '');
    const input = await fileAt('cal/calendar.ics', lines.join('\r\n'));
    const [first] = await importTwice(user, input);
    assert.equal(first.files[0]!.records, 1);
    assert.equal(first.files[0]!.quarantined.too_large, 1);
    const rows = await query<{ line: number }>(user, `SELECT line FROM imports.quarantine`);
    assert.deepEqual(rows, [{ line: 2 + MAX_NESTING_DEPTH }]);
    const events = await query<{ summary: string }>(user, `SELECT summary FROM user_data.calendar_events`);
    assert.deepEqual(events, [{ summary: 'after the nest' }]);
  });
});
