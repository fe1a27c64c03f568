// Google Calendar exports (`Takeout/Calendar/<name>.ics`): iCalendar (RFC 5545) VEVENTs, one row
// per occurrence.
//
// Reading: lines are read and unfolded as a stream (the vCard reader's line layer), and
// properties parsed with their parameters. Events are gathered until the end of the file, since
// a series' overrides (RECURRENCE-ID) and the range that series are expanded over are only known
// then; memory grows with the number of events, not with the file's bytes (descriptions above
// 1 MiB are cut by validation).
//
// Times: `…Z` is UTC; a TZID parameter naming an IANA zone is converted with Intl
// (parse/zoned-time.ts, RFC 5545's rules at DST edges); a TZID that Intl does not know is looked
// up in the file's VTIMEZONE (its X-LIC-LOCATION when it names an IANA zone, else the fixed
// offset of its STANDARD observance, flagged in attributes.timeZoneApproximate); a local time
// without a zone (floating) is read as UTC and flagged (attributes.floating). A DATE value is an
// all-day event starting at midnight UTC of that day (allDay, no zone), ending a day later unless
// DTEND or DURATION says otherwise.
//
// Recurrence: RRULE with FREQ DAILY/WEEKLY/MONTHLY/YEARLY, INTERVAL, COUNT, UNTIL, BYDAY (with
// ordinals, `-1SU`, in MONTHLY and YEARLY), BYMONTHDAY (negative too) and BYMONTH, expanded in
// the event's wall time (a 09:00 meeting stays at 09:00 across DST) minus EXDATEs; an instance
// overridden by a VEVENT with the same UID and a RECURRENCE-ID is replaced by that VEVENT's row.
// Other BY… parts, RDATE and WKST other than MO are not read (noted in attributes.unsupported).
// The range: a series bounded by COUNT or UNTIL is expanded to its end; an unbounded one from its
// DTSTART to the latest of every single event's end, every UNTIL and every DTSTART. Both are
// capped at CAP_YEARS (5) years after the last non-recurring event's end (or after the latest
// DTSTART when there is none) and at MAX_OCCURRENCES (10,000) occurrences per series; every row
// of a series that goes on past what was stored says so in attributes.expansionCapped. DTSTART
// is always an occurrence, even when the rule would not produce it (RFC 5545).
//
// Keys: (UID, occurrence start) for occurrences and single events, (UID, RECURRENCE-ID) for an
// override; an event without UID is keyed by a hash of its lines. Rejections (`malformed`, with
// the line where the VEVENT begins): no DTSTART, an unreadable DTSTART, DTEND or RRULE, a VEVENT
// never closed.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CalendarEventRecord, ParseEvent, Rejection } from '../../records.js';
import { defineSource, type ParseContext, type Source } from '../../source.js';
import { ICALENDAR } from './entries.js';
import { MAX_NESTING_DEPTH } from '../../parse/nesting.js';
import { isKnownTimeZone, wallTimeToUtc } from '../../parse/zoned-time.js';
import { logicalLines, parseContentLine, physicalLines, unescapeText, type ContentLine } from './vcard.js';

export const ICALENDAR_SOURCE_ID = ICALENDAR.id;
export const MAX_OCCURRENCES = 10_000;
export const CAP_YEARS = 5;
const DAY_MS = 24 * 60 * 60 * 1000;
const EXCERPT_CHARS = 200;

export const icalendarSource: Source = defineSource(ICALENDAR, {
  parse: parseICalendar,
});

interface Prop {
  line: ContentLine;
  value: string;
  at: number;
}

interface Component {
  name: string;
  line: number;
  offset: number;
  props: Prop[];
  children: Component[];
  raw: string[];
}

