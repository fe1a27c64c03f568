// iCalendar recurrence rules (RFC 5545 §3.3.10, RRULE) expanded in wall-clock time: every FREQ
// (SECONDLY … YEARLY), INTERVAL, COUNT, BYSECOND, BYMINUTE, BYHOUR, BYDAY (with ordinals, in the
// month or the year), BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS and WKST. UNTIL is read
// here but compared by the caller, which knows the zone the wall times are in.
//
// Hand-written, after measuring the libraries (bench/parse-calendar.ts, and the RFC's examples in
// test/sources-contacts-calendar.test.ts): ical.js 2.2.1 reads `BYDAY=20MO` as every Monday
// (a one-digit ordinal pattern), drops BYWEEKNO, fails most YEARLY combinations outside a fixed
// table, and never returns (the CPU and memory grow until the process dies) on valid rules such as
// `FREQ=DAILY;BYMONTH=11;BYMONTHDAY=-3,-2`; rrule 2.8.1 repeats BYSETPOS occurrences and also hangs
// on some. An importer reads whatever a file holds, so it needs an expansion that ends.
//
// The algorithm is the RFC's own: each period of the frequency (a year, month, week, day, hour …),
// every INTERVAL-th from DTSTART's, holds the set of date-times its BY… parts expand to and limit
// to (the table in §3.3.10), parts absent taken from DTSTART; BYSETPOS picks from that set. DTSTART
// is always the first occurrence and counts toward COUNT, even when the rule would not produce it.
// Dates that do not exist (a 30th of February) are skipped. Ambiguities read as python-dateutil
// does: BYMONTHDAY in a YEARLY rule without BYMONTH applies to every month; BYWEEKNO without
// BYDAY takes every day of the week; a day's week number is that of the (WKST-based, ISO-like)
// week it falls in, even when that week belongs to the previous or next year. Unlike dateutil,
// a BYDAY list mixing plain days and ordinals (`TU,-1WE`) is their union, as the RFC says.
//
// Ending: expansion stops at the caller's wall-time limit, at COUNT, or after WORK_BUDGET
// candidates examined (so a rule that never matches, or matches rarely, costs bounded time).

export type Frequency = 'SECONDLY' | 'MINUTELY' | 'HOURLY' | 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';
const FREQUENCIES: readonly Frequency[] = ['SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'];
export const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'] as const;
/** One BYDAY part: a weekday, optionally with its ordinal (`-1FR`, `20MO`). */
const BYDAY_PART = /^([+-]?\d{1,2})?(SU|MO|TU|WE|TH|FR|SA)$/;
/** Candidates examined per series before giving up: bounds the time one series can take. */
export const WORK_BUDGET = 2_000_000;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface WeekdayRule {
  /** 0 for every such weekday in the period, else the nth (negative from the end). */
  n: number;
  /** 0 = Sunday … 6 = Saturday. */
  day: number;
}

export interface RecurrenceRule {
  freq: Frequency;
  interval: number;
  count: number | null;
  /** The UNTIL value as written; the caller reads it in the start's zone. */
  until: string | null;
  bySecond: number[] | null;
  byMinute: number[] | null;
  byHour: number[] | null;
  byDay: WeekdayRule[] | null;
  byMonthDay: number[] | null;
  byYearDay: number[] | null;
  byWeekNo: number[] | null;
  byMonth: number[] | null;
  bySetPos: number[] | null;
  /** Week start, 0 = Sunday … 6 = Saturday (Monday when absent). */
  wkst: number;
  /** Parts RFC 5545 does not define (X-…, RFC 7529's RSCALE and SKIP): not read. */
  unknown: string[];
}

export class RuleError extends Error {}

const LISTS = {
  BYSECOND: [0, 60, false],
  BYMINUTE: [0, 59, false],
  BYHOUR: [0, 23, false],
  BYMONTHDAY: [1, 31, true],
  BYYEARDAY: [1, 366, true],
  BYWEEKNO: [1, 53, true],
  BYMONTH: [1, 12, false],
  BYSETPOS: [1, 366, true],
} as const;

