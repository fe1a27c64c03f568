// iCalendar and vCard readers measured against ical.js (issue 14): this project's streaming readers
// (src/ingest/sources/formats/icalendar.ts, vcard.ts) and the same streaming splitter handing each
// VEVENT / VCARD's text to ical.js 2.2.1 (ICAL.parse, ICAL.Event, its RRULE iterator), the plan
// the issue proposed. No database involved. Each reader runs in a child process of its own, so
// peak RSS is that reader's.
//
//   node --import tsx bench/parse-calendar.ts [--dir /tmp/calendar-bench] [--events 20000] [--cards 5000]
//   node --import tsx bench/parse-calendar.ts --run ours|icaljs --file x.ics|x.vcf   (one measurement)
//   node --import tsx bench/parse-calendar.ts --events 60000 --generate-only          (write the files only)
//
// The synthetic .ics (written once into --dir) has single events in three zones, all-day events,
// and recurring events using every RRULE part (BYSETPOS, BYWEEKNO, BYYEARDAY, BYHOUR, BYMINUTE,
// WKST, ordinals, HOURLY/MINUTELY …), RDATEs, EXDATEs and RECURRENCE-ID overrides; the rules are
// ones ical.js returns from (some valid rules never do: see recurrence.ts). The .vcf has vCard 3.0
// cards in Google's shape and vCard 2.1 cards with quoted-printable values. Then the RFC 5545
// examples of test/fixtures/calendar/ are expanded by both (occurrences right out of those listed).
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ICAL from 'ical.js';
import type { CalendarEventRecord, ParseEvent } from '../src/ingest/records.js';
import { CAP_YEARS, icalendarSource, MAX_OCCURRENCES } from '../src/ingest/sources/formats/icalendar.js';
import { logicalLines, physicalLines, vcardSource } from '../src/ingest/sources/formats/vcard.js';
import { makeRandom } from './support/random.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/calendar-bench' },
    events: { type: 'string', default: '20000' },
    cards: { type: 'string', default: '5000' },
    run: { type: 'string' },
    file: { type: 'string' },
    'generate-only': { type: 'boolean', default: false },
  },
});

const context = (path: string) => ({ path, repairs: { invalidUtf8: 0, nulCharacters: 0 } });

// ---------------------------------------------------------------------------------------------
// The ical.js-backed readers: our line splitter, one component's text at a time to ical.js.

/** Components' texts from a stream: each top-level VEVENT/VTIMEZONE (or VCARD) as its own lines. */
async function* componentTexts(input: Readable, path: string, names: string[]): AsyncGenerator<{ name: string; text: string }> {
  let current: { name: string; lines: string[]; depth: number } | null = null;
  for await (const logical of logicalLines(physicalLines(input, path))) {
    const text = logical.bytes.toString('utf8');
    const marker = /^(BEGIN|END):([A-Za-z0-9-]+)\s*$/i.exec(text);
    const name = marker?.[2]!.toUpperCase();
    if (!current) {
      if (marker?.[1]!.toUpperCase() === 'BEGIN' && names.includes(name!)) current = { name: name!, lines: [text], depth: 1 };
      continue;
    }
    current.lines.push(text);
    if (marker) current.depth += marker[1]!.toUpperCase() === 'BEGIN' ? 1 : -1;
    if (current.depth === 0) {
      yield { name: current.name, text: current.lines.join('\r\n') };
      current = null;
    }
  }
}

