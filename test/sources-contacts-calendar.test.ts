// vCard contacts (google.contacts.vcf) over fixtures written from the published shapes: a Google
// Contacts export (vCard 3.0, CRLF, grouped properties with X-ABLabel, a folded line, escapes),
// a vCard 2.1 card with quoted-printable values, soft line breaks and CHARSET parameters, and a
// vCard 4.0 card (RFC 6350's example) with an invalid line, followed by a card never closed, a
// good card and stray text. Calendar events (google.calendar.ics) over a Google-shaped export
// with time zones (IANA, VTIMEZONE-only, floating, UTC, a DST overlap), an all-day event, a weekly
// series with EXDATE and an overridden instance, COUNT and UNTIL series, monthly BYDAY=-1FR, an
// unbounded yearly series, and malformed events; recurrence over RFC 5545's own examples (every
// RRULE part), RDATEs, and rules the RFC forbids. Then loader round trips on the test lake
// (PGlite, or the server with LAKE_TEST_DATABASE_URL).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { CalendarEventRecord, ContactRecord, ParseEvent, Rejection } from '../src/ingest/records.js';
import { icalendarSource, ICALENDAR_SOURCE_ID } from '../src/ingest/sources/formats/icalendar.js';
import { detectSource } from '../src/ingest/sources/all.js';
import { decodeQuotedPrintable, parseBirthday, splitEscaped, vcardSource, VCARD_SOURCE_ID } from '../src/ingest/sources/formats/vcard.js';
import { normalizeRecord } from '../src/ingest/transform/normalize.js';
import { validateRecord } from '../src/ingest/validate/validate.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const CONTACTS = new URL('./fixtures/contacts/', import.meta.url);
const CALENDAR = new URL('./fixtures/calendar/google-calendar.ics', import.meta.url);

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function run(name: string, chunkSize = 64 * 1024): Promise<{ events: ParseEvent[]; records: ContactRecord[]; rejections: Rejection[] }> {
  const bytes = readFileSync(new URL(name, CONTACTS));
  const events: ParseEvent[] = [];
  for await (const event of vcardSource.parse(Readable.from(chunksOf(bytes, chunkSize)), { path: name, repairs: { invalidUtf8: 0, nulCharacters: 0 } })) {
    events.push(event);
  }
  const records = events.flatMap((e) => (e.kind === 'record' ? [e.record as ContactRecord] : []));
  const rejections = events.flatMap((e) => (e.kind === 'reject' ? [e.rejection] : []));
  return { events, records, rejections };
}

const FILES = ['google-export.vcf', 'v21-quoted-printable.vcf', 'v40-and-broken.vcf'];