/** Reads an RRULE value (`FREQ=WEEKLY;BYDAY=MO,WE`); throws RuleError naming the bad part. */
export function parseRecurrenceRule(text: string): RecurrenceRule {
  const parts = new Map<string, string>();
  for (const part of text.trim().split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim().toUpperCase(), part.slice(eq + 1).trim().toUpperCase());
  }
  const freq = parts.get('FREQ');
  if (!freq || !(FREQUENCIES as readonly string[]).includes(freq)) throw new RuleError(`RRULE FREQ ${freq ?? 'missing'} is not a frequency`);
  const interval = Number(parts.get('INTERVAL') ?? '1');
  if (!Number.isInteger(interval) || interval < 1) throw new RuleError(`RRULE INTERVAL ${parts.get('INTERVAL')} is not a whole number >= 1`);
  const count = parts.get('COUNT');
  if (count !== undefined && !/^\d+$/.test(count)) throw new RuleError(`RRULE COUNT ${count} is not a whole number`);
  const list = (name: keyof typeof LISTS): number[] | null => {
    const value = parts.get(name);
    if (value === undefined) return null;
    const [min, max, signed] = LISTS[name];
    return value.split(',').map((item) => {
      const n = Number(item);
      if (!/^[+-]?\d+$/.test(item) || (!signed && /^[+-]/.test(item) && n !== 0) || Math.abs(n) < min || Math.abs(n) > max || (signed && n === 0)) {
        throw new RuleError(`RRULE ${name} ${item} is not ${signed ? `±${min}…${max}` : `${min}…${max}`}`);
      }
      return n;
    });
  };
  const byDay = parts.get('BYDAY')?.split(',').map((item) => {
    const match = BYDAY_PART.exec(item);
    if (!match) throw new RuleError(`RRULE BYDAY ${item} is not a weekday`);
    const n = match[1] ? Number(match[1]) : 0;
    if (match[1] && (n === 0 || Math.abs(n) > 53)) throw new RuleError(`RRULE BYDAY ${item}: the ordinal is not ±1…53`);
    return { n, day: WEEKDAYS.indexOf(match[2] as (typeof WEEKDAYS)[number]) };
  }) ?? null;
  const wkstText = parts.get('WKST') ?? 'MO';
  const wkst = WEEKDAYS.indexOf(wkstText as (typeof WEEKDAYS)[number]);
  if (wkst === -1) throw new RuleError(`RRULE WKST ${wkstText} is not a weekday`);
  const rule: RecurrenceRule = {
    freq: freq as Frequency,
    interval,
    count: count === undefined ? null : Number(count),
    until: parts.get('UNTIL') ?? null,
    bySecond: list('BYSECOND'),
    byMinute: list('BYMINUTE'),
    byHour: list('BYHOUR'),
    byDay,
    byMonthDay: list('BYMONTHDAY'),
    byYearDay: list('BYYEARDAY'),
    byWeekNo: list('BYWEEKNO'),
    byMonth: list('BYMONTH'),
    bySetPos: list('BYSETPOS'),
    wkst,
    unknown: [...parts.keys()].filter((k) => !['FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYDAY', 'WKST', ...Object.keys(LISTS)].includes(k)),
  };
  // The combinations §3.3.10 forbids: a reader cannot know what such a rule meant.
  if (rule.byWeekNo && freq !== 'YEARLY') throw new RuleError(`RRULE BYWEEKNO is only for FREQ=YEARLY, not ${freq}`);
  if (rule.byYearDay && ['DAILY', 'WEEKLY', 'MONTHLY'].includes(freq)) throw new RuleError(`RRULE BYYEARDAY is not allowed with FREQ=${freq}`);
  if (rule.byMonthDay && freq === 'WEEKLY') throw new RuleError('RRULE BYMONTHDAY is not allowed with FREQ=WEEKLY');
  const ordinal = byDay?.find((d) => d.n !== 0);
  if (ordinal && !(freq === 'MONTHLY' || (freq === 'YEARLY' && !rule.byWeekNo))) {
    throw new RuleError(`RRULE BYDAY with an ordinal is only for FREQ=MONTHLY or YEARLY without BYWEEKNO, not ${freq}${rule.byWeekNo ? ' with BYWEEKNO' : ''}`);
  }
  if (ordinal && freq === 'MONTHLY' && Math.abs(ordinal.n) > 5) throw new RuleError(`RRULE BYDAY ordinal ${ordinal.n} is past a month's five weeks`);
  if (rule.bySetPos && !(rule.bySecond || rule.byMinute || rule.byHour || byDay || rule.byMonthDay || rule.byYearDay || rule.byWeekNo || rule.byMonth)) {
    throw new RuleError('RRULE BYSETPOS needs another BY… part to pick from');
  }
  return rule;
}

