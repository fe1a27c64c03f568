// The mbox splitter and the Gmail mbox source, over fixtures written from the published shapes
// (RFC 4155 mboxrd, RFC 5322/2045/2046/2047, Takeout's separator lines): see
// test/fixtures/mbox/README.md for what each message of each file holds.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { ParseError } from '../src/errors.js';
import { MboxSplitter, isExactSeparatorLine, isSeparatorLine, separatorDate, splitMbox, unquoteFromLines, type MboxEvent, type MboxMessage } from '../src/ingest/parse/mbox.js';
import type { MessageRecord, ParseEvent, Rejection, RepairCounts } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import type { Source } from '../src/ingest/source.js';
import { detectSource } from '../src/ingest/sources/all.js';
import {
  createGmailMboxSource,
  displayAddresses,
  firstId,
  gmailMboxSource,
  isKnownCharset,
  MAX_HTML_CHARS,
  parseLabels,
  parseMailDate,
  type AttachmentMeta,
} from '../src/ingest/sources/google/gmail-mbox.js';
import { normalizeRecord } from '../src/ingest/transform/normalize.js';
import { TEXT_MAX_BYTES, validateRecord } from '../src/ingest/validate/validate.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const FIXTURES = new URL('./fixtures/mbox/', import.meta.url);
const read = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const TAKEOUT = read('takeout.mbox');

/** Where the separator lines of takeout.mbox are (counted by hand from the fixture). */
const TAKEOUT_SEPARATORS = [
  { offset: 0, line: 1 },
  { offset: 840, line: 24 },
  { offset: 1585, line: 45 },
  { offset: 2470, line: 75 },
  { offset: 2835, line: 88 },
  { offset: 3223, line: 103 },
  { offset: 3505, line: 114 },
  { offset: 3615, line: 120 },
  { offset: 3768, line: 127 },
  { offset: 3861, line: 132 },
  { offset: 12432, line: 257 },
];

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function split(bytes: Buffer, chunkSize = 64 * 1024, maxMessageBytes?: number): Promise<MboxEvent[]> {
  const events: MboxEvent[] = [];
  const options = maxMessageBytes === undefined ? {} : { maxMessageBytes };
  for await (const event of splitMbox(Readable.from(chunksOf(bytes, chunkSize)), options)) events.push(event);
  return events;
}

function messagesOf(events: MboxEvent[]): MboxMessage[] {
  return events.filter((event): event is MboxMessage => event.kind === 'message');
}

/** Offset and 1-based line of every line of `bytes` that starts with `prefix`, found line by line. */
function lineStarts(bytes: Buffer, prefixes: string[]): Array<{ offset: number; line: number }> {
  const found: Array<{ offset: number; line: number }> = [];
  let offset = 0;
  bytes
    .toString('latin1')
    .split('\n')
    .forEach((text, index) => {
      if (prefixes.some((prefix) => text.startsWith(prefix))) found.push({ offset, line: index + 1 });
      offset += text.length + 1;
    });
  return found;
}

interface Run {
  events: ParseEvent[];
  records: MessageRecord[];
  offsets: number[];
  rejections: Rejection[];
  repairs: RepairCounts;
}

async function parse(bytes: Buffer, options: { chunkSize?: number; source?: Source; path?: string } = {}): Promise<Run> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const source = options.source ?? gmailMboxSource;
  const events: ParseEvent[] = [];
  const input = Readable.from(chunksOf(bytes, options.chunkSize ?? 64 * 1024));
  for await (const event of source.parse(input, { path: options.path ?? 'Takeout/Mail/All mail Including Spam and Trash.mbox', repairs })) {
    events.push(event);
  }
  return {
    events,
    records: events.flatMap((event) => (event.kind === 'record' ? [event.record as MessageRecord] : [])),
    offsets: events.flatMap((event) => (event.kind === 'record' ? [event.offset] : [])),
    rejections: events.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : [])),
    repairs,
  };
}