describe('google.contacts.vcf', () => {
  test('detection: BEGIN:VCARD content, or a .vcf name', () => {
    const head = readFileSync(new URL('google-export.vcf', CONTACTS));
    assert.equal(detectSource({ path: 'Takeout/Contacts/All Contacts/All Contacts.vcf', head, size: head.length })?.id, VCARD_SOURCE_ID);
    assert.equal(vcardSource.detect({ path: 'x.txt', head: Buffer.from('\ufeffbegin:vcard\nVERSION:3.0\n'), size: 30 }), 'content');
    assert.equal(vcardSource.detect({ path: 'Contacts/x.vcf', head: Buffer.from('garbage'), size: 7 }), 'path');
    assert.equal(vcardSource.detect({ path: 'x.json', head: Buffer.from('{}'), size: 2 }), null);
  });

  test('a Google export (3.0): names, grouped properties and labels, escapes, folded lines, birthday with and without year', async () => {
    const { records, rejections, events } = await run('google-export.vcf');
    assert.equal(records.length, 2);
    assert.deepEqual(rejections, []);
    const [ada, charles] = records;
    assert.deepEqual({ ...ada, key: undefined }, {
      type: 'contact', source: VCARD_SOURCE_ID, key: undefined, uid: null, fullName: 'Ada Lovelace',
      structuredName: { family: 'Lovelace', given: 'Ada', additional: 'Augusta', prefix: 'Lady' },
      emails: ['ada@example.org', 'countess@example.net'], phones: ['+44 20 7946 0000', '+44 20 7946 0001'],
      organization: 'Analytical Engine Ltd., Research', title: 'Mathematician', birthday: '1815-12-10',
      addresses: [{ types: ['home'], poBox: null, extended: null, street: '12 St James, Square', locality: 'London', region: null, postalCode: 'SW1Y 4JH', country: 'United Kingdom' }],
      notes: 'First line\nsecond line; with semicolon, and comma', photoUri: 'https://lh3.googleusercontent.com/contacts/photo-ada',
      categories: ['myContacts', 'Starred'],
      attributes: {
        version: '3.0', emailTypes: [['home'], []], phoneTypes: [['cell'], []], labels: { 'item1.TEL': 'Lab' },
        properties: { NICKNAME: ['Ada'], URL: ['https://example.org/ada'] },
      },
    });
    assert.equal(ada?.key[0], 'card');
    assert.equal(charles?.fullName, 'Charles Babbage with a very long name that Google folds over a second line');
    assert.equal(charles?.birthday, null);
    assert.deepEqual(charles?.attributes, { version: '3.0', birthdayWithoutYear: '--12-26' });
    assert.deepEqual(events.map((e) => (e.kind === 'record' ? e.offset : -1)), [0, 592]);
  });

  test('vCard 2.1: quoted-printable with soft line breaks, UTF-8 and ISO-8859-1 charsets, bare TYPE params', async () => {
    const { records, rejections } = await run('v21-quoted-printable.vcf');
    assert.deepEqual(rejections, []);
    assert.equal(records.length, 1);
    const [card] = records;
    assert.equal(card?.fullName, 'Jürgen Müller');
    assert.deepEqual(card?.structuredName, { family: 'Müller', given: 'Jürgen' });
    assert.equal(card?.notes, 'Straße und Café, eine lange Notiz die über zwei Zeilen geht');
    assert.equal(card?.addresses[0]?.street, 'Königstraße 1');
    assert.equal(card?.addresses[0]?.locality, 'München');
    assert.deepEqual(card?.phones, ['+49 30 123456']);
    assert.deepEqual(card?.attributes, { version: '2.1', phoneTypes: [['work', 'voice']] });
  });

  test('vCard 4.0 with an invalid line kept and noted; an unclosed card and stray text rejected with their lines; the next card carries on', async () => {
    const { records, rejections } = await run('v40-and-broken.vcf');
    assert.deepEqual(records.map((r) => r.fullName), ['Simon Perreault', 'After The Broken One']);
    const [simon, after] = records;
    assert.deepEqual(simon?.key, ['uid', 'urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1']);
    assert.deepEqual(simon?.phones, ['+1-418-656-9254;ext=102']);
    assert.deepEqual(simon?.attributes?.problems, [{ line: 9, problem: 'not a property line: this line is not a property' }]);
    assert.equal(simon?.attributes?.birthdayWithoutYear, '--02-03');
    assert.deepEqual(after?.emails, ['after@example.org']);
    assert.deepEqual(rejections, [
      { category: 'malformed', reason: 'vCard begun on line 12 has no END:VCARD before the next BEGIN:VCARD on line 15', line: 12, byteOffset: 301,
        excerpt: 'VERSION:3.0\nFN:Never Closed' },
      { category: 'malformed', reason: 'text outside any BEGIN:VCARD … END:VCARD', line: 20, byteOffset: 423, excerpt: 'stray text between cards' },
    ]);
  });

  test('1-byte and 64 KiB chunks give identical output', async () => {
    for (const name of FILES) {
      const whole = await run(name);
      const bytewise = await run(name, 1);
      assert.deepEqual(bytewise.events, whole.events, name);
    }
  });

  test('every record passes validation; the same card twice has the same key', async () => {
    for (const name of FILES) {
      for (const record of (await run(name)).records) assert.ok(validateRecord(record).ok, `${name}: ${record.fullName}`);
    }
    const again = await run('google-export.vcf');
    assert.deepEqual(again.records.map((r) => r.key), (await run('google-export.vcf')).records.map((r) => r.key));
  });

  test('helpers: quoted-printable, escaped splitting, birthdays', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('Caf=C3=A9 =ZZ =3')).toString('utf8'), 'Café =ZZ =3');
    assert.deepEqual(splitEscaped('a\\;b;c\\,d;e\\nf', ';'), ['a;b', 'c,d', 'e\nf']);
    assert.deepEqual(parseBirthday('19850412'), { day: '1985-04-12' });
    assert.deepEqual(parseBirthday('1985-04-12T00:00:00Z'), { day: '1985-04-12' });
    assert.deepEqual(parseBirthday('--04-12'), { withoutYear: '--04-12' });
    assert.deepEqual(parseBirthday('1985-02-30'), {});
    assert.deepEqual(parseBirthday('someday'), {});
  });
});