/** Wall time as milliseconds on a UTC clock; month 1-12 (years 0-99 kept, not read as 19xx). */
export function wallMs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (y >= 100 || y < 0) return ms;
  const date = new Date(ms);
  date.setUTCFullYear(date.getUTCFullYear() - 1900);
  return date.getTime();
}

const daysInMonth = (y: number, mo: number): number => new Date(wallMs(y, mo + 1, 1) - DAY).getUTCDate();
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** The first day of week 1 of `year`: the week (from `wkst`) holding at least four of its days. */
function weekOneStart(year: number, wkst: number): number {
  const jan1 = wallMs(year, 1, 1);
  const offset = (new Date(jan1).getUTCDay() - wkst + 7) % 7;
  return offset <= 3 ? jan1 - offset * DAY : jan1 + (7 - offset) * DAY;
}

/** The day's week number and the number of weeks in the year that week belongs to. */
function weekNumber(day: number, weekOne: (year: number) => number): { week: number; weeks: number } {
  let year = new Date(day).getUTCFullYear();
  if (day < weekOne(year)) year--;
  else if (day >= weekOne(year + 1)) year++;
  const start = weekOne(year);
  return { week: Math.floor((day - start) / (7 * DAY)) + 1, weeks: Math.round((weekOne(year + 1) - start) / (7 * DAY)) };
}

/** Matches `value` (1-based) against a list that may count from the end (`-1` = `size`). */
const inList = (list: number[], value: number, size: number): boolean => list.includes(value) || list.includes(value - size - 1);

export type ExpansionEnd = 'count' | 'limit' | 'budget';

/**
 * Occurrence starts in wall time (wallMs values), in order: DTSTART first, then every occurrence
 * after it, up to COUNT, stopping once a period begins after `wallLimit` or the work budget is
 * spent. Returns why it stopped. `allDay`: DTSTART is a DATE (the rule's time parts do not apply).
 */