function byId(run: Run, messageId: string): MessageRecord {
  const record = run.records.find((candidate) => candidate.messageId === messageId);
  assert.ok(record, `no record with Message-ID ${messageId}`);
  return record;
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

describe('mbox splitter', () => {
  test('takeout.mbox: eleven messages at the separator lines, found independently', async () => {
    const events = await split(TAKEOUT);
    assert.equal(events.length, 11);
    assert.ok(events.every((event) => event.kind === 'message'));
    const messages = messagesOf(events);
    assert.deepEqual(
      messages.map(({ offset, line }) => ({ offset, line })),
      TAKEOUT_SEPARATORS,
    );
    assert.deepEqual(lineStarts(TAKEOUT, ['From 1545', 'From MAILER-DAEMON']), TAKEOUT_SEPARATORS);
    assert.equal(messages[0]?.separator, 'From 1545668983435175434@xxx Fri Sep 16 12:34:56 +0000 2022');
    assert.equal(messages[6]?.separator, 'From MAILER-DAEMON Thu Jan  1 00:00:00 2015');
    for (const message of messages) {
      const separatorLength = Buffer.byteLength(message.separator) + 1;
      assert.equal(TAKEOUT.toString('latin1', message.offset, message.offset + separatorLength), `${message.separator}\n`);
    }
  });

  test('each message ends before the empty line that closes it; the bytes between are the message', async () => {
    const messages = messagesOf(await split(TAKEOUT));
    const last = messages[10]!;
    assert.equal(last.raw.toString(), TAKEOUT.toString('latin1', last.offset + last.separator.length + 1, TAKEOUT.length - 1));
    assert.ok(last.raw.toString().endsWith('The end.\n'));
    assert.equal(last.endsMidLine, false);
    // Message 4 (unknown charset) has no `From` lines to unquote: its raw bytes are the file's.
    const fourth = messages[3]!;
    const start = fourth.offset + fourth.separator.length + 1;
    assert.deepEqual(fourth.raw, TAKEOUT.subarray(start, (messages[4]?.offset ?? 0) - 1));
  });

  test('mboxrd: one > removed from >From lines; From lines without a blank line before are body', async () => {
    const body = messagesOf(await split(TAKEOUT))[0]!.raw.toString('utf8');
    assert.ok(body.includes('\nFrom the archive: this line was quoted by the writer.\n'));
    assert.ok(body.includes('\n>From here, two levels of quoting.\n'));
    assert.ok(!body.includes('>>From'));
    assert.ok(body.includes('\nFrom here@example.org Sat Sep 17 10:00:00 2022 wrote this:\n'));
    assert.ok(body.includes('\n\nFrom now on, a paragraph that starts with "From " after a blank line.\nBye\n'));
    assert.ok(body.endsWith('Bye\n'));
  });

  test('unquoteFromLines leaves > inside lines and other quotes alone', () => {
    const raw = Buffer.from('A: b\n\n>From x\n>>>From y\nsay >From z\n> From w\n>From');
    assert.equal(unquoteFromLines(raw).toString(), 'A: b\n\nFrom x\n>>From y\nsay >From z\n> From w\n>From');
    const untouched = Buffer.from('nothing to do\n');
    assert.equal(unquoteFromLines(untouched), untouched);
  });

  test('1-byte, 7-byte and 64 KiB chunks give identical events, for every fixture', async () => {
    for (const name of ['takeout.mbox', 'crlf.mbox', 'no-final-newline.mbox', 'truncated.mbox']) {
      const bytes = read(name);
      const whole = await split(bytes, bytes.length);
      for (const size of [1, 7, 64 * 1024]) assert.deepEqual(await split(bytes, size), whole, `${name} in ${size}-byte chunks`);
    }
    const capped = await split(TAKEOUT, TAKEOUT.length, 4096);
    for (const size of [1, 7, 64 * 1024]) assert.deepEqual(await split(TAKEOUT, size, 4096), capped);
  });

  test('CRLF: separators after \\r\\n empty lines, >From unquoted, the closing \\r\\n empty line dropped', async () => {
    const bytes = read('crlf.mbox');
    const messages = messagesOf(await split(bytes));
    assert.deepEqual(
      messages.map(({ offset, line }) => ({ offset, line })),
      [
        { offset: 0, line: 1 },
        { offset: 380, line: 14 },
      ],
    );
    assert.equal(messages[0]?.separator, 'From 1545668983435190001@xxx Mon Jan 09 10:00:00 +0000 2023');
    const first = messages[0]!.raw.toString();
    assert.ok(first.endsWith('\r\n\r\nLine one.\r\nFrom a quoted line.\r\nFrom ab@b.org Sat Sep 17 10:00:00 2022 no blank.\r\n'));
    assert.ok(messages[1]!.raw.toString().endsWith('\r\n\r\nSecond.\r\n'));
  });

  test('no final newline: the last message ends with the file and says so', async () => {
    const messages = messagesOf(await split(read('no-final-newline.mbox')));
    assert.deepEqual(
      messages.map(({ offset, line, endsMidLine }) => ({ offset, line, endsMidLine })),
      [
        { offset: 0, line: 1, endsMidLine: false },
        { offset: 183, line: 9, endsMidLine: true },
      ],
    );
    assert.ok(messages[1]!.raw.toString().endsWith('\n\nBye'));
  });

  test('a message over the cap is reported with its offset, line and size; the others carry on', async () => {
    const events = await split(TAKEOUT, 64 * 1024, 4096);
    assert.equal(events.length, 11);
    const large = events[9]!;
    assert.equal(large.kind, 'too_large');
    assert.ok(large.kind === 'too_large');
    assert.equal(large.offset, 3861);
    assert.equal(large.line, 132);
    // Everything between its separator line and the next separator, the closing empty line included.
    assert.equal(large.size, 12432 - 3861 - (large.separator.length + 1));
    assert.equal(messagesOf(events).length, 10);
  });

  test('a message over the cap is not held while it streams', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const splitter = new MboxSplitter({ maxMessageBytes: 1024 * 1024 });
    splitter.write(Buffer.from('From a@b Fri Sep 16 12:34:56 +0000 2022\nSubject: big\n\n'));
    gc();
    const before = process.memoryUsage().arrayBuffers;
    // 96 MiB in fresh 64 KiB buffers: kept, they would still be there after a collection.
    for (let i = 0; i < 1536; i++) splitter.write(Buffer.alloc(64 * 1024, i % 2 === 0 ? 0x41 : 0x0a));
    gc();
    const growth = process.memoryUsage().arrayBuffers - before;
    assert.ok(growth < 16 * 1024 * 1024, `array buffers grew by ${growth} bytes`);
    const events = splitter.end();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, 'too_large');
  });

  test('bytes before the first separator: reported unless blank; leading empty lines are fine', async () => {
    const junk = await split(Buffer.concat([Buffer.from('Some junk\n\n'), TAKEOUT]));
    assert.deepEqual(junk[0], { kind: 'preamble', offset: 0, line: 1, size: 11 });
    assert.deepEqual(
      messagesOf(junk).map(({ offset, line }) => ({ offset, line })),
      TAKEOUT_SEPARATORS.map(({ offset, line }) => ({ offset: offset + 11, line: line + 2 })),
    );
    const blank = await split(Buffer.concat([Buffer.from('\n\r\n'), TAKEOUT]));
    assert.equal(blank[0]?.kind, 'message');
    assert.equal(blank[0]?.offset, 3);
    assert.equal(blank[0]?.line, 3);
    const nothing = await split(Buffer.from('not an mbox at all\n'));
    assert.deepEqual(nothing, [{ kind: 'preamble', offset: 0, line: 1, size: 19 }]);
  });

  test('a separator line as the last line of the file, without a newline, starts an empty message', async () => {
    const bytes = Buffer.from('From a@b Fri Sep 16 12:34:56 +0000 2022\nSubject: x\n\nbody\n\nFrom c@d Sat Sep 17 12:34:56 +0000 2022');
    const messages = messagesOf(await split(bytes, 5));
    assert.equal(messages.length, 2);
    assert.equal(messages[0]?.raw.toString(), 'Subject: x\n\nbody\n');
    assert.equal(messages[1]?.offset, bytes.indexOf('From c@d'));
    assert.equal(messages[1]?.line, 6);
    assert.equal(messages[1]?.raw.length, 0);
  });

  test('separator lines: the shape, and their date in UTC', () => {
    assert.ok(isSeparatorLine('From 1545668983435175434@xxx Fri Sep 16 12:34:56 +0000 2022'));
    assert.ok(isSeparatorLine('From MAILER-DAEMON Thu Jan  1 00:00:00 2015'));
    assert.ok(isSeparatorLine('From - Sat Jan 01 10:00:00 2000'));
    assert.ok(!isSeparatorLine('From here on, we meet at 10:30 every day.'));
    assert.ok(!isSeparatorLine('From: alice@example.org'));
    assert.ok(!isSeparatorLine('From  Fri Sep 16 12:34:56 2022'));
    assert.equal(separatorDate('From 1545668983435175434@xxx Fri Sep 16 12:34:56 +0000 2022')?.toISOString(), '2022-09-16T12:34:56.000Z');
    assert.equal(separatorDate('From x@y Fri Sep 16 12:34:56 -0130 2022')?.toISOString(), '2022-09-16T14:04:56.000Z');
    assert.equal(separatorDate('From MAILER-DAEMON Thu Jan  1 00:00:00 2015')?.toISOString(), '2015-01-01T00:00:00.000Z');
    assert.equal(separatorDate('From x@y Mon Feb 30 10:00:00 +0000 2015'), null);
    assert.equal(separatorDate('From x@y Mon Feb 3 25:00:00 +0000 2015'), null);
  });
});

