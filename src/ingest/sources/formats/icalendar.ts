// Google Calendar exports (`Takeout/Calendar/<name>.ics`): iCalendar (RFC 5545) VEVENTs, one row
// per occurrence.
//
// Reading: lines are read and unfolded as a stream (the vCard reader's line layer), and
// properties parsed with their parameters. Each VEVENT is read when it closes and its lines let
// go: a single event gives its row there and then; a series (RRULE or RDATE) is kept until the end
// of the file, since its overrides and the range it is expanded over are only known then, and so
// are overrides (RECURRENCE-ID), to come out beside their series' rows in the file's order.
// Memory grows with the number of series and overrides, never with the whole file
// (descriptions above 1 MiB are cut by validation). A VEVENT naming a zone whose VTIMEZONE has not
// been seen yet waits, whole, for the end of the file. X-WR-CALNAME is read where RFC 5545 puts
// calendar properties, before the first event; rows of events before it have no calendarName.
//
// Times: `…Z` is UTC; a TZID parameter naming an IANA zone is converted with Intl
// (parse/zoned-time.ts, RFC 5545's rules at DST edges); a TZID that Intl does not know is looked
// up in the file's VTIMEZONE (its X-LIC-LOCATION when it names an IANA zone, else the fixed
// offset of its STANDARD observance, flagged in attributes.timeZoneApproximate); a local time
// without a zone (floating) is read as UTC and flagged (attributes.floating). A DATE value is an
// all-day event starting at midnight UTC of that day (allDay, no zone), ending a day later unless
// DTEND or DURATION says otherwise.
//
// Recurrence: every RRULE part of RFC 5545 (recurrence.ts: each FREQ, INTERVAL, COUNT, UNTIL,
// BYSECOND/BYMINUTE/BYHOUR, BYDAY with ordinals, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS,
// WKST), expanded in the event's wall time (a 09:00 meeting stays at 09:00 across DST), plus the
// RDATEs (dates, date-times, or periods with their own end), minus the EXDATEs; an instance
// overridden by a VEVENT with the same UID and a RECURRENCE-ID is replaced by that VEVENT's row.
// Parts RFC 5545 does not define (X-…, RSCALE, SKIP) are noted in attributes.unsupported; a rule
// RFC 5545 forbids (BYWEEKNO outside YEARLY, a BYHOUR of 24 …) rejects the event, naming the part.
// The range: a series bounded by COUNT or UNTIL is expanded to its end; an unbounded one from its
// DTSTART to the latest of every single event's end, every UNTIL, every RDATE and every DTSTART.
// Both are capped at CAP_YEARS (5) years after the last non-recurring event's end (or after the
// latest DTSTART when there is none) and at MAX_OCCURRENCES (10,000) occurrences per series (RDATEs
// are listed dates and kept whatever the range, within that count); every row of a series that
// goes on past what was stored says so in attributes.expansionCapped. DTSTART is always the first
// occurrence and counts toward COUNT, even when the rule would not produce it (RFC 5545).
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
import { isKnownTimeZone, offsetAt, wallTimeToUtc } from '../../parse/zoned-time.js';
import { expandRule, parseRecurrenceRule, RuleError, wallMs, type RecurrenceRule } from './recurrence.js';
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
/** A TZID neither Intl nor the VTIMEZONEs seen so far know. */
class UnknownZone extends Malformed {}