async function* icaljsCalendar(input: Readable, path: string): AsyncGenerator<ParseEvent> {
  const events: string[] = [];
  for await (const { name, text } of componentTexts(input, path, ['VEVENT', 'VTIMEZONE'])) {
    if (name === 'VTIMEZONE') {
      const zone = new ICAL.Component(ICAL.parse(text));
      ICAL.TimezoneService.register(new ICAL.Timezone(zone));
    } else events.push(text);
  }
  const parsed: ICAL.Event[] = [];
  for (const text of events) {
    try {
      parsed.push(new ICAL.Event(new ICAL.Component(ICAL.parse(text))));
    } catch (error) {
      yield { kind: 'reject', rejection: { category: 'malformed', reason: String(error), line: null, byteOffset: null, excerpt: null } };
    }
  }
  // The same range as the project's reader: CAP_YEARS after the last single event.
  let lastSingle = -Infinity;
  for (const event of parsed) if (!event.isRecurring() && !event.isRecurrenceException()) lastSingle = Math.max(lastSingle, event.endDate.toJSDate().getTime());
  const cap = new Date(lastSingle);
  cap.setUTCFullYear(cap.getUTCFullYear() + CAP_YEARS);
  const overridden = new Set(parsed.filter((e) => e.isRecurrenceException()).map((e) => `${e.uid} ${e.recurrenceId.toJSDate().getTime()}`));
  for (const event of parsed) {
    const base = {
      type: 'calendar_event', source: 'bench.icaljs', uid: event.uid, summary: event.summary ?? null, description: event.description ?? null,
      location: event.location ?? null, allDay: event.startDate.isDate, timeZone: event.startDate.zone?.tzid ?? null, status: null, organizer: null,
      attendees: [], rrule: null, calendarName: null,
    };
    const durationMs = event.duration.toSeconds() * 1000;
    if (!event.isRecurring()) {
      const startsAt = event.startDate.toJSDate();
      yield { kind: 'record', record: { ...base, key: [event.uid, startsAt.toISOString()], startsAt, endsAt: new Date(startsAt.getTime() + durationMs), recurrenceId: null } as CalendarEventRecord, offset: 0 };
      continue;
    }
    const iterator = event.iterator();
    for (let n = 0, next = iterator.next(); next && n < MAX_OCCURRENCES; n++, next = iterator.next()) {
      // An RDATE period comes back as an ICAL.Period.
      const startsAt = (next instanceof ICAL.Period ? next.start : next).toJSDate();
      if (startsAt.getTime() > cap.getTime()) break;
      if (overridden.has(`${event.uid} ${startsAt.getTime()}`)) continue;
      yield { kind: 'record', record: { ...base, key: [event.uid, startsAt.toISOString()], startsAt, endsAt: new Date(startsAt.getTime() + durationMs), recurrenceId: startsAt } as CalendarEventRecord, offset: 0 };
    }
  }
}

async function* icaljsVcard(input: Readable, path: string): AsyncGenerator<ParseEvent> {
  for await (const { text } of componentTexts(input, path, ['VCARD'])) {
    let card: ICAL.Component;
    try {
      card = new ICAL.Component(ICAL.parse(text));
    } catch (error) {
      yield { kind: 'reject', rejection: { category: 'malformed', reason: String(error), line: null, byteOffset: null, excerpt: null } };
      continue;
    }
    const first = (name: string) => card.getFirstPropertyValue(name);
    const n = first('n') as string[] | null;
    const record = {
      type: 'contact', source: 'bench.icaljs', key: [], uid: (first('uid') as string | null) ?? null, fullName: (first('fn') as string | null) ?? null,
      structuredName: Array.isArray(n) ? { family: n[0], given: n[1] } : null,
      emails: card.getAllProperties('email').map((p) => String(p.getFirstValue())), phones: card.getAllProperties('tel').map((p) => String(p.getFirstValue())),
      organization: first('org') ? String(first('org')) : null, title: (first('title') as string | null) ?? null, birthday: first('bday') ? String(first('bday')) : null,
      addresses: card.getAllProperties('adr').map((p) => p.getFirstValue()), notes: (first('note') as string | null) ?? null, photoUri: null,
      categories: card.getAllProperties('categories').flatMap((p) => p.getValues().map(String)),
    };
    yield { kind: 'record', record: record as never, offset: 0 };
  }
}