describe('Gmail mbox source: takeout.mbox', () => {
  let run: Run;
  before(async () => {
    run = await parse(TAKEOUT);
  });

  test('nine records and two rejections, each where its message starts', () => {
    assert.equal(run.records.length, 9);
    assert.deepEqual(
      run.offsets,
      TAKEOUT_SEPARATORS.map(({ offset }) => offset).filter((offset) => offset !== 3615 && offset !== 3768),
    );
    assert.deepEqual(
      run.rejections.map(({ category, byteOffset, line }) => ({ category, byteOffset, line })),
      [
        { category: 'invalid', byteOffset: 3615, line: 120 },
        { category: 'malformed', byteOffset: 3768, line: 127 },
      ],
    );
    assert.equal(run.rejections[0]?.reason, 'Date header "sometime last week" unreadable or out of range, and the separator line has no valid date');
    assert.equal(run.rejections[1]?.reason, 'message does not start with a header field');
    assert.equal(run.rejections[1]?.excerpt, 'this is not a header');
  });

  test('Takeout headers: ids, thread, labels with quoted commas and encoded words, addresses, subject, date', () => {
    const record = byId(run, 'CAM1=abc123@mail.gmail.com');
    assert.equal(record.source, 'google.gmail.mbox');
    assert.deepEqual(record.key, ['CAM1=abc123@mail.gmail.com']);
    assert.equal(record.threadId, '1545668983435175434');
    assert.deepEqual(record.labels, ['Inbox', 'Important', 'Work, 2021', 'Été', 'Opened']);
    assert.equal(record.from, 'Jürgen Müller <jurgen@example.de>');
    assert.deepEqual(record.to, ['Alice Martin <alice@example.org>', 'Doe, Bob <bob@example.org>']);
    assert.deepEqual(record.cc, ['carol@example.org', 'dave@example.org']);
    assert.equal(record.subject, 'Café meeting — notes');
    assert.equal(record.sentAt.toISOString(), '2022-09-16T12:34:56.000Z');
    assert.equal(record.inReplyTo, null);
    assert.deepEqual(record.attachments, []);
    assert.equal(record.attributes, undefined);
    assert.equal(
      record.body,
      'Hello,\n\nFrom the archive: this line was quoted by the writer.\n>From here, two levels of quoting.\n' +
        'From here@example.org Sat Sep 17 10:00:00 2022 wrote this:\n\n' +
        'From now on, a paragraph that starts with "From " after a blank line.\nBye\n',
    );
  });

  test('ISO-8859-1 words; multipart/alternative with only HTML becomes text', () => {
    const record = byId(run, 'reply-2@example.fr');
    assert.equal(record.subject, 'Re: Café crème');
    assert.equal(record.from, 'Chloé Lefèvre <chloe@example.fr>');
    assert.equal(record.inReplyTo, 'CAM1=abc123@mail.gmail.com');
    assert.equal(record.threadId, '1545668983435175434');
    assert.equal(record.sentAt.toISOString(), '2022-09-17T08:00:00.000Z');
    assert.equal(record.body, 'Ordre du jour\n\nVoir le document & la photo .\n\nCafé à 10h.');
    assert.deepEqual(record.attributes, { bodyFromHtml: true });
  });

  test('Shift_JIS subject; attachments described by name, type, size and SHA-256 of the decoded bytes', () => {
    const record = byId(run, 'jp-3@example.jp');
    assert.equal(record.subject, '会議の予定');
    assert.equal(record.sentAt.toISOString(), '2022-10-03T23:15:00.000Z');
    assert.equal(record.body, 'See the attachments.\n\n');
    const pdf = '%PDF-1.4\n% fixture attachment, not a real PDF\n';
    const note = 'Übersicht: 3 Punkte\n';
    assert.deepEqual(record.attachments, [
      { filename: 'report.pdf', contentType: 'application/pdf', size: Buffer.byteLength(pdf), sha256: sha256(pdf) },
      { filename: 'Übersicht.txt', contentType: 'text/plain', size: Buffer.byteLength(note), sha256: sha256(note) },
    ]);
  });

  test('unknown charsets are decoded as Latin-1 and named in attributes', () => {
    const record = byId(run, 'unknown-4@example.com');
    assert.equal(record.subject, 'Café ok');
    assert.equal(record.body, 'Café au lait\n');
    assert.deepEqual(record.attributes, { unknownCharsets: ['x-unknown-8bit', 'x-mystery'] });
  });

  test('a multipart that is never closed keeps what the parser recovered, flagged', () => {
    const record = byId(run, 'broken-5@example.com');
    assert.equal(record.body, 'Part one text.\n');
    assert.deepEqual(record.attributes, { mimeProblem: 'multipart/mixed boundary "never-closed" is never closed' });
  });

  test('a NUL byte reaches normalization, which removes and counts it (bad-inputs P4)', () => {
    const record = structuredClone(byId(run, 'nul-6@example.com'));
    assert.equal(record.body, 'before\u0000after\n');
    const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
    normalizeRecord(record, repairs);
    assert.equal(record.body, 'beforeafter\n');
    assert.deepEqual(repairs, { invalidUtf8: 0, nulCharacters: 1 });
    assert.ok(validateRecord(record).ok);
  });

  test('no Date header: the separator date; no Message-ID: keyed by the SHA-256 of the raw message', async () => {
    const record = run.records.find((candidate) => candidate.subject === 'No date here');
    assert.ok(record);
    assert.equal(record.messageId, null);
    assert.equal(record.threadId, null);
    assert.deepEqual(record.labels, []);
    assert.equal(record.sentAt.toISOString(), '2015-01-01T00:00:00.000Z');
    assert.deepEqual(record.attributes, { dateSource: 'separator' });
    const raw = messagesOf(await split(TAKEOUT))[6]!.raw;
    assert.equal(raw.toString(), 'From: daemon@example.com\nSubject: No date here\n\nUndated message.\n');
    assert.deepEqual(record.key, [sha256(raw)]);
  });

  test('every record passes validation', () => {
    for (const record of run.records) assert.ok(validateRecord(normalizeRecord(structuredClone(record), { invalidUtf8: 0, nulCharacters: 0 })).ok);
  });
});