export function* expandRule(rule: RecurrenceRule, start: number, allDay: boolean, wallLimit: number): Generator<number, ExpansionEnd> {
  const count = rule.count ?? Infinity;
  if (count < 1) return 'count';
  yield start;
  let emitted = 1;
  if (emitted >= count) return 'count';
  const startDate = new Date(start);
  const y0 = startDate.getUTCFullYear();
  const mo0 = startDate.getUTCMonth() + 1;
  const d0 = startDate.getUTCDate();
  const startDay = start - (((start % DAY) + DAY) % DAY);
  let work = 0;
  const weekOnes = new Map<number, number>();
  const weekOne = (year: number): number => {
    let at = weekOnes.get(year);
    if (at === undefined) weekOnes.set(year, (at = weekOneStart(year, rule.wkst)));
    return at;
  };

  // Does a day pass the BY… parts that limit (or, for YEARLY/MONTHLY with a filter, select) days?
  const ordinalInMonth = rule.freq === 'MONTHLY' || (rule.freq === 'YEARLY' && rule.byMonth !== null);
  const dayMatches = (day: number, checkMonthDay: boolean, checkYearDay: boolean, checkWeekNo: boolean): boolean => {
    const date = new Date(day);
    const y = date.getUTCFullYear();
    const mo = date.getUTCMonth() + 1;
    const dom = date.getUTCDate();
    if (rule.byMonth && !rule.byMonth.includes(mo)) return false;
    if (checkWeekNo && rule.byWeekNo) {
      const { week, weeks } = weekNumber(day, weekOne);
      if (!inList(rule.byWeekNo, week, weeks)) return false;
    }
    if (checkYearDay && rule.byYearDay) {
      const doy = Math.round((day - wallMs(y, 1, 1)) / DAY) + 1;
      if (!inList(rule.byYearDay, doy, isLeap(y) ? 366 : 365)) return false;
    }
    if (checkMonthDay && rule.byMonthDay && !inList(rule.byMonthDay, dom, daysInMonth(y, mo))) return false;
    if (rule.byDay) {
      const weekday = date.getUTCDay();
      const matches = rule.byDay.some(({ n, day: wanted }) => {
        if (wanted !== weekday) return false;
        if (n === 0) return true;
        // The nth such weekday of the month (or of the year), counted from either end.
        const index = ordinalInMonth ? dom : Math.round((day - wallMs(y, 1, 1)) / DAY) + 1;
        const size = ordinalInMonth ? daysInMonth(y, mo) : isLeap(y) ? 366 : 365;
        return n === Math.floor((index - 1) / 7) + 1 || n === -(Math.floor((size - index) / 7) + 1);
      });
      if (!matches) return false;
    }
    return true;
  };

  // Times of day: for DAILY and longer periods the BYHOUR/BYMINUTE/BYSECOND values (or DTSTART's).
  const startClock = new Date(start);
  const hours = rule.byHour ?? [startClock.getUTCHours()];
  const minutes = rule.byMinute ?? [startClock.getUTCMinutes()];
  const seconds = rule.bySecond ?? [startClock.getUTCSeconds()];
  const times = allDay ? [0] : cartesian(hours, minutes, seconds);

  const pickSet = (set: number[]): number[] => {
    if (!rule.bySetPos) return set;
    const picked = new Set<number>();
    for (const pos of rule.bySetPos) {
      const at = pos > 0 ? set[pos - 1] : set[set.length + pos];
      if (at !== undefined) picked.add(at);
    }
    return [...picked].sort((a, b) => a - b);
  };

  /** One period's occurrences from its days, after BYSETPOS. */
  const fromDays = (days: number[]): number[] => {
    const set: number[] = [];
    for (const day of days) for (const time of times) set.push(day + time);
    return pickSet(set);
  };

  const periodDays = (k: number): { periodStart: number; days: number[] } => {
    const freq = rule.freq;
    if (freq === 'YEARLY') {
      const y = y0 + k * rule.interval;
      const periodStart = wallMs(y, 1, 1);
      if (!rule.byWeekNo && !rule.byYearDay && !rule.byMonthDay && !rule.byDay) {
        const months = rule.byMonth ? [...rule.byMonth].sort((a, b) => a - b) : [mo0];
        return { periodStart, days: months.filter((mo) => d0 <= daysInMonth(y, mo)).map((mo) => wallMs(y, mo, d0)) };
      }
      const days: number[] = [];
      const size = isLeap(y) ? 366 : 365;
      work += size;
      for (let i = 0; i < size; i++) if (dayMatches(periodStart + i * DAY, true, true, true)) days.push(periodStart + i * DAY);
      return { periodStart, days };
    }
    if (freq === 'MONTHLY') {
      const index = y0 * 12 + (mo0 - 1) + k * rule.interval;
      const y = Math.floor(index / 12);
      const mo = index - y * 12 + 1;
      const periodStart = wallMs(y, mo, 1);
      if (rule.byMonth && !rule.byMonth.includes(mo)) return { periodStart, days: [] };
      const size = daysInMonth(y, mo);
      if (!rule.byMonthDay && !rule.byDay) return { periodStart, days: d0 <= size ? [wallMs(y, mo, d0)] : [] };
      const days: number[] = [];
      work += size;
      for (let i = 0; i < size; i++) if (dayMatches(periodStart + i * DAY, true, false, false)) days.push(periodStart + i * DAY);
      return { periodStart, days };
    }
    if (freq === 'WEEKLY') {
      const weekStart = startDay - ((new Date(startDay).getUTCDay() - rule.wkst + 7) % 7) * DAY;
      const periodStart = weekStart + k * rule.interval * 7 * DAY;
      const wanted = rule.byDay ? rule.byDay.map((d) => d.day) : [new Date(startDay).getUTCDay()];
      const days: number[] = [];
      work += 7;
      for (let i = 0; i < 7; i++) {
        const day = periodStart + i * DAY;
        const date = new Date(day);
        if (wanted.includes(date.getUTCDay()) && (!rule.byMonth || rule.byMonth.includes(date.getUTCMonth() + 1))) days.push(day);
      }
      return { periodStart, days };
    }
    // DAILY
    const periodStart = startDay + k * rule.interval * DAY;
    work += 1;
    return { periodStart, days: dayMatches(periodStart, true, false, false) ? [periodStart] : [] };
  };

  if (rule.freq === 'HOURLY' || rule.freq === 'MINUTELY' || rule.freq === 'SECONDLY') {
    // Periods shorter than a day: walk the days that pass the day filters, and in each the times
    // on the INTERVAL grid counted from DTSTART's hour/minute/second.
    const unit = rule.freq === 'HOURLY' ? HOUR : rule.freq === 'MINUTELY' ? MINUTE : SECOND;
    const all = (n: number) => Array.from({ length: n }, (_, i) => i);
    const clock = cartesian(
      rule.byHour ?? all(24),
      rule.byMinute ?? (unit <= MINUTE ? all(60) : [startClock.getUTCMinutes()]),
      rule.bySecond ?? (unit === SECOND ? all(60) : [startClock.getUTCSeconds()]),
    );
    const gridOrigin = start - (((start % unit) + unit) % unit);
    const step = unit * rule.interval;
    for (let day = startDay; day <= wallLimit; day += DAY) {
      work += 1;
      if (work > WORK_BUDGET) return 'budget';
      if (!dayMatches(day, true, true, false)) continue;
      let period: number[] = [];
      let periodStart = Number.NaN;
      const flush = function* (): Generator<number, boolean> {
        for (const at of pickSet(period)) {
          if (at <= start) continue;
          yield at;
          if (++emitted >= count) return true;
        }
        return false;
      };
      for (const time of clock) {
        work += 1;
        const at = day + time;
        const own = at - (((at % unit) + unit) % unit);
        if ((((own - gridOrigin) % step) + step) % step !== 0) continue;
        if (own !== periodStart) {
          if (yield* flush()) return 'count';
          period = [];
          periodStart = own;
        }
        period.push(at);
      }
      if (yield* flush()) return 'count';
      if (work > WORK_BUDGET) return 'budget';
    }
    return 'limit';
  }

  for (let k = 0; ; k++) {
    const { periodStart, days } = periodDays(k);
    if (periodStart > wallLimit) return 'limit';
    for (const at of fromDays(days)) {
      if (at <= start) continue;
      yield at;
      if (++emitted >= count) return 'count';
    }
    if (work > WORK_BUDGET) return 'budget';
  }
}

/** Times of day (ms since midnight), sorted, from lists of hours, minutes and seconds. */
function cartesian(hours: number[], minutes: number[], seconds: number[]): number[] {
  const out = new Set<number>();
  for (const h of hours) for (const m of minutes) for (const s of seconds) out.add(h * HOUR + m * MINUTE + s * SECOND);
  return [...out].sort((a, b) => a - b);
}