// ---------------------------------------------------------------------------------------------
// One measurement (child process).

async function measure(reader: string, file: string): Promise<void> {
  const isCalendar = file.endsWith('.ics');
  const input = createReadStream(file);
  const parse =
    reader === 'ours'
      ? (isCalendar ? icalendarSource : vcardSource).parse(input, context(file))
      : reader === 'icaljs'
        ? (isCalendar ? icaljsCalendar : icaljsVcard)(input, file)
        : // Another version of the readers (say, git show HEAD~1:…/icalendar.ts saved beside it), for before/after figures.
          (await import(reader))[isCalendar ? 'parseICalendar' : 'parseVcard'](input, context(file));
  let components = 0;
  let records = 0;
  let rejected = 0;
  const series = new Set<string>();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for await (const event of parse) {
    if (event.kind !== 'record') {
      rejected++;
      continue;
    }
    records++;
    const record = event.record as CalendarEventRecord;
    if (!isCalendar) components++;
    else if (!series.has(record.uid ?? '')) {
      series.add(record.uid ?? '');
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (isCalendar) components = (readFileSync(file, 'latin1').match(/^BEGIN:VEVENT/gm) ?? []).length;
  console.log(
    JSON.stringify({ reader, file, mb: statSync(file).size / 1e6, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, components, records, rejected, peakRssMb: process.resourceUsage().maxRSS / 1024 }),
  );
}

// ---------------------------------------------------------------------------------------------
// The synthetic files.

const NEW_YORK = `BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nX-LIC-LOCATION:America/New_York\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\nDTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\nDTSTART:19701101T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE`;
const BERLIN = `BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE`;

/** Rules with every part; bounded by COUNT so a series is tens of rows. */
const RULES = [
  'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=30',
  'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU;COUNT=20',
  'FREQ=MONTHLY;BYDAY=-1FR;COUNT=24',
  'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=24',
  'FREQ=MONTHLY;BYDAY=TU,WE,TH;BYSETPOS=3;COUNT=12',
  'FREQ=MONTHLY;BYMONTHDAY=1,-1;COUNT=24',
  'FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;COUNT=10',
  'FREQ=YEARLY;INTERVAL=2;BYYEARDAY=1,100,200;COUNT=12',
  'FREQ=YEARLY;BYMONTH=6,7;BYDAY=TH;COUNT=30',
  'FREQ=YEARLY;BYDAY=20MO;COUNT=10',
  'FREQ=DAILY;BYHOUR=9,13,17;BYMINUTE=0,30;COUNT=60',
  'FREQ=HOURLY;INTERVAL=3;BYDAY=MO,TU,WE,TH,FR;COUNT=40',
  'FREQ=DAILY;INTERVAL=2;COUNT=30',
  'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=MO;COUNT=20',
  'FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15;UNTIL=20301231T235959Z',
];

function generateIcs(path: string, events: number): void {
  const next = makeRandom(14);
  const random = { int: (n: number) => Math.floor(next() * n) };
  const out: string[] = ['BEGIN:VCALENDAR', 'PRODID:-//Google Inc//Google Calendar 70.9054//EN', 'VERSION:2.0', 'X-WR-CALNAME:Bench', NEW_YORK, BERLIN];
  const pad = (n: number) => String(n).padStart(2, '0');
  for (let i = 0; i < events; i++) {
    const y = 2015 + random.int(10);
    const date = `${y}${pad(1 + random.int(12))}${pad(1 + random.int(27))}`;
    const time = `T${pad(7 + random.int(12))}${pad(random.int(4) * 15)}00`;
    const kind = random.int(10);
    const zone = ['America/New_York', 'Europe/Berlin'][random.int(2)]!;
    const lines = ['BEGIN:VEVENT', `UID:bench-${i}@google.com`, `SUMMARY:Event ${i}: ${'planning '.repeat(1 + random.int(4))}`];
    lines.push(`DESCRIPTION:${'Agenda\\n1. notes\\, more notes\\; '.repeat(1 + random.int(6))}`.slice(0, 300));
    lines.push(`LOCATION:Room ${random.int(500)}\\, Building ${random.int(20)}`, 'STATUS:CONFIRMED', 'ORGANIZER;CN=Ada:mailto:ada@example.org');
    lines.push(`ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Guest ${i}:mailto:guest${i}@example.org`);
    if (kind === 0) {
      lines.push(`DTSTART;VALUE=DATE:${date}`, `DTEND;VALUE=DATE:${date.slice(0, 6)}${pad(Number(date.slice(6)) + 1)}`);
    } else if (kind <= 5) {
      lines.push(`DTSTART;TZID=${zone}:${date}${time}`, `DTEND;TZID=${zone}:${date}T${pad(Number(time.slice(1, 3)) + 1)}${time.slice(3)}`);
    } else {
      lines.push(`DTSTART;TZID=${zone}:${date}${time}`, 'DURATION:PT45M', `RRULE:${RULES[i % RULES.length]}`);
      if (random.int(3) === 0) lines.push(`EXDATE;TZID=${zone}:${date}${time}`);
      if (random.int(4) === 0) lines.push(`RDATE;TZID=${zone}:${y + 1}0101${time}`);
    }
    lines.push('END:VEVENT');
    out.push(lines.map((l) => (l.length > 75 ? l.match(/.{1,74}/g)!.join('\r\n ') : l)).join('\r\n'));
  }
  out.push('END:VCALENDAR');
  writeFileSync(path, `${out.join('\r\n')}\r\n`);
}

function generateVcf(path: string, cards: number): void {
  const next = makeRandom(15);
  const random = { int: (n: number) => Math.floor(next() * n) };
  const out: string[] = [];
  for (let i = 0; i < cards; i++) {
    if (i % 10 === 9) {
      out.push(
        'BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\r\nFN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller\r\n' +
          `TEL;WORK;VOICE:+49 30 ${100000 + i}\r\nNOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:Stra=DFe und Caf=E9, eine lange Notiz die =\r\n=FCber zwei Zeilen geht\r\nEND:VCARD`,
      );
      continue;
    }
    out.push(
      [
        'BEGIN:VCARD', 'VERSION:3.0', `FN:Person ${i} ${'Name'.repeat(1 + random.int(3))}`, `N:Person${i};Given${i};;;`,
        `EMAIL;TYPE=INTERNET;TYPE=HOME:person${i}@example.org`, `item1.TEL:+1 555 ${1000 + random.int(9000)}`, 'item1.X-ABLabel:Lab',
        `ADR;TYPE=HOME:;;${random.int(999)} Main Street\\, Apt ${random.int(99)};Springfield;;${10000 + random.int(89999)};USA`,
        `ORG:Company ${random.int(300)};Research`, `BDAY:19${50 + random.int(50)}-0${1 + random.int(9)}-1${random.int(9)}`,
        `NOTE:Met at conference ${i}\\nLikes calendars\\, lakes`, 'CATEGORIES:myContacts,Starred', 'END:VCARD',
      ].join('\r\n'),
    );
  }
  writeFileSync(path, `${out.join('\r\n')}\r\n`);
}

// ---------------------------------------------------------------------------------------------
// The RFC 5545 examples, through both readers.

async function rfcExamples(): Promise<void> {
  const fixture = fileURLToPath(new URL('../test/fixtures/calendar/rfc5545-recurrence.ics', import.meta.url));
  const expected: { uid: string; part: string; first: string[]; count?: number }[] = JSON.parse(
    readFileSync(fileURLToPath(new URL('../test/fixtures/calendar/rfc5545-recurrence.expected.json', import.meta.url)), 'utf8'),
  );
  const ny = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  const wall = (d: Date) => {
    const p = Object.fromEntries(ny.formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}${p.month}${p.day}T${p.hour}${p.minute}${p.second}`;
  };
  const rows: string[] = [];
  const results: Record<string, Map<string, string[]>> = {};
  for (const reader of ['ours', 'icaljs']) {
    const byUid = new Map<string, string[]>();
    const input = Readable.from([readFileSync(fixture)]);
    // The fixture has no VTIMEZONE for America/New_York: ical.js needs one.
    if (reader === 'icaljs') ICAL.TimezoneService.register(new ICAL.Timezone(new ICAL.Component(ICAL.parse(NEW_YORK))));
    const events = reader === 'ours' ? icalendarSource.parse(input, context(fixture)) : icaljsCalendar(input, fixture);
    for await (const event of events) {
      if (event.kind !== 'record') continue;
      const record = event.record as CalendarEventRecord;
      byUid.set(record.uid!, [...(byUid.get(record.uid!) ?? []), wall(record.startsAt)]);
    }
    results[reader] = byUid;
  }
  const totals = { ours: 0, icaljs: 0 };
  for (const example of expected) {
    const verdict = (reader: 'ours' | 'icaljs') => {
      const got = (results[reader]!.get(example.uid) ?? []).sort().map((s) => (example.first[0]!.includes('T') ? s : s.slice(0, 8)));
      const ok = JSON.stringify(got.slice(0, example.first.length)) === JSON.stringify(example.first) && (example.count === undefined || got.length === example.count);
      if (ok) totals[reader]++;
      return ok ? 'right' : `WRONG (${got.slice(0, 3).join(' ')} …)`;
    };
    rows.push(`| ${example.uid.slice(4)} | ${example.part} | ${verdict('ours')} | ${verdict('icaljs')} |`);
  }
  console.log(`\nRFC 5545 §3.8.5.3 examples (${expected.length}): ours ${totals.ours} right, ical.js ${totals.icaljs} right`);
  console.log('| example | part | ours | ical.js |\n| --- | --- | --- | --- |');
  console.log(rows.join('\n'));
}

// ---------------------------------------------------------------------------------------------

if (values.run) {
  await measure(values.run, values.file!);
} else {
  const dir = values.dir!;
  mkdirSync(dir, { recursive: true });
  const ics = join(dir, `bench-${values.events}.ics`);
  const vcf = join(dir, `bench-${values.cards}.vcf`);
  if (!existsSync(ics)) generateIcs(ics, Number(values.events));
  if (!existsSync(vcf)) generateVcf(vcf, Number(values.cards));
  if (values['generate-only']) {
    console.log(`${ics}\n${vcf}`);
    process.exit(0);
  }
  const self = fileURLToPath(import.meta.url);
  console.log('| file | reader | MB | components | rows | rejected | components/s | rows/s | CPU s | peak RSS MB |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const readers = ['ours', 'icaljs', ...(process.env.BENCH_OTHER_READER ? [process.env.BENCH_OTHER_READER] : [])];
  for (const file of [ics, vcf]) {
    for (const reader of readers) {
      if (reader !== 'ours' && reader !== 'icaljs' && !file.endsWith('.ics')) continue;
      const child = spawnSync(process.execPath, [...process.execArgv, self, '--run', reader, '--file', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        console.log(`| ${file} | ${reader} | failed: ${child.stderr.trim().split('\n').slice(-3).join(' ')} |`);
        continue;
      }
      const r = JSON.parse(line);
      console.log(
        `| ${file.split('/').pop()} | ${reader === 'icaljs' ? 'ical.js' : reader === 'ours' ? 'ours' : 'other'} | ${r.mb.toFixed(1)} | ${r.components} | ${r.records} | ${r.rejected} | ${Math.round(r.components / r.seconds)} | ${Math.round(r.records / r.seconds)} | ${r.cpuSeconds.toFixed(2)} | ${r.peakRssMb.toFixed(0)} |`,
      );
    }
  }
  await rfcExamples();
}