describe('Gmail mbox source: shapes and failures', () => {
  test('1-byte, 7-byte and 64 KiB chunks give identical events', async () => {
    const whole = await parse(TAKEOUT, { chunkSize: TAKEOUT.length });
    for (const chunkSize of [1, 7, 64 * 1024]) assert.deepEqual((await parse(TAKEOUT, { chunkSize })).events, whole.events);
  });

  test('the same messages with CRLF line endings give the same records', async () => {
    const lf = await parse(TAKEOUT);
    const crlf = await parse(Buffer.from(TAKEOUT.toString('latin1').replace(/\n/g, '\r\n'), 'latin1'));
    assert.equal(crlf.records.length, lf.records.length);
    assert.deepEqual(
      crlf.rejections.map(({ category, reason }) => ({ category, reason })),
      lf.rejections.map(({ category, reason }) => ({ category, reason })),
    );
    // Only the key of the message without a Message-ID differs: it hashes the raw bytes.
    const comparable = (record: MessageRecord) => ({ ...record, key: record.messageId === null ? null : record.key });
    assert.deepEqual(crlf.records.map(comparable), lf.records.map(comparable));
  });

  test('crlf.mbox and no-final-newline.mbox', async () => {
    const crlf = await parse(read('crlf.mbox'));
    assert.deepEqual(crlf.offsets, [0, 380]);
    assert.equal(crlf.rejections.length, 0);
    const [first, second] = crlf.records;
    assert.equal(first?.subject, 'CRLF ✓');
    assert.equal(first?.from, 'Zoë <zoe@example.org>');
    assert.equal(first?.body, 'Line one.\nFrom a quoted line.\nFrom ab@b.org Sat Sep 17 10:00:00 2022 no blank.\n');
    assert.equal(first?.sentAt.toISOString(), '2023-01-09T10:00:00.000Z');
    assert.equal(second?.inReplyTo, 'crlf-1@example.org');
    assert.deepEqual(second?.to, ['Zoë <zoe@example.org>']);

    const noFinal = await parse(read('no-final-newline.mbox'));
    assert.deepEqual(noFinal.offsets, [0, 183]);
    assert.equal(noFinal.rejections.length, 0);
    assert.deepEqual(
      noFinal.records.map((record) => record.subject),
      ['First', 'Second'],
    );
    assert.match(noFinal.records[1]?.body ?? '', /^Bye\n?$/);
  });

  test('a message cut off at the end of the file is quarantined; the one before is kept', async () => {
    const bytes = read('truncated.mbox');
    const cut = await parse(bytes);
    assert.deepEqual(
      cut.records.map((record) => record.messageId),
      ['trunc-1@example.org'],
    );
    assert.equal(cut.rejections.length, 1);
    assert.equal(cut.rejections[0]?.category, 'malformed');
    assert.equal(cut.rejections[0]?.reason, 'message cut off: the file ends mid-line inside an unclosed multipart');
    assert.equal(cut.rejections[0]?.byteOffset, 187);
    assert.equal(cut.rejections[0]?.line, 9);
    // Cut inside the header: same verdict.
    const headerCut = await parse(bytes.subarray(0, bytes.indexOf('Subject: Cut off') + 10));
    assert.equal(headerCut.rejections[0]?.reason, 'message cut off: the file ends mid-line inside its header');
    // A file that ends with a newline was written whole: the open multipart is a broken message, kept.
    const whole = await parse(Buffer.concat([bytes, Buffer.from('\n')]));
    assert.equal(whole.records.length, 2);
    assert.match(String(whole.records[1]?.attributes?.mimeProblem), /boundary "cut" is never closed/);
  });

  test('size cap: too_large with offset and line, the next message carries on', async () => {
    const run = await parse(TAKEOUT, { source: createGmailMboxSource({ maxMessageBytes: 4096 }) });
    assert.equal(run.records.length, 8);
    const tooLarge = run.rejections.find((rejection) => rejection.category === 'too_large');
    assert.deepEqual(tooLarge, {
      category: 'too_large',
      reason: `message of ${12432 - 3861 - 'From 1545668983435180007@xxx Sat Oct 08 09:00:00 +0000 2022\n'.length} bytes, over the 4096-byte limit`,
      byteOffset: 3861,
      line: 132,
      excerpt: null,
    });
    assert.equal(run.offsets.at(-1), 12432);
  });

  test('a Date header in the future falls back to the separator date and is kept', async () => {
    const bytes = Buffer.from('From a@b Fri Sep 16 12:34:56 +0000 2022\nDate: Tue, 1 Jan 2999 00:00:00 +0000\nSubject: x\n\nbody\n');
    const run = await parse(bytes);
    assert.equal(run.records[0]?.sentAt.toISOString(), '2022-09-16T12:34:56.000Z');
    assert.deepEqual(run.records[0]?.attributes, { dateSource: 'separator', dateHeader: 'Tue, 1 Jan 2999 00:00:00 +0000' });
  });

  test('bodies over the cap are cut on a character boundary; HTML over MAX_HTML_CHARS is cut before conversion', async () => {
    const paragraph = `<p>${'é'.repeat(1000)}</p>`;
    const html = paragraph.repeat(Math.ceil(MAX_HTML_CHARS / paragraph.length) + 10);
    const headers = 'Date: Fri, 16 Sep 2022 12:34:56 +0000\nContent-Type: text/html; charset=utf-8\n';
    const bytes = Buffer.from(`From a@b Fri Sep 16 12:34:56 +0000 2022\n${headers}\n${html}\n`);
    const record = (await parse(bytes)).records[0]!;
    assert.equal(Buffer.byteLength(record.body ?? ''), TEXT_MAX_BYTES);
    assert.ok(record.body?.startsWith(`${'é'.repeat(1000)}\n\n${'é'.repeat(1000)}`));
    assert.deepEqual(Object.keys(record.attributes ?? {}), ['bodyFromHtml', 'truncated']);
    const truncated = record.attributes?.truncated as { html: number; body: number };
    // The parsed HTML part ends with the line break before the closing empty line.
    assert.equal(truncated.html, Buffer.byteLength(`${html}\n`));
    assert.ok(truncated.body > TEXT_MAX_BYTES && truncated.body < truncated.html, String(truncated.body));
  });

  test('a message the MIME parser refuses is malformed, and the next one carries on', async () => {
    const huge = `From a@b Fri Sep 16 12:34:56 +0000 2022\nSubject: ${'x'.repeat(3 * 1024 * 1024)}\n\nbody\n\n`;
    const run = await parse(Buffer.concat([Buffer.from(huge), read('no-final-newline.mbox')]));
    assert.equal(run.rejections.length, 1);
    assert.equal(run.rejections[0]?.category, 'malformed');
    assert.match(run.rejections[0]?.reason ?? '', /^MIME parser: /);
    assert.equal(run.rejections[0]?.byteOffset, 0);
    assert.deepEqual(
      run.records.map((record) => record.subject),
      ['First', 'Second'],
    );
  });

  test('bytes before the first separator, or no separator at all', async () => {
    const junk = await parse(Buffer.concat([Buffer.from('junk\n\n'), read('crlf.mbox')]));
    assert.equal(junk.records.length, 2);
    assert.deepEqual(junk.rejections, [
      { category: 'malformed', reason: '6 bytes before the first "From " separator line belong to no message', byteOffset: 0, line: 1, excerpt: null },
    ]);
    const none = await parse(Buffer.from('{"not": "an mbox"}\n'));
    assert.equal(none.records.length, 0);
    assert.deepEqual(none.rejections, [
      { category: 'unsupported', reason: 'no mbox "From " separator line in 19 bytes', byteOffset: 0, line: 1, excerpt: null },
    ]);
  });

  test('onAttachment receives each attachment with its decoded bytes, before the record', async () => {
    const seen: Array<{ meta: AttachmentMeta; text: string }> = [];
    const source = createGmailMboxSource({
      onAttachment: async (meta, content) => {
        await new Promise((resolve) => setImmediate(resolve));
        seen.push({ meta, text: Buffer.from(content).toString('utf8') });
      },
    });
    const run = await parse(TAKEOUT, { source });
    assert.deepEqual(
      seen.map(({ meta }) => meta),
      [...byId(run, 'jp-3@example.jp').attachments, ...byId(run, 'large-10@example.com').attachments],
    );
    assert.equal(seen[1]?.text, 'Übersicht: 3 Punkte\n');
    for (const { meta, text } of seen.slice(0, 2)) assert.equal(sha256(text), meta.sha256);
  });

  test('a consumer that stops early closes the input stream; a read error names the byte', async () => {
    const stream = createReadStream(new URL('takeout.mbox', FIXTURES), { highWaterMark: 64 });
    const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
    for await (const event of gmailMboxSource.parse(stream, { path: 'x.mbox', repairs })) {
      assert.equal(event.kind, 'record');
      break;
    }
    assert.equal(stream.destroyed, true);

    const failing = new Readable({ read() {} });
    failing.push(TAKEOUT.subarray(0, 1000));
    setImmediate(() => failing.destroy(new Error('disk went away')));
    const seen: ParseEvent[] = [];
    await assert.rejects(
      async () => {
        for await (const event of gmailMboxSource.parse(failing, { path: 'x.mbox', repairs })) seen.push(event);
      },
      (error: unknown) => error instanceof ParseError && error.byteOffset === 1000 && /could not be read further/.test(error.message),
    );
    assert.equal(seen.length, 1, 'the message completed before the failure is delivered');
  });

  test('detection: content first, then the name, localized names included', () => {
    const head = TAKEOUT.subarray(0, 64 * 1024);
    const probe = (path: string, bytes: Buffer = head) => ({ path, head: bytes, size: bytes.length });
    assert.equal(gmailMboxSource.detect(probe('export/messages.dat')), 'content');
    assert.equal(gmailMboxSource.detect(probe('x.mbox', read('crlf.mbox'))), 'content');
    assert.equal(detectSource(probe('export/messages.dat')), gmailMboxSource);
    const text = Buffer.from('hello\n');
    assert.equal(gmailMboxSource.detect(probe('Takeout/Mail/All mail Including Spam and Trash.mbox', text)), 'path');
    assert.equal(gmailMboxSource.detect(probe('Takeout/Mail/Alle E-Mails einschließlich Spam und Papierkorb.mbox', text)), 'path');
    assert.equal(gmailMboxSource.detect(probe('Takeout/Mail/Inbox.MBOX', text)), 'path');
    assert.equal(gmailMboxSource.detect(probe('notes.txt', text)), null);
    // A `From ` first line that is not followed by a header is not an mbox by content.
    assert.equal(gmailMboxSource.detect(probe('notes.txt', Buffer.from('From x@y Fri Sep 16 12:34:56 2022\nhello\n'))), null);
  });
});