export async function* parseICalendar(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const stack: Component[] = [];
  /** Series and overrides, expanded at the end. */
  const kept: Parsed[] = [];
  const range = new Range();
  /** VEVENTs naming a zone whose VTIMEZONE may come later in the file. */
  const waiting: Component[] = [];
  const refused: Rejection[] = [];
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
      // Only a VTIMEZONE's observances are read later; a VCALENDAR keeps no hold on its events.
      const parent = stack[stack.length - 1];
      if (parent?.name === 'VTIMEZONE') parent.children.push(component);
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
      if (done.name === 'VEVENT') {
        try {
          const event = parseEvent(done, zones);
          range.add(event);
          if (keptToTheEnd(event)) kept.push(event);
          else yield singleRecord(event, calendarName);
        } catch (error) {
          if (error instanceof UnknownZone) waiting.push(done);
          else if (error instanceof Malformed) refused.push(rejection(done, `VEVENT on line ${done.line}: ${error.message}`));
          else throw error;
        }
      } else if (done.name === 'VTIMEZONE') {
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
  for (const component of waiting) {
    try {
      const event = parseEvent(component, zones);
      range.add(event);
      if (keptToTheEnd(event)) kept.push(event);
      else yield singleRecord(event, calendarName);
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      refused.push(rejection(component, `VEVENT on line ${component.line}: ${error.message}`));
    }
  }
  // In the file's order, as if every event had been read at its END.
  if (waiting.length > 0) {
    kept.sort((a, b) => a.line - b.line);
    refused.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  }
  for (const refusal of refused) yield { kind: 'reject', rejection: refusal };
  yield* expandSeries(kept, range, calendarName);
}

/** What the series' range and overrides need from every event, gathered as they are read. */
class Range {
  lastSingleEnd = -Infinity;
  latestStart = -Infinity;
  latestEnd = -Infinity;
  /** UID → the RECURRENCE-IDs overridden. */
  overrides = new Map<string, Set<number>>();

  add(event: Parsed): void {
    this.latestStart = Math.max(this.latestStart, event.start.ms);
    const end = event.end?.getTime() ?? event.start.ms;
    if (!isSeries(event)) {
      this.latestEnd = Math.max(this.latestEnd, end);
      if (event.recurrenceId === null) this.lastSingleEnd = Math.max(this.lastSingleEnd, end);
    } else {
      const until = event.rrule?.until;
      if (until) this.latestEnd = Math.max(this.latestEnd, parseUntil(until, event.start));
      for (const rdate of event.rdates) this.latestEnd = Math.max(this.latestEnd, rdate.start);
    }
    if (event.recurrenceId !== null && event.uid) {
      let set = this.overrides.get(event.uid);
      if (!set) this.overrides.set(event.uid, (set = new Set()));
      set.add(event.recurrenceId);
    }
  }
}

/** Series, and overrides (rows beside their series' rows, in the file's order): the rest is given at once. */
const keptToTheEnd = (event: Parsed): boolean => isSeries(event) || event.recurrenceId !== null;

function singleRecord(event: Parsed, calendarName: string | null): ParseEvent {
  const key = event.uid ? [event.uid, new Date(event.recurrenceId ?? event.start.ms).toISOString()] : ['event', event.linesHash];
  const record = { ...event.base, calendarName, key, recurrenceId: event.recurrenceId === null ? null : new Date(event.recurrenceId) };
  return { kind: 'record', record, offset: event.offset };
}

function rejection(component: Component, reason: string): Rejection {
  const excerpt = component.raw.join('\n');
  return {
    category: 'malformed',
    reason,
    line: component.line,
    byteOffset: component.offset,
    excerpt: excerpt.length > EXCERPT_CHARS ? excerpt.slice(0, EXCERPT_CHARS) : excerpt,
  };
}

function reject(component: Component, reason: string): ParseEvent {
  return { kind: 'reject', rejection: rejection(component, reason) };
}

/** A VEVENT once read: its record (without key, times or calendar name) and what expanding it needs. */
interface Parsed {
  line: number;
  offset: number;
  /** The key of an event without UID: a hash of its lines. */
  linesHash: string;
  base: CalendarEventRecord;
  uid: string | null;
  start: When;
  durationMs: number | null; // null: no DTEND/DURATION on a timed event (ends when it starts)
  end: Date | null;
  rrule: RecurrenceRule | null;
  rruleText: string | null;
  /** RDATE occurrences: a start, and an end when the RDATE is a PERIOD. */
  rdates: { start: number; end: number | null }[];
  recurrenceId: number | null;
  exdates: Set<number>;
  attributes: Record<string, unknown>;
}

function* expandSeries(kept: Parsed[], range: Range, calendarName: string | null): Generator<ParseEvent> {
  const capBase = Number.isFinite(range.lastSingleEnd) ? range.lastSingleEnd : range.latestStart;
  const capDate = new Date(capBase);
  capDate.setUTCFullYear(capDate.getUTCFullYear() + CAP_YEARS);
  const cap = capDate.getTime();
  const horizon = Math.min(Math.max(range.latestEnd, range.latestStart), cap);
  const overrides = range.overrides;

  for (const event of kept) {
    if (!isSeries(event)) {
      yield singleRecord(event, calendarName);
      continue;
    }
    const base = { ...event.base, calendarName };
    const skip = new Set([...event.exdates, ...(event.uid ? (overrides.get(event.uid) ?? []) : [])]);
    const bounded = !event.rrule || event.rrule.count !== null || event.rrule.until !== null;
    const { starts, capped } = occurrences(event, bounded ? cap : horizon);
    for (const { start, end } of starts) {
      if (skip.has(start)) continue;
      const startsAt = new Date(start);
      const endsAt = end !== null ? new Date(end) : event.durationMs === null ? null : new Date(start + event.durationMs);
      const attributes = capped ? { ...base.attributes, expansionCapped: true } : base.attributes;
      const record: CalendarEventRecord = {
        ...base,
        key: [event.uid ?? event.linesHash, startsAt.toISOString()],
        startsAt,
        endsAt,
        recurrenceId: startsAt,
        ...(attributes ? { attributes } : {}),
      };
      yield { kind: 'record', record, offset: event.offset };
    }
  }
}

function baseRecord(component: Component, event: Omit<Parsed, 'base' | 'line' | 'offset' | 'linesHash'>): CalendarEventRecord {
  const text = (name: string): string | null => {
    const prop = component.props.find((p) => p.line.name === name);
    return prop ? unescapeText(prop.value).trim() || null : null;
  };
  const organizer = component.props.find((p) => p.line.name === 'ORGANIZER');
  const attendees = component.props
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
    calendarName: null,
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
  let rrule: RecurrenceRule | null = null;
  const rdates: Parsed['rdates'] = [];
  if (rruleProp && !recurrence) {
    // Checked here, with the event, and not first when its occurrences are counted (outside the event's refusal).
    try {
      rrule = parseRecurrenceRule(rruleProp.value);
    } catch (error) {
      if (error instanceof RuleError) throw new Malformed(error.message);
      throw error;
    }
    if (rrule.until !== null && Number.isNaN(parseUntil(rrule.until, start))) throw new Malformed(`RRULE UNTIL ${rrule.until} is not a date`);
    if (rrule.unknown.length > 0) attributes.unsupported = rrule.unknown;
  }
  if (!recurrence) {
    for (const prop of component.props.filter((p) => p.line.name === 'RDATE')) {
      const isPeriod = prop.line.params.get('VALUE')?.[0]?.toUpperCase() === 'PERIOD';
      for (const value of prop.value.split(',')) {
        if (!isPeriod) {
          rdates.push({ start: parseWhen({ ...prop, value }, zones).ms, end: null });
          continue;
        }
        const [from, to] = value.split('/');
        const begin = parseWhen({ ...prop, value: from ?? '' }, zones).ms;
        const end = to && /^[+-]?P/.test(to.trim()) ? begin + parseDuration(to.trim()) : parseWhen({ ...prop, value: to ?? '' }, zones).ms;
        if (end < begin) throw new Malformed(`RDATE period ${value.trim()} ends before it starts`);
        rdates.push({ start: begin, end });
      }
    }
  }
  const exdates = new Set<number>();
  for (const prop of component.props.filter((p) => p.line.name === 'EXDATE')) {
    for (const value of prop.value.split(',')) exdates.add(parseWhen({ ...prop, value }, zones).ms);
  }
  const uid = get('UID')?.value.trim() || null;
  const problems = component.raw.filter((r) => r.startsWith('!')).map((r) => r.slice(1));
  if (problems.length > 0) attributes.problems = problems;
  const event = {
    uid,
    start,
    durationMs,
    end: durationMs === null ? null : new Date(start.ms + durationMs),
    rrule,
    rruleText: rruleProp && !recurrence ? rruleProp.value.trim() : null,
    rdates,
    recurrenceId: recurrence ? parseWhen(recurrence, zones).ms : null,
    exdates,
    attributes,
  };
  const linesHash = createHash('sha256').update(component.raw.join('\n')).digest('hex');
  return { ...event, line: component.line, offset: component.offset, linesHash, base: baseRecord(component, event) };
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

/** Per IANA zone, per wall day: the zone's offset when it holds from the day before to the day after, else null. */
const steadyOffsets = new Map<string, Map<number, number | null>>();
const MAX_CACHED_DAYS = 200_000;

/**
 * Wall time → UTC in an IANA zone. Intl is slow (a series of thousands of occurrences asks it
 * thousands of times), so a day whose offset holds from the day before to the day after uses it
 * directly; a day near a DST change goes to wallTimeToUtc and its RFC 5545 rules.
 */
function ianaResolver(zone: string): (w: Wall) => number {
  let days = steadyOffsets.get(zone);
  if (!days) steadyOffsets.set(zone, (days = new Map()));
  const cache = days;
  return (w: Wall) => {
    const wall = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
    const day = Math.floor(wall / DAY_MS);
    let offset = cache.get(day);
    if (offset === undefined) {
      const before = offsetAt((day - 1) * DAY_MS, zone);
      offset = before === offsetAt((day + 2) * DAY_MS, zone) ? before : null;
      if (cache.size >= MAX_CACHED_DAYS) cache.clear();
      cache.set(day, offset);
    }
    return offset === null ? wallTimeToUtc(w.y, w.mo, w.d, w.h, w.mi, w.s, zone) : wall - offset;
  };
}

function resolveZone(tzid: string, zones: Map<string, Component>): { resolve: (w: Wall) => number; approximate: boolean } {
  const iana = ianaResolver;
  const bare = tzid.replace(/^\/+/, '');
  if (isKnownTimeZone(bare)) return { resolve: iana(bare), approximate: false };
  const vtimezone = zones.get(tzid);
  const location = vtimezone?.props.find((p) => p.line.name === 'X-LIC-LOCATION')?.value.trim();
  if (location && isKnownTimeZone(location)) return { resolve: iana(location), approximate: false };
  const observance = vtimezone?.children.find((c) => c.name === 'STANDARD') ?? vtimezone?.children[0];
  const offset = observance?.props.find((p) => p.line.name === 'TZOFFSETTO')?.value.trim();
  const parts = offset ? /^([+-])(\d{2})(\d{2})$/.exec(offset) : null;
  if (!parts) throw new UnknownZone(`time zone ${JSON.stringify(tzid)} is neither an IANA name nor described by a VTIMEZONE`);
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

const isSeries = (event: Parsed): boolean => event.rrule !== null || event.rdates.length > 0;

interface Occurrence {
  start: number;
  /** Its own end (an RDATE period), else null: the event's duration applies. */
  end: number | null;
}

/** The series' occurrences (UTC ms), in order, up to `limit` for the rule; every RDATE. */
function occurrences(event: Parsed, limit: number): { starts: Occurrence[]; capped: boolean } {
  const found = new Map<number, Occurrence>();
  let capped = false;
  const rule = event.rrule;
  if (rule) {
    const until = rule.until !== null ? parseUntil(rule.until, event.start) : Infinity;
    const w = event.start.wall;
    // Wall times differ from UTC by less than a day: two days of slack, then compared in UTC.
    const expansion = expandRule(rule, wallMs(w.y, w.mo, w.d, w.h, w.mi, w.s), event.start.allDay, limit + 2 * DAY_MS);
    let previous = -Infinity;
    let step = expansion.next();
    for (; !step.done; step = expansion.next()) {
      const date = new Date(step.value);
      const ms = event.start.resolve({ y: date.getUTCFullYear(), mo: date.getUTCMonth() + 1, d: date.getUTCDate(), h: date.getUTCHours(), mi: date.getUTCMinutes(), s: date.getUTCSeconds() });
      if (ms > until) break;
      if (ms > limit || found.size >= MAX_OCCURRENCES) {
        capped = true;
        break;
      }
      // Two wall times in a DST gap can resolve to the same instant: one occurrence.
      if (ms <= previous) continue;
      previous = ms;
      found.set(ms, { start: ms, end: null });
    }
    // Stopped at the range (and UNTIL lies past it), or out of work: the series goes on.
    if (step.done && (step.value === 'budget' || (step.value === 'limit' && until > limit))) capped = true;
  } else {
    found.set(event.start.ms, { start: event.start.ms, end: null });
  }
  for (const rdate of event.rdates) {
    if (found.size >= MAX_OCCURRENCES && !found.has(rdate.start)) {
      capped = true;
      continue;
    }
    found.set(rdate.start, rdate);
  }
  return { starts: [...found.values()].sort((a, b) => a.start - b.start), capped };
}