async function runCalendar(chunkSize = 64 * 1024): Promise<{ events: ParseEvent[]; records: CalendarEventRecord[]; rejections: Rejection[] }> {
  const bytes = readFileSync(CALENDAR);
  const events: ParseEvent[] = [];
  for await (const event of icalendarSource.parse(Readable.from(chunksOf(bytes, chunkSize)), { path: 'Work.ics', repairs: { invalidUtf8: 0, nulCharacters: 0 } })) {
    events.push(event);
  }
  return {
    events,
    records: events.flatMap((e) => (e.kind === 'record' ? [e.record as CalendarEventRecord] : [])),
    rejections: events.flatMap((e) => (e.kind === 'reject' ? [e.rejection] : [])),
  };
}

const starts = (records: CalendarEventRecord[], uid: string) => records.filter((r) => r.uid === uid).map((r) => r.startsAt.toISOString());

describe('google.calendar.ics', () => {
  test('detection: BEGIN:VCALENDAR content, or an .ics name', () => {
    const head = readFileSync(CALENDAR);
    assert.equal(detectSource({ path: 'Takeout/Calendar/Work.ics', head, size: head.length })?.id, ICALENDAR_SOURCE_ID);
    assert.equal(icalendarSource.detect({ path: 'x.ics', head: Buffer.from('nope'), size: 4 }), 'path');
    assert.equal(icalendarSource.detect({ path: 'x.txt', head: Buffer.from('nope'), size: 4 }), null);
  });

  test('exact counts; single events in IANA, VTIMEZONE-only, UTC and floating times; all-day; a DST overlap', async () => {
    const { records } = await runCalendar();
    assert.equal(records.length, 23);
    const one = (uid: string) => records.find((r) => r.uid === uid)!;
    assert.deepEqual(one('single-1@google.com'), {
      type: 'calendar_event', source: ICALENDAR_SOURCE_ID, key: ['single-1@google.com', '2024-01-15T08:00:00.000Z'], uid: 'single-1@google.com',
      startsAt: new Date('2024-01-15T08:00:00Z'), endsAt: new Date('2024-01-15T09:00:00Z'), recurrenceId: null, allDay: false, timeZone: 'Europe/Berlin',
      summary: 'Dentist', description: null, location: 'Hauptstraße 5, Berlin', status: 'CONFIRMED', organizer: null, attendees: [], rrule: null,
      calendarName: 'Work',
    });
    const holiday = one('holiday-1@google.com');
    assert.deepEqual([holiday.startsAt.toISOString(), holiday.endsAt?.toISOString(), holiday.allDay, holiday.timeZone], ['2024-05-01T00:00:00.000Z', '2024-05-02T00:00:00.000Z', true, null]);
    const meeting = one('meeting-1@google.com');
    assert.equal(meeting.description, 'Agenda:\n1. engines; 2. cards, punched');
    assert.equal(meeting.organizer, 'ada@example.org');
    assert.deepEqual(meeting.attendees, [{ address: 'charles@example.org', name: 'Charles Babbage', status: 'ACCEPTED', role: 'REQ-PARTICIPANT' }]);
    const floating = one('floating-1@google.com');
    assert.deepEqual([floating.startsAt.toISOString(), floating.endsAt, floating.attributes], ['2024-06-20T18:00:00.000Z', null, { floating: true }]);
    const dst = one('dst-1@google.com');
    assert.deepEqual([dst.startsAt.toISOString(), dst.endsAt?.toISOString()], ['2024-10-27T00:30:00.000Z', '2024-10-27T01:30:00.000Z']);
    const custom = one('custom-1@google.com');
    assert.deepEqual([custom.startsAt.toISOString(), custom.attributes], ['2024-02-01T09:00:00.000Z', { timeZoneApproximate: true }]);
  });

  test('series: weekly with EXDATE and an override across DST; DAILY UNTIL; MONTHLY -1FR COUNT; unbounded YEARLY cut at the range', async () => {
    const { records } = await runCalendar();
    assert.deepEqual(starts(records, 'standup@google.com'), [
      '2024-03-11T08:00:00.000Z', '2024-03-18T08:00:00.000Z', '2024-04-01T07:00:00.000Z', '2024-04-15T07:00:00.000Z', '2024-04-08T09:00:00.000Z',
    ]);
    const moved = records.find((r) => r.summary === 'Standup (moved)')!;
    assert.deepEqual(moved.key, ['standup@google.com', '2024-04-08T07:00:00.000Z']);
    assert.equal(moved.recurrenceId?.toISOString(), '2024-04-08T07:00:00.000Z');
    const first = records.find((r) => r.uid === 'standup@google.com')!;
    assert.deepEqual([first.rrule, first.endsAt?.toISOString()], ['FREQ=WEEKLY;BYDAY=MO;COUNT=6', '2024-03-11T08:15:00.000Z']);
    assert.deepEqual(starts(records, 'run@google.com'), ['01', '03', '05', '07', '09'].map((d) => `2024-07-${d}T06:00:00.000Z`));
    assert.deepEqual(starts(records, 'drinks@google.com'), ['2024-01-26T22:00:00.000Z', '2024-02-23T22:00:00.000Z', '2024-03-29T21:00:00.000Z']);
    const birthdays = records.filter((r) => r.uid === 'birthday@google.com');
    assert.deepEqual(birthdays.map((r) => r.startsAt.toISOString()), ['2020', '2021', '2022', '2023'].map((y) => `${y}-12-10T00:00:00.000Z`));
    assert.ok(birthdays.every((r) => r.allDay && r.attributes?.expansionCapped === true));
    const keys = new Set(records.map((r) => JSON.stringify(r.key)));
    assert.equal(keys.size, records.length);
  });

  test('malformed events rejected with their lines; the others kept', async () => {
    const { rejections } = await runCalendar();
    assert.deepEqual(rejections.map((r) => [r.category, r.line, r.reason]), [
      ['malformed', 120, 'VEVENT begun on line 120 has no END:VEVENT before line 124'],
      ['malformed', 111, 'VEVENT on line 111: no DTSTART'],
      ['malformed', 115, 'VEVENT on line 115: DTSTART 20241301T100000Z is not a real date'],
    ]);
  });

  test('1-byte and 64 KiB chunks give identical output; every record validates', async () => {
    const whole = await runCalendar();
    assert.deepEqual((await runCalendar(1)).events, whole.events);
    for (const record of whole.records) assert.ok(validateRecord(record).ok, record.summary ?? '');
  });
});