describe('Gmail mbox source: header values', () => {
  test('parseMailDate: RFC 5322 and its obsolete forms, to UTC', async (ctx) => {
    const cases: Array<[string, string]> = [
      ['Fri, 16 Sep 2022 14:34:56 +0200', '2022-09-16T12:34:56.000Z'],
      ['Fri, 16 Sep 2022 14:34:56 +0200 (CEST)', '2022-09-16T12:34:56.000Z'],
      ['16 Sep 2022 14:34 -0700', '2022-09-16T21:34:00.000Z'],
      ['Tue,  4 Oct 2022 08:15:00 +0900', '2022-10-03T23:15:00.000Z'],
      ['Mon, 2 Jan 06 15:04:05 PST', '2006-01-02T23:04:05.000Z'],
      ['2 Jan 99 15:04:05 GMT', '1999-01-02T15:04:05.000Z'],
      ['Thu, 1 September 2011 10:00:00 EDT', '2011-09-01T14:00:00.000Z'],
      ['Sat, 31 Dec 2016 23:59:60 +0000', '2016-12-31T23:59:59.000Z'],
      ['2021-03-04T05:06:07Z', '2021-03-04T05:06:07.000Z'],
      ['2021-03-04T05:06:07+01:00', '2021-03-04T04:06:07.000Z'],
    ];
    for (const [value, expected] of cases) await ctx.test(value, () => assert.equal(parseMailDate(value)?.toISOString(), expected, value));
    for (const value of ['', 'sometime last week', 'Message 1', 'Fri, 30 Feb 2022 10:00:00 +0000', 'Fri, 16 Sep 2022 14:34:56 CEST', 'Fri, 16 Sep 2022 14:34:56', 'Fri, 16 Sep 2022 24:00:00 +0000']) {
      await ctx.test(`not a date: ${JSON.stringify(value)}`, () => assert.equal(parseMailDate(value), null, value));
    }
  });

  test('parseLabels, firstId, displayAddresses', () => {
    assert.deepEqual(parseLabels('Inbox,"Work, 2021", Opened ,"say \\"hi\\"",,=?UTF-8?B?w4l0w6k=?='), ['Inbox', 'Work, 2021', 'Opened', 'say "hi"', 'Été']);
    assert.deepEqual(parseLabels(''), []);
    assert.equal(firstId(' <a@b> <c@d>'), 'a@b');
    assert.equal(firstId('bare@id'), 'bare@id');
    assert.equal(firstId('<>'), null);
    assert.equal(firstId(undefined), null);
    assert.deepEqual(
      displayAddresses([
        { name: 'Doe, J', address: 'j@x.org' },
        { name: '', address: 'k@x.org' },
        { name: 'undisclosed-recipients', group: [] },
        { name: 'Team', group: [{ name: 'A', address: 'a@x.org' }] },
      ]),
      ['Doe, J <j@x.org>', 'k@x.org', 'A <a@x.org>'],
    );
  });

  test('isKnownCharset: TextDecoder labels and postal-mime aliases are known, others not', async (ctx) => {
    for (const label of ['UTF-8', 'iso-8859-1', 'Shift_JIS', 'windows-1252', 'iso-2022-jp', 'gb2312', 'cp932', 'x-sjis', 'ks_c_5601-1987']) {
      await ctx.test(label, () => assert.ok(isKnownCharset(label), label));
    }
    for (const label of ['x-unknown-8bit', 'cp437', 'utf-7', 'bogus?label']) await ctx.test(label, () => assert.ok(!isKnownCharset(label), label));
  });
});