/** Wall time fields, month 1-12. */
interface Wall {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

/** A resolved DATE or DATE-TIME value. */
interface When {
  ms: number;
  wall: Wall;
  allDay: boolean;
  zone: string | null; // what TZID named
  resolve: (wall: Wall) => number; // wall time → UTC in the same zone
  floating: boolean;
  approximate: boolean;
}

class Malformed extends Error {}

export async function* parseICalendar(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const stack: Component[] = [];
  const events: Component[] = [];
  const zones = new Map<string, Component>();
  let calendarName: string | null = null;
  /** Components open below MAX_NESTING_DEPTH: skipped, with what they hold, until they close. */
  let skippedDepth = 0;
  for await (const logical of logicalLines(physicalLines(input, context.path))) {
    const text = logical.bytes.toString('utf8');
    if (text.trim() === '') continue;
    const marker = /^(BEGIN|END):([A-Za-z0-9-]+)\s*$/.exec(text);
    if (skippedDepth > 0) {
      if (marker) skippedDepth += marker[1]!.toUpperCase() === 'BEGIN' ? 1 : -1;
      continue;
    }
    if (marker?.[1]!.toUpperCase() === 'BEGIN' && stack.length >= MAX_NESTING_DEPTH) {
      skippedDepth = 1;
      const reason = `BEGIN:${marker[2]} on line ${logical.line} nests deeper than ${MAX_NESTING_DEPTH} components; skipped up to its END`;
      yield { kind: 'reject', rejection: { category: 'too_large', reason, line: logical.line, byteOffset: logical.offset, excerpt: null } };
      continue;
    }
    if (marker?.[1]!.toUpperCase() === 'BEGIN') {
      const component: Component = { name: marker[2]!.toUpperCase(), line: logical.line, offset: logical.offset, props: [], children: [], raw: [] };
      stack[stack.length - 1]?.children.push(component);
      stack.push(component);
      continue;
    }
    if (marker) {
      const name = marker[2]!.toUpperCase();
      const index = stack.map((c) => c.name).lastIndexOf(name);
      if (index === -1) continue; // END of nothing open: ignored
      // Components left open inside the one closing were never closed.
      for (const unclosed of stack.splice(index + 1)) {
        if (unclosed.name === 'VEVENT') yield reject(unclosed, `VEVENT begun on line ${unclosed.line} has no END:VEVENT before line ${logical.line}`);
      }
      const done = stack.pop()!;
      if (done.name === 'VEVENT') events.push(done);
      else if (done.name === 'VTIMEZONE') {
        const tzid = done.props.find((p) => p.line.name === 'TZID')?.value.trim();
        if (tzid) zones.set(tzid, done);
      }
      continue;
    }
    const current = stack[stack.length - 1];
    if (!current) continue;
    const line = parseContentLine(logical.bytes);
    if (!line) {
      current.raw.push(`!${text}`);
      continue;
    }
    const prop = { line, value: line.value.toString('utf8'), at: logical.line };
    current.props.push(prop);
    current.raw.push(text);
    if (current.name === 'VCALENDAR' && line.name === 'X-WR-CALNAME') calendarName = unescapeText(prop.value).trim() || null;
  }
  for (const unclosed of stack) {
    if (unclosed.name === 'VEVENT') yield reject(unclosed, `VEVENT begun on line ${unclosed.line} has no END:VEVENT before the end of the file`);
  }
  yield* expandEvents(events, zones, calendarName);
}

function reject(component: Component, reason: string): ParseEvent {
  const excerpt = component.raw.join('\n');
  const rejection: Rejection = {
    category: 'malformed',
    reason,
    line: component.line,
    byteOffset: component.offset,
    excerpt: excerpt.length > EXCERPT_CHARS ? excerpt.slice(0, EXCERPT_CHARS) : excerpt,
  };
  return { kind: 'reject', rejection };
}

interface Parsed {
  component: Component;
  uid: string | null;
  start: When;
  durationMs: number | null; // null: no DTEND/DURATION on a timed event (ends when it starts)
  end: Date | null;
  rrule: Map<string, string> | null;
  rruleText: string | null;
  recurrenceId: number | null;
  exdates: Set<number>;
  attributes: Record<string, unknown>;
}

function* expandEvents(components: Component[], zones: Map<string, Component>, calendarName: string | null): Generator<ParseEvent> {
  const parsed: Parsed[] = [];
  for (const component of components) {
    try {
      parsed.push(parseEvent(component, zones));
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      yield reject(component, `VEVENT on line ${component.line}: ${error.message}`);
    }
  }
  // The range.
  let lastSingleEnd = -Infinity;
  let latestStart = -Infinity;
  let latestEnd = -Infinity;
  for (const event of parsed) {
    latestStart = Math.max(latestStart, event.start.ms);
    const end = event.end?.getTime() ?? event.start.ms;
    if (!event.rrule) {
      latestEnd = Math.max(latestEnd, end);
      if (event.recurrenceId === null) lastSingleEnd = Math.max(lastSingleEnd, end);
    } else {
      const until = event.rrule.get('UNTIL');
      if (until) latestEnd = Math.max(latestEnd, parseUntil(until, event.start));
    }
  }
  const capBase = Number.isFinite(lastSingleEnd) ? lastSingleEnd : latestStart;
  const capDate = new Date(capBase);
  capDate.setUTCFullYear(capDate.getUTCFullYear() + CAP_YEARS);
  const cap = capDate.getTime();
  const horizon = Math.min(Math.max(latestEnd, latestStart), cap);

  const overrides = new Map<string, Set<number>>();
  for (const event of parsed) {
    if (event.recurrenceId !== null && event.uid) {
      let set = overrides.get(event.uid);
      if (!set) overrides.set(event.uid, (set = new Set()));
      set.add(event.recurrenceId);
    }
  }

  for (const event of parsed) {
    const base = baseRecord(event, calendarName);
    if (!event.rrule) {
      const key = event.uid
        ? [event.uid, new Date(event.recurrenceId ?? event.start.ms).toISOString()]
        : ['event', createHash('sha256').update(event.component.raw.join('\n')).digest('hex')];
      yield { kind: 'record', record: { ...base, key, recurrenceId: event.recurrenceId === null ? null : new Date(event.recurrenceId) }, offset: event.component.offset };
      continue;
    }
    const skip = new Set([...event.exdates, ...(event.uid ? (overrides.get(event.uid) ?? []) : [])]);
    const { starts, capped } = occurrences(event, event.rrule.has('COUNT') || event.rrule.has('UNTIL') ? cap : horizon);
    for (const start of starts) {
      if (skip.has(start)) continue;
      const startsAt = new Date(start);
      const endsAt = event.durationMs === null ? null : new Date(start + event.durationMs);
      const attributes = capped ? { ...base.attributes, expansionCapped: true } : base.attributes;
      const record: CalendarEventRecord = {
        ...base,
        key: [event.uid ?? createHash('sha256').update(event.component.raw.join('\n')).digest('hex'), startsAt.toISOString()],
        startsAt,
        endsAt,
        recurrenceId: startsAt,
        ...(attributes ? { attributes } : {}),
      };
      yield { kind: 'record', record, offset: event.component.offset };
    }
  }
}

function baseRecord(event: Parsed, calendarName: string | null): CalendarEventRecord {
  const text = (name: string): string | null => {
    const prop = event.component.props.find((p) => p.line.name === name);
    return prop ? unescapeText(prop.value).trim() || null : null;
  };
  const organizer = event.component.props.find((p) => p.line.name === 'ORGANIZER');
  const attendees = event.component.props
    .filter((p) => p.line.name === 'ATTENDEE')
    .map((p) => ({
      address: p.value.trim().replace(/^mailto:/i, ''),
      name: p.line.params.get('CN')?.[0] ?? null,
      status: p.line.params.get('PARTSTAT')?.[0] ?? null,
      role: p.line.params.get('ROLE')?.[0] ?? null,
    }));
  const record: CalendarEventRecord = {
    type: 'calendar_event',
    source: ICALENDAR_SOURCE_ID,
    key: [],
    uid: event.uid,
    startsAt: new Date(event.start.ms),
    endsAt: event.end,
    recurrenceId: null,
    allDay: event.start.allDay,
    timeZone: event.start.zone,
    summary: text('SUMMARY'),
    description: text('DESCRIPTION'),
    location: text('LOCATION'),
    status: text('STATUS'),
    organizer: organizer ? organizer.value.trim().replace(/^mailto:/i, '') || null : null,
    attendees,
    rrule: event.rruleText,
    calendarName,
  };
  if (Object.keys(event.attributes).length > 0) record.attributes = event.attributes;
  return record;
}

function parseEvent(component: Component, zones: Map<string, Component>): Parsed {
  const attributes: Record<string, unknown> = {};
  const get = (name: string) => component.props.find((p) => p.line.name === name);
  const dtstart = get('DTSTART');
  if (!dtstart) throw new Malformed('no DTSTART');
  const start = parseWhen(dtstart, zones);
  if (start.floating) attributes.floating = true;
  if (start.approximate) attributes.timeZoneApproximate = true;
  let durationMs: number | null = null;
  const dtend = get('DTEND');
  const duration = get('DURATION');
  if (dtend) durationMs = parseWhen(dtend, zones).ms - start.ms;
  else if (duration) durationMs = parseDuration(duration.value.trim());
  else if (start.allDay) durationMs = DAY_MS;
  if (durationMs !== null && durationMs < 0) throw new Malformed(`ends before it starts`);
  const recurrence = get('RECURRENCE-ID');
  const rruleProp = get('RRULE');
  let rrule: Map<string, string> | null = null;
  if (rruleProp && !recurrence) {
    rrule = new Map();
    for (const part of rruleProp.value.trim().split(';')) {
      const [name, value] = part.split('=');
      if (name && value) rrule.set(name.toUpperCase(), value.toUpperCase());
    }
    const freq = rrule.get('FREQ');
    if (!freq || !['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'].includes(freq)) throw new Malformed(`RRULE FREQ ${freq ?? 'missing'} is not read`);
    const interval = Number(rrule.get('INTERVAL') ?? '1');
    if (!Number.isInteger(interval) || interval < 1) throw new Malformed(`RRULE INTERVAL ${rrule.get('INTERVAL')} is not a whole number >= 1`);
    const count = rrule.get('COUNT');
    if (count !== undefined && !/^\d+$/.test(count)) throw new Malformed(`RRULE COUNT ${count} is not a whole number`);
    const until = rrule.get('UNTIL');
    if (until !== undefined && Number.isNaN(parseUntil(until, start))) throw new Malformed(`RRULE UNTIL ${until} is not a date`);
    // Checked here, with the event, and not first when its occurrences are counted (outside the event's refusal).
    const badDay = rrule.get('BYDAY')?.split(',').find((d) => !BYDAY_PART.test(d));
    if (badDay !== undefined) throw new Malformed(`RRULE BYDAY ${badDay} is not a weekday`);
    const unsupported = [...rrule.keys()].filter((k) => !['FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYDAY', 'BYMONTHDAY', 'BYMONTH', 'WKST'].includes(k));
    if (rrule.get('WKST') && rrule.get('WKST') !== 'MO') unsupported.push('WKST');
    if (unsupported.length > 0) attributes.unsupported = unsupported;
  }
  if (get('RDATE')) attributes.unsupported = [...((attributes.unsupported as string[] | undefined) ?? []), 'RDATE'];
  const exdates = new Set<number>();
  for (const prop of component.props.filter((p) => p.line.name === 'EXDATE')) {
    for (const value of prop.value.split(',')) exdates.add(parseWhen({ ...prop, value }, zones).ms);
  }
  const uid = get('UID')?.value.trim() || null;
  const problems = component.raw.filter((r) => r.startsWith('!')).map((r) => r.slice(1));
  if (problems.length > 0) attributes.problems = problems;
  return {
    component,
    uid,
    start,
    durationMs,
    end: durationMs === null ? null : new Date(start.ms + durationMs),
    rrule,
    rruleText: rruleProp && !recurrence ? rruleProp.value.trim() : null,
    recurrenceId: recurrence ? parseWhen(recurrence, zones).ms : null,
    exdates,
    attributes,
  };
}

const DATE_TIME = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/;

function parseWhen(prop: Prop, zones: Map<string, Component>): When {
  const match = DATE_TIME.exec(prop.value.trim());
  if (!match) throw new Malformed(`${prop.line.name} ${JSON.stringify(prop.value.trim().slice(0, 40))} is not a date or date-time`);
  const wall: Wall = { y: Number(match[1]), mo: Number(match[2]), d: Number(match[3]), h: Number(match[4] ?? 0), mi: Number(match[5] ?? 0), s: Number(match[6] ?? 0) };
  const check = new Date(Date.UTC(wall.y, wall.mo - 1, wall.d, wall.h, wall.mi, wall.s));
  if (check.getUTCMonth() !== wall.mo - 1 || check.getUTCDate() !== wall.d || wall.h > 23 || wall.mi > 59 || wall.s > 60) {
    throw new Malformed(`${prop.line.name} ${prop.value.trim()} is not a real date`);
  }
  const utc = (w: Wall) => Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
  if (match[4] === undefined) return { ms: utc(wall), wall, allDay: true, zone: null, resolve: utc, floating: false, approximate: false };
  if (match[7] === 'Z') return { ms: utc(wall), wall, allDay: false, zone: null, resolve: utc, floating: false, approximate: false };
  const tzid = prop.line.params.get('TZID')?.[0];
  if (!tzid) return { ms: utc(wall), wall, allDay: false, zone: null, resolve: utc, floating: true, approximate: false };
  const zone = resolveZone(tzid, zones);
  return { ms: zone.resolve(wall), wall, allDay: false, zone: tzid, resolve: zone.resolve, floating: false, approximate: zone.approximate };
}

function resolveZone(tzid: string, zones: Map<string, Component>): { resolve: (w: Wall) => number; approximate: boolean } {
  const iana = (name: string) => (w: Wall) => wallTimeToUtc(w.y, w.mo, w.d, w.h, w.mi, w.s, name);
  const bare = tzid.replace(/^\/+/, '');
  if (isKnownTimeZone(bare)) return { resolve: iana(bare), approximate: false };
  const vtimezone = zones.get(tzid);
  const location = vtimezone?.props.find((p) => p.line.name === 'X-LIC-LOCATION')?.value.trim();
  if (location && isKnownTimeZone(location)) return { resolve: iana(location), approximate: false };
  const observance = vtimezone?.children.find((c) => c.name === 'STANDARD') ?? vtimezone?.children[0];
  const offset = observance?.props.find((p) => p.line.name === 'TZOFFSETTO')?.value.trim();
  const parts = offset ? /^([+-])(\d{2})(\d{2})$/.exec(offset) : null;
  if (!parts) throw new Malformed(`time zone ${JSON.stringify(tzid)} is neither an IANA name nor described by a VTIMEZONE`);
  const minutes = (parts[1] === '-' ? -1 : 1) * (Number(parts[2]) * 60 + Number(parts[3]));
  return { resolve: (w: Wall) => Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - minutes * 60_000, approximate: true };
}

function parseDuration(value: string): number {
  const match = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(value);
  if (!match || value === 'P' || value.endsWith('T')) throw new Malformed(`DURATION ${JSON.stringify(value)} is not a duration`);
  const [, sign, w, d, h, m, s] = match;
  const ms = (((Number(w ?? 0) * 7 + Number(d ?? 0)) * 24 + Number(h ?? 0)) * 60 + Number(m ?? 0)) * 60_000 + Number(s ?? 0) * 1000;
  return sign === '-' ? -ms : ms;
}

/** UNTIL as an instant: `…Z` UTC, a local date-time in the start's zone, a DATE the end of that day. */
function parseUntil(value: string, start: When): number {
  const match = DATE_TIME.exec(value);
  if (!match) return Number.NaN;
  const wall: Wall = { y: Number(match[1]), mo: Number(match[2]), d: Number(match[3]), h: Number(match[4] ?? 23), mi: Number(match[5] ?? 59), s: Number(match[6] ?? 59) };
  if (match[7] === 'Z' || match[4] === undefined) return Date.UTC(wall.y, wall.mo - 1, wall.d, wall.h, wall.mi, wall.s);
  return start.resolve(wall);
}

const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
/** One BYDAY part: a weekday, optionally with its ordinal (`-1FR`, `2MO`). */
const BYDAY_PART = /^([+-]?\d{1,2})?(SU|MO|TU|WE|TH|FR|SA)$/;

/** The series' occurrence starts (UTC ms), in order, up to `limit`. */
function occurrences(event: Parsed, limit: number): { starts: number[]; capped: boolean } {
  const rule = event.rrule!;
  const freq = rule.get('FREQ')!;
  const interval = Number(rule.get('INTERVAL') ?? '1');
  const count = rule.has('COUNT') ? Number(rule.get('COUNT')) : Infinity;
  const until = rule.has('UNTIL') ? parseUntil(rule.get('UNTIL')!, event.start) : Infinity;
  const byDay = rule.get('BYDAY')?.split(',').map((d) => {
    const m = BYDAY_PART.exec(d)!; // checked by parseEvent
    return { n: m[1] ? Number(m[1]) : 0, day: WEEKDAYS.indexOf(m[2]!) };
  });
  const byMonthDay = rule.get('BYMONTHDAY')?.split(',').map(Number);
  const byMonth = rule.get('BYMONTH')?.split(',').map(Number);
  const s = event.start.wall;
  const startDay = Date.UTC(s.y, s.mo - 1, s.d);
  const starts: number[] = [];
  let capped = false;

  const daysIn = (y: number, mo: number) => new Date(Date.UTC(y, mo, 0)).getUTCDate();
  const monthDays = (y: number, mo: number): number[] => {
    const n = daysIn(y, mo);
    let days: number[];
    if (byMonthDay) days = byMonthDay.map((d) => (d < 0 ? n + d + 1 : d)).filter((d) => d >= 1 && d <= n);
    else if (byDay) {
      days = [];
      for (const { n: nth, day } of byDay) {
        const matching: number[] = [];
        for (let d = 1; d <= n; d++) if (new Date(Date.UTC(y, mo - 1, d)).getUTCDay() === day) matching.push(d);
        if (nth === 0) days.push(...matching);
        else {
          const pick = nth > 0 ? matching[nth - 1] : matching[matching.length + nth];
          if (pick !== undefined) days.push(pick);
        }
      }
    } else days = s.d <= n ? [s.d] : [];
    if (byMonthDay && byDay) days = days.filter((d) => byDay.some((b) => b.day === new Date(Date.UTC(y, mo - 1, d)).getUTCDay()));
    return [...new Set(days)].sort((a, b) => a - b);
  };

  // Candidate days (UTC midnight ms of the wall date) per period.
  const periodDays = (k: number): number[] => {
    if (freq === 'DAILY') {
      const day = startDay + k * interval * DAY_MS;
      const date = new Date(day);
      if (byMonth && !byMonth.includes(date.getUTCMonth() + 1)) return [];
      if (byMonthDay && !byMonthDay.some((d) => (d < 0 ? daysIn(date.getUTCFullYear(), date.getUTCMonth() + 1) + d + 1 : d) === date.getUTCDate())) return [];
      if (byDay && !byDay.some((b) => b.day === date.getUTCDay())) return [];
      return [day];
    }
    if (freq === 'WEEKLY') {
      const monday = startDay - ((new Date(startDay).getUTCDay() + 6) % 7) * DAY_MS + k * interval * 7 * DAY_MS;
      const days = byDay ? byDay.map((b) => b.day) : [new Date(startDay).getUTCDay()];
      return days.map((day) => monday + ((day + 6) % 7) * DAY_MS).filter((d) => !byMonth || byMonth.includes(new Date(d).getUTCMonth() + 1)).sort((a, b) => a - b);
    }
    if (freq === 'MONTHLY') {
      const index = s.y * 12 + (s.mo - 1) + k * interval;
      const y = Math.floor(index / 12);
      const mo = (index % 12) + 1;
      if (byMonth && !byMonth.includes(mo)) return [];
      return monthDays(y, mo).map((d) => Date.UTC(y, mo - 1, d));
    }
    const y = s.y + k * interval;
    return (byMonth ?? [s.mo]).sort((a, b) => a - b).flatMap((mo) => monthDays(y, mo).map((d) => Date.UTC(y, mo - 1, d)));
  };

  const periodStart = (k: number): number => {
    if (freq === 'DAILY') return startDay + k * interval * DAY_MS;
    if (freq === 'WEEKLY') return startDay - 7 * DAY_MS + k * interval * 7 * DAY_MS;
    if (freq === 'MONTHLY') return Date.UTC(s.y, s.mo - 1 + k * interval, 1);
    return Date.UTC(s.y + k * interval, 0, 1);
  };
  const stop = Math.min(limit, until);
  let emitted = 0; // counted for COUNT, EXDATEs included (RFC 5545)
  for (let k = 0; periodStart(k) <= stop + DAY_MS; k++) {
    for (const day of periodDays(k)) {
      if (day < startDay) continue;
      const date = new Date(day);
      const ms = event.start.resolve({ y: date.getUTCFullYear(), mo: date.getUTCMonth() + 1, d: date.getUTCDate(), h: s.h, mi: s.mi, s: s.s });
      if (ms < event.start.ms) continue;
      if (ms > until || emitted >= count) return { starts, capped };
      if (ms > limit) return { starts, capped: true };
      if (starts.length >= MAX_OCCURRENCES) return { starts, capped: true };
      starts.push(ms);
      emitted++;
    }
    if (emitted >= count) return { starts, capped };
  }
  capped = until > limit && emitted < count;
  // The DTSTART is always the first occurrence, even when the rule would not produce it.
  if (starts[0] !== event.start.ms && emitted < count) starts.unshift(event.start.ms);
  return { starts, capped };
}