async function parseCalendarText(text: string): Promise<{ records: CalendarEventRecord[]; rejections: Rejection[] }> {
  const events: ParseEvent[] = [];
  for await (const event of icalendarSource.parse(Readable.from([Buffer.from(text)]), { path: 'x.ics', repairs: { invalidUtf8: 0, nulCharacters: 0 } })) events.push(event);
  return {
    records: events.flatMap((e) => (e.kind === 'record' ? [e.record as CalendarEventRecord] : [])),
    rejections: events.flatMap((e) => (e.kind === 'reject' ? [e.rejection] : [])),
  };
}

const calendar = (...events: string[][]) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', ...events.flatMap((lines) => ['BEGIN:VEVENT', ...lines, 'END:VEVENT']), 'END:VCALENDAR', ''].join('\r\n');

/** Local wall time in New York, `YYYYMMDDTHHMMSS`, as RFC 5545's examples list them. */
const newYork = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const newYorkWall = (d: Date) => {
  const p = Object.fromEntries(newYork.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}${p.month}${p.day}T${p.hour}${p.minute}${p.second}`;
};

describe('google.calendar.ics: recurrence (RFC 5545)', () => {
  // The examples of RFC 5545 §3.8.5.3 with the occurrences the RFC lists (first ones for the
  // unbounded rules, which run to the file's single event at the end of 2006). The reader before
  // this one got 19 of these 29 right: it skipped BYSETPOS, BYWEEKNO, BYYEARDAY, BYHOUR, BYMINUTE,
  // WKST=SU, read 20MO as a one-off, and rejected FREQ=MINUTELY.
  const expected: { uid: string; part: string; first: string[]; count?: number; perDay?: Record<string, number> }[] = JSON.parse(
    readFileSync(new URL('./fixtures/calendar/rfc5545-recurrence.expected.json', import.meta.url), 'utf8'),
  );
  let byUid: Map<string, CalendarEventRecord[]>;
  let rejections: Rejection[];
  before(async () => {
    const parsed = await parseCalendarText(readFileSync(new URL('./fixtures/calendar/rfc5545-recurrence.ics', import.meta.url), 'utf8'));
    rejections = parsed.rejections;
    byUid = new Map();
    for (const record of parsed.records) byUid.set(record.uid!, [...(byUid.get(record.uid!) ?? []), record]);
  });

  for (const example of expected) {
    test(`${example.uid}: ${example.part}`, () => {
      const got = (byUid.get(example.uid) ?? []).map((r) => newYorkWall(r.startsAt)).map((s) => (example.first[0]!.includes('T') ? s : s.slice(0, 8)));
      assert.deepEqual(got.slice(0, example.first.length), example.first);
      if (example.count !== undefined) assert.equal(got.length, example.count);
      for (const [day, n] of Object.entries(example.perDay ?? {})) assert.equal(got.filter((g) => g.startsWith(day)).length, n, day);
      assert.equal(byUid.get(example.uid)![0]!.attributes?.unsupported, undefined);
    });
  }

  test('RDATE: a list of dates, dates beside a rule (EXDATE still applies), periods with their own end', () => {
    assert.deepEqual(rejections, []);
    const rows = (uid: string) => byUid.get(uid)!.map((r) => `${r.startsAt.toISOString().slice(0, 16)}/${r.endsAt?.toISOString().slice(0, 16)}`);
    assert.deepEqual(byUid.get('rfc-rdate-dates')!.map((r) => r.startsAt.toISOString().slice(0, 10)), [
      '1997-01-01', '1997-01-20', '1997-02-17', '1997-04-21', '1997-05-26', '1997-07-04', '1997-09-01', '1997-10-14', '1997-11-28', '1997-11-29', '1997-12-25',
    ]);
    assert.ok(byUid.get('rfc-rdate-dates')!.every((r) => r.allDay && r.recurrenceId?.getTime() === r.startsAt.getTime()));
    assert.deepEqual(rows('rfc-rdate-with-rule'), ['1997-09-02T13:00/1997-09-02T14:00', '1997-09-04T13:00/1997-09-04T14:00', '1997-09-10T13:00/1997-09-10T14:00', '1997-09-12T13:00/1997-09-12T14:00']);
    assert.deepEqual(rows('rfc-rdate-period'), ['1996-04-03T02:00/1996-04-03T04:00', '1996-04-04T01:00/1996-04-04T04:00', '1996-04-05T01:00/1996-04-05T01:30']);
  });

  test('COUNT counts DTSTART even when the rule would not produce it; a rule that never matches ends with DTSTART alone', async () => {
    const { records, rejections } = await parseCalendarText(calendar(
      ['UID:count', 'DTSTART:20240102T090000Z', 'RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=3'], // a Tuesday
      ['UID:never', 'DTSTART:20240102T090000Z', 'RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'],
      // ical.js 2.2.1 never returns from this one (CPU and memory grow until the process dies).
      ['UID:ical-js-hangs', 'DTSTART:20141109T090000Z', 'RRULE:FREQ=DAILY;INTERVAL=2;BYMONTH=11;BYMONTHDAY=-3,-2;COUNT=4'],
    ));
    assert.deepEqual(rejections, []);
    assert.deepEqual(starts(records, 'count'), ['2024-01-02T09:00:00.000Z', '2024-01-05T09:00:00.000Z', '2024-01-12T09:00:00.000Z']);
    assert.deepEqual(starts(records, 'never'), ['2024-01-02T09:00:00.000Z']);
    assert.deepEqual(starts(records, 'ical-js-hangs'), ['2014-11-09T09:00:00.000Z', '2014-11-29T09:00:00.000Z', '2015-11-28T09:00:00.000Z', '2016-11-28T09:00:00.000Z']);
  });

  test('wall times in a DST gap resolve to one instant: one row; HOURLY runs in wall time', async () => {
    const { records } = await parseCalendarText(calendar(['UID:hourly', 'DTSTART;TZID=Europe/Berlin:20240331T000000', 'RRULE:FREQ=HOURLY;COUNT=5']));
    // 00:00 CET, 01:00 CET, 02:00 (does not exist: read as 03:00 CEST), 03:00 CEST (the same instant), 04:00 CEST.
    assert.deepEqual(starts(records, 'hourly'), ['2024-03-30T23:00:00.000Z', '2024-03-31T00:00:00.000Z', '2024-03-31T01:00:00.000Z', '2024-03-31T02:00:00.000Z']);
  });

  test('rules RFC 5545 forbids are rejected naming the part; parts it does not define are noted and skipped', async () => {
    const { records, rejections } = await parseCalendarText(calendar(
      ['UID:weekno-monthly', 'DTSTART:20240101T090000Z', 'RRULE:FREQ=MONTHLY;BYWEEKNO=2'],
      ['UID:hour-24', 'DTSTART:20240101T090000Z', 'RRULE:FREQ=DAILY;BYHOUR=24'],
      ['UID:ordinal-weekly', 'DTSTART:20240101T090000Z', 'RRULE:FREQ=WEEKLY;BYDAY=1MO'],
      ['UID:x-part', 'DTSTART:20240101T090000Z', 'RRULE:FREQ=DAILY;COUNT=2;X-NAME=1'],
    ));
    assert.deepEqual(rejections.map((r) => r.reason), [
      'VEVENT on line 3: RRULE BYWEEKNO is only for FREQ=YEARLY, not MONTHLY',
      'VEVENT on line 8: RRULE BYHOUR 24 is not 0…23',
      'VEVENT on line 13: RRULE BYDAY with an ordinal is only for FREQ=MONTHLY or YEARLY without BYWEEKNO, not WEEKLY',
    ]);
    assert.deepEqual(starts(records, 'x-part'), ['2024-01-01T09:00:00.000Z', '2024-01-02T09:00:00.000Z']);
    assert.deepEqual(records[0]?.attributes, { unsupported: ['X-NAME'] });
  });

  test('a VEVENT whose VTIMEZONE comes later in the file waits for it', async () => {
    const text = calendar(['UID:early', 'DTSTART;TZID=Office:20240201T100000', 'RRULE:FREQ=DAILY;COUNT=2'], ['UID:plain', 'DTSTART:20240101T000000Z']).replace(
      'END:VCALENDAR',
      'BEGIN:VTIMEZONE\r\nTZID:Office\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR',
    );
    const { records, rejections } = await parseCalendarText(text);
    assert.deepEqual(rejections, []);
    // The single event's row comes as soon as it is read; the series' at the end.
    assert.deepEqual(records.map((r) => [r.uid, r.startsAt.toISOString()]), [
      ['plain', '2024-01-01T00:00:00.000Z'], ['early', '2024-02-01T07:00:00.000Z'], ['early', '2024-02-02T07:00:00.000Z'],
    ]);
  });
});

describe('loader round trip', () => {
  let t: TestLake;
  let user: string;
  const FILE = '00000000-0000-4000-8000-0000000c0a7c';
  before(async () => {
    t = await openTestLake();
    user = await createUser(t.lake, 'contacts');
    await t.lake.db.asUser(user, async (tx) => {
      await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [user, FILE]);
      await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'Takeout/Contacts/All Contacts.vcf')`, [user, FILE]);
    });
  });
  after(() => t.dispose());

  test('contacts load once, with arrays, dates and JSON intact; loading again adds nothing', async () => {
    const records = [];
    for (const name of FILES) {
      for (const record of (await run(name)).records) {
        const result = validateRecord(normalizeRecord(record, { invalidUtf8: 0, nulCharacters: 0 }));
        assert.ok(result.ok);
        records.push(result.record);
      }
    }
    const target = { userId: user, jobId: FILE, fileId: FILE };
    assert.deepEqual(await loadBatch(t.lake.db, target, { records, checkpoint: { recordsDone: records.length, byteOffset: 1 } }),
      { received: 5, inserted: 5, updated: 0, duplicates: 0, insertedByTable: { 'user_data.contacts': 5 } });
    assert.deepEqual(await loadBatch(t.lake.db, target, { records, checkpoint: { recordsDone: records.length, byteOffset: 2 } }),
      { received: 5, inserted: 0, updated: 0, duplicates: 5, insertedByTable: {} });
    const rows = await t.lake.db.asUser(user, (tx) =>
      tx.query<Record<string, unknown>>(
        `SELECT full_name, structured_name, emails, phones, organization, birthday::text AS birthday, addresses, notes, categories, uid, import_file_id
           FROM user_data.contacts ORDER BY full_name`,
      ),
    );
    assert.equal(rows.rows.length, 5);
    assert.deepEqual(rows.rows[0], {
      full_name: 'Ada Lovelace', structured_name: { family: 'Lovelace', given: 'Ada', additional: 'Augusta', prefix: 'Lady' },
      emails: ['ada@example.org', 'countess@example.net'], phones: ['+44 20 7946 0000', '+44 20 7946 0001'],
      organization: 'Analytical Engine Ltd., Research', birthday: '1815-12-10',
      addresses: [{ types: ['home'], poBox: null, extended: null, street: '12 St James, Square', locality: 'London', region: null, postalCode: 'SW1Y 4JH', country: 'United Kingdom' }],
      notes: 'First line\nsecond line; with semicolon, and comma', categories: ['myContacts', 'Starred'], uid: null, import_file_id: FILE,
    });
    const simon = rows.rows.find((r) => r.full_name === 'Simon Perreault');
    assert.equal(simon?.uid, 'urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1');
  });

  test('calendar events load once per occurrence, times and JSON intact', async () => {
    const records = [];
    for (const record of (await runCalendar()).records) {
      const result = validateRecord(normalizeRecord(record, { invalidUtf8: 0, nulCharacters: 0 }));
      assert.ok(result.ok);
      records.push(result.record);
    }
    const target = { userId: user, jobId: FILE, fileId: FILE };
    assert.deepEqual(await loadBatch(t.lake.db, target, { records, checkpoint: { recordsDone: 23, byteOffset: 3 } }), { received: 23, inserted: 23, updated: 0, duplicates: 0, insertedByTable: { 'user_data.calendar_events': 23 } });
    assert.deepEqual(await loadBatch(t.lake.db, target, { records, checkpoint: { recordsDone: 23, byteOffset: 4 } }), { received: 23, inserted: 0, updated: 0, duplicates: 23, insertedByTable: {} });
    const rows = await t.lake.db.asUser(user, (tx) =>
      tx.query<Record<string, unknown>>(
        `SELECT to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS starts, all_day, time_zone, summary, attendees, calendar_name
           FROM user_data.calendar_events WHERE uid IN ('standup@google.com', 'meeting-1@google.com') ORDER BY starts_at`,
      ),
    );
    assert.deepEqual(rows.rows.map((r) => [r.starts, r.summary]), [
      ['2024-03-11T08:00', 'Standup'], ['2024-03-18T08:00', 'Standup'], ['2024-04-01T07:00', 'Standup'], ['2024-04-08T09:00', 'Standup (moved)'],
      ['2024-04-15T07:00', 'Standup'], ['2024-06-10T12:00', 'Review'],
    ]);
    assert.deepEqual(rows.rows[5], {
      starts: '2024-06-10T12:00', all_day: false, time_zone: null, summary: 'Review', calendar_name: 'Work',
      attendees: [{ address: 'charles@example.org', name: 'Charles Babbage', status: 'ACCEPTED', role: 'REQ-PARTICIPANT' }],
    });
  });
});