describe('Gmail mbox import', () => {
  let t: TestLake;
  let dir: string;
  before(async () => {
    t = await openTestLake();
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-mbox-'));
  });
  after(async () => {
    await t.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('takeout.mbox into user_data.messages; NUL removed; importing again adds nothing (P4, P6, P7)', async () => {
    const user = await createUser(t.lake, 'mbox');
    const file = path.join(dir, 'All mail Including Spam and Trash.mbox');
    await writeFile(file, TAKEOUT);
    const first = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 4 });
    const report = first.files[0]!;
    assert.equal(report.format, 'google.gmail.mbox');
    assert.equal(report.status, 'done');
    assert.equal(report.records, 9);
    assert.deepEqual(report.quarantined, { invalid: 1, malformed: 1 });
    assert.deepEqual(report.repairs, { invalidUtf8: 0, nulCharacters: 1 });

    const rows = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ message_id: string | null; subject: string | null; body: string | null; labels: string[]; attachments: unknown[] }>(
        'SELECT message_id, subject, body, labels, attachments FROM user_data.messages ORDER BY sent_at',
      ),
    );
    assert.equal(rows.rows.length, 9);
    const nul = rows.rows.find((row) => row.message_id === 'nul-6@example.com');
    assert.equal(nul?.body, 'beforeafter\n');
    const takeout = rows.rows.find((row) => row.message_id === 'CAM1=abc123@mail.gmail.com');
    assert.deepEqual(takeout?.labels, ['Inbox', 'Important', 'Work, 2021', 'Été', 'Opened']);
    assert.equal(rows.rows.find((row) => row.message_id === 'jp-3@example.jp')?.attachments.length, 2);

    const again = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 4 });
    assert.equal(again.files[0]?.records, 0);
    assert.equal(again.files[0]?.duplicates, 9);
  });
});

// Issue 13 defect 2: Takeout writes some separators (after chats, after a body without a final
// newline) with no empty line before them. no-blank-line.mbox: six messages, five of them after
// a non-empty line, and body lines starting `From ` that are not separators.
describe('mbox separators without an empty line before them (no-blank-line.mbox)', () => {
  const NO_BLANK = read('no-blank-line.mbox');
  const toCrlf = (bytes: Buffer): Buffer => Buffer.from(bytes.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
  /** The six separator lines, found by their exact text, independently of the splitter. */
  const SEPARATOR_PREFIXES = ['From 1545668983435175430@xxx', 'From 1545668983435175434@xxx', 'From 1545668983435175435@xxx', 'From 1545668983435175436@xxx', 'From sender@example.com ', 'From 1545668983435175437@xxx'];

  test('the exact separator shape: Takeout and classic; anything else is not', () => {
    assert.ok(isExactSeparatorLine('From 1545668983435175434@xxx Fri Sep 16 10:14:32 +0000 2022'));
    assert.ok(isExactSeparatorLine('From sender@example.com Fri Sep 16 10:14:32 2022'));
    assert.ok(isExactSeparatorLine('From MAILER-DAEMON Thu Jan  1 00:00:00 2015'));
    assert.ok(!isExactSeparatorLine('From here on, we meet at 10:30 every day.'));
    assert.ok(!isExactSeparatorLine('From here@example.org Sat Sep 17 10:00:00 2022 wrote this:'));
    assert.ok(!isExactSeparatorLine('From carol@example.org wrote this on Sat Sep 17 08:30:00 2022:'));
    assert.ok(!isExactSeparatorLine('From x@y Mon Feb 30 10:00:00 +0000 2015')); // no such day
    assert.ok(!isExactSeparatorLine('From x@y Fri Sep 16 10:14 +0000 2022'));
    assert.ok(!isExactSeparatorLine('From: alice@example.org'));
  });

  test('six messages at the six separator lines, LF and CRLF, in any chunk size', async () => {
    for (const [name, bytes] of [['LF', NO_BLANK], ['CRLF', toCrlf(NO_BLANK)]] as const) {
      const expected = lineStarts(bytes, SEPARATOR_PREFIXES);
      assert.equal(expected.length, 6);
      const whole = await split(bytes, bytes.length);
      assert.deepEqual(whole.map((event) => event.kind), Array(6).fill('message'), name);
      assert.deepEqual(messagesOf(whole).map(({ offset, line }) => ({ offset, line })), expected, name);
      for (const size of [1, 7, 64 * 1024]) assert.deepEqual(await split(bytes, size), whole, `${name} in ${size}-byte chunks`);
    }
  });

  test('a message ends at the next separator with its last line; From lines of other shapes stay body, >From unquoted', async () => {
    const messages = messagesOf(await split(NO_BLANK));
    assert.ok(messages[1]!.raw.toString().endsWith(': are you coming?</span></span></div>\n'));
    assert.ok(messages[2]!.raw.toString().endsWith('\n\nyes, on my way\n'));
    assert.equal(
      messages[3]!.raw.toString().split('\n\n')[1],
      'The plan:\nFrom here on, we meet at 10:30 every day.\nFrom the minutes: quoted by the writer.\n' +
        'From carol@example.org wrote this on Sat Sep 17 08:30:00 2022:\nCarol\n',
    );
    assert.equal(messages[4]!.separator, 'From sender@example.com Sun Sep 18 07:00:00 2022');
    assert.ok(messages[5]!.raw.toString().endsWith('\n\nsee you\n'));
  });

  test('the Gmail source: six records (three chats), no rejection, LF and CRLF alike', async () => {
    for (const bytes of [NO_BLANK, toCrlf(NO_BLANK)]) {
      const run = await parse(bytes);
      assert.deepEqual(run.rejections, []);
      assert.deepEqual(
        run.records.map((record) => [record.subject, record.labels.join(','), record.sentAt.toISOString()]),
        [
          ['Lunch on Friday', 'Inbox,Opened', '2022-09-16T09:00:00.000Z'],
          ['Chat with Alice Martin', 'Chat', '2022-09-16T10:14:32.000Z'],
          ['Chat with Alice Martin', 'Chat', '2022-09-16T10:15:01.000Z'],
          ['The plan', 'Inbox', '2022-09-17T08:30:00.000Z'],
          ['Classic separator', '', '2022-09-18T07:00:00.000Z'],
          ['Chat with Dave', 'Chat', '2022-09-19T12:00:00.000Z'],
        ],
      );
      assert.equal(run.records[2]!.body, 'yes, on my way\n');
      assert.ok(run.records[3]!.body?.includes('\nFrom here on, we meet at 10:30 every day.\nFrom the minutes: quoted by the writer.\n'));
    }
  });
});
