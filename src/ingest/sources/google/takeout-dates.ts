// Dates as Google Takeout writes them outside JSON: the localized date line of MyActivity.html and
// the ISO 8601 timestamps of the YouTube CSV files.
//
// MyActivity.html writes dates in the account's display language. English (parseActivityDate):
// English month names (abbreviated, with or without a dot, "Sept", or in full) in the two English
// orders,
//   "Feb 8, 2017, 12:32:36 AM PST"   (en-US: month first, 12-hour clock)
//   "8 Feb 2017, 00:32:36 CET"       (en-GB, en-IE, en-AU, en-IN...: day first, usually 24-hour)
// with AM/PM or a 24-hour clock, seconds optional, any Unicode space (newer ICU puts U+202F
// before AM/PM), and then a zone:
//   - none: legacy exports (before about 2018) printed no zone; those times were UTC, as the
//     Takeout parsers that met them found, so they are read as UTC with `zoneStated: false`;
//   - UTC, GMT, Z, or a numeric offset: "GMT+1", "UTC-08:00", "GMT+5:30";
//   - an abbreviation from ZONE_ABBREVIATIONS, read as the fixed offset it names. Takeout prints
//     the zone of the export for every entry (a January entry can say "BST") along with that
//     zone's clock time, so the fixed offset, not the place's rules on that date, is correct.
// Other languages (parseActivityDateIn, with the data of my-activity/locales.ts): the language's
// date shapes ("22 ene 2022, 0:07:31 CET", "22 de març 2024, 21:55:41 WET", "1 avr. 2020 à
// 16:32:09 UTC", "22.01.2022, 00:07:31 MEZ", "2022/01/22 0:07:31 JST", "2022. 1. 22. 오후
// 3:07:31 KST", "2022年1月22日 下午3:07:31 CST"), its month names, 12-hour markers and zone
// abbreviations; a numeric offset or GMT/UTC in any language; no zone is UTC as in English.
// Given several candidate languages, a line is read when every language that reads it gives the
// same instant and offset; otherwise it is `unsupported`, as are other languages' month names or
// word order, and unknown or ambiguous abbreviations such as IST: guessing would shift times.
// Nothing is done with the file's modification time.

import { ACTIVITY_LOCALES, activityLocale, type ActivityLanguage, type ActivityLocale } from './my-activity/locales.js';

/** Fixed offsets in minutes east of UTC, for the abbreviations English (CLDR and Google) prints. */
export const ZONE_ABBREVIATIONS: Readonly<Record<string, number>> = {
  UTC: 0, GMT: 0, UT: 0, Z: 0, WET: 0,
  BST: 60, WEST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120, EET: 120, EEST: 180, MSK: 180,
  // North America as en-US prints it: CST is US Central here, never China or Cuba.
  PST: -480, PDT: -420, MST: -420, MDT: -360, CST: -360, CDT: -300, EST: -300, EDT: -240,
  AKST: -540, AKDT: -480, HST: -600, HDT: -540, NST: -210, NDT: -150,
  SAST: 120, EAT: 180, WAT: 60, CAT: 120,
  JST: 540, KST: 540, HKT: 480, SGT: 480, PHT: 480, WIB: 420, ICT: 420, PKT: 300,
  AWST: 480, ACST: 570, ACDT: 630, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780,
};

const MONTHS: Readonly<Record<string, number>> = {
  jan: 0, january: 0, feb: 1, february: 1, mar: 2, march: 2, apr: 3, april: 3, may: 4,
  jun: 5, june: 5, jul: 6, july: 6, aug: 7, august: 7, sep: 8, sept: 8, september: 8,
  oct: 9, october: 9, nov: 10, november: 10, dec: 11, december: 11,
};

export type ParsedDate =
  /** `micros`: microseconds past `date`'s millisecond (0-999), where the text has them. */
  | { ok: true; date: Date; utcOffsetMinutes: number; zoneStated: boolean; micros?: number }
  | { ok: false; category: 'unsupported' | 'invalid'; reason: string };

const TIME = String.raw`(\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AaPp])\.?[Mm]\.?)?`;
const ZONE = '(?: (.+))?';
const MONTH_FIRST = new RegExp(String.raw`^([A-Za-z]{3,9})\.? (\d{1,2}), (\d{4}),? ${TIME}${ZONE}$`);
const DAY_FIRST = new RegExp(String.raw`^(\d{1,2}) ([A-Za-z]{3,9})\.? (\d{4}),? ${TIME}${ZONE}$`);
const NUMERIC_ZONE = /^(?:GMT|UTC)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?$/;
const UNICODE_SPACES = /\s+/g;

/** Parses the date line of a MyActivity.html entry in English (see the module comment for what is read). */
export function parseActivityDate(line: string): ParsedDate {
  return parseEnglishDate(line.replace(UNICODE_SPACES, ' ').trim()).parsed;
}

/** An attempt in one language; `recognised` when the line is that language's (its shape and month names) whatever went wrong after. */
interface Attempt {
  parsed: ParsedDate;
  recognised: boolean;
  /** The zone text, when the line is this language's but its zone is not one read for it. */
  zoneUnread?: string;
}

function parseEnglishDate(text: string): Attempt {
  let year: string, monthName: string, day: string;
  let match = MONTH_FIRST.exec(text);
  if (match) [, monthName = '', day = '', year = ''] = match;
  else if ((match = DAY_FIRST.exec(text))) [, day = '', monthName = '', year = ''] = match;
  else return { parsed: unsupported(`date ${JSON.stringify(text)} is not in a supported format (English, month or day first)`), recognised: false };
  const [, , , , hourText = '', minuteText = '', secondText, meridiem, zoneText] = match;

  const month = MONTHS[monthName.toLowerCase()];
  if (month === undefined) {
    return { parsed: unsupported(`date ${JSON.stringify(text)}: month ${JSON.stringify(monthName)} is not an English month name`), recognised: false };
  }

  let hour = Number(hourText);
  if (meridiem !== undefined) {
    if (hour < 1 || hour > 12) return { parsed: invalid(`date ${JSON.stringify(text)}: hour ${hour} on a 12-hour clock`), recognised: true };
    const pm = meridiem === 'P' || meridiem === 'p';
    hour = (hour % 12) + (pm ? 12 : 0);
  }
  const minute = Number(minuteText);
  const second = secondText === undefined ? 0 : Number(secondText);

  let offset = 0;
  let zoneStated = false;
  if (zoneText !== undefined) {
    const zone = parseZone(zoneText);
    if (zone === null) {
      return {
        parsed: unsupported(`date ${JSON.stringify(text)}: time zone ${JSON.stringify(zoneText)} is not a known unambiguous abbreviation or offset`),
        recognised: true,
        zoneUnread: zoneText,
      };
    }
    offset = zone;
    zoneStated = true;
  }
  const date = utcDate(Number(year), month, Number(day), hour, minute, second, 0, offset);
  if (date === null) return { parsed: invalid(`date ${JSON.stringify(text)} does not exist`), recognised: true };
  return { parsed: { ok: true, date, utcOffsetMinutes: offset, zoneStated }, recognised: true };
}

export type DateFailure = Extract<ParsedDate, { ok: false }>;
/** A date line read, with the candidate languages that read it (all to the same instant). */
export type LocalizedDate = Extract<ParsedDate, { ok: true }> & { languages: ActivityLanguage[] };

/**
 * Parses a MyActivity.html date line written in one of `languages` (the page's or entry's
 * candidates; see the module comment). Read when every candidate language that reads the line
 * agrees on the instant and offset; `unsupported` when none reads it or two disagree, `invalid`
 * when the line is a language's but names a date or time that does not exist.
 */
export function parseActivityDateIn(line: string, languages: readonly ActivityLanguage[]): LocalizedDate | DateFailure {
  const text = line.replace(UNICODE_SPACES, ' ').trim();
  const readings: Array<{ language: ActivityLanguage; parsed: Extract<ParsedDate, { ok: true }> }> = [];
  let failure: DateFailure | null = null;
  const zonesUnread: Array<{ language: ActivityLanguage; zone: string }> = [];
  for (const language of languages) {
    const attempt = language === 'en' ? parseEnglishDate(text) : parseLocaleDate(text, activityLocale(language));
    if (attempt.parsed.ok) readings.push({ language, parsed: attempt.parsed });
    else if (attempt.recognised && failure === null) failure = attempt.parsed;
    if (attempt.zoneUnread !== undefined) zonesUnread.push({ language, zone: attempt.zoneUnread });
  }
  const [first] = readings;
  if (first === undefined) {
    return failure ?? unsupported(`date ${JSON.stringify(text)} is not in a format read for ${languages.join(', ')}`);
  }
  // A line two candidate languages both write, with an abbreviation one of them reads and the
  // other does not, and that means different offsets in different languages (CST): which one?
  const contested = zonesUnread.find((unread) => AMBIGUOUS_ZONES.has(unread.zone));
  if (contested) {
    return unsupported(
      `date ${JSON.stringify(text)}: time zone ${JSON.stringify(contested.zone)} names different offsets in different languages, and the line could be ${first.language} or ${contested.language}`,
    );
  }
  const disagreeing = readings.find(
    (reading) => reading.parsed.date.getTime() !== first.parsed.date.getTime() || reading.parsed.utcOffsetMinutes !== first.parsed.utcOffsetMinutes,
  );
  if (disagreeing) {
    const describe = (reading: typeof first) => `${reading.parsed.date.toISOString()} (${reading.parsed.utcOffsetMinutes} min) in ${reading.language}`;
    return unsupported(`date ${JSON.stringify(text)} is ambiguous: ${describe(first)}, ${describe(disagreeing)}`);
  }
  return { ...first.parsed, languages: readings.map((reading) => reading.language) };
}

/** Abbreviations that name different offsets in different languages' tables (CST: US Central in English, China on a Chinese page). */
const AMBIGUOUS_ZONES: ReadonlySet<string> = (() => {
  const offsets = new Map<string, Set<number>>();
  for (const table of [ZONE_ABBREVIATIONS, ...ACTIVITY_LOCALES.map((locale) => locale.zones)]) {
    for (const [zone, offset] of Object.entries(table)) {
      const seen = offsets.get(zone) ?? new Set<number>();
      seen.add(offset);
      offsets.set(zone, seen);
    }
  }
  return new Set([...offsets].filter(([, seen]) => seen.size > 1).map(([zone]) => zone));
})();

interface LocalePatterns {
  patterns: RegExp[];
  months: Map<string, number>;
  meridiems: Map<string, 'am' | 'pm'>;
}

const LOCALE_PATTERNS = new Map<ActivityLanguage, LocalePatterns>();
const CJK_LANGUAGES: ReadonlySet<ActivityLanguage> = new Set(['ja', 'ko', 'zh-CN', 'zh-TW']);
/** fr-CA's medium time, "16 h 32 min 09 s". */
const FRENCH_CANADIAN_TIME = /(\d{1,2}) h (\d{2})(?: min (\d{2}) s)?/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A 12-hour marker or connector as a pattern: its spaces optional ("a. m." also reads "a.m."). */
function wordPattern(words: Iterable<string>): string {
  const sorted = [...words].sort((a, b) => b.length - a.length);
  return sorted.length === 0 ? '(?!)' : sorted.map((word) => escapeRegExp(word).replace(/ /g, ' ?')).join('|');
}

function meridiemKey(text: string): string {
  return text.toLowerCase().replace(/\s/g, '');
}

/** The compiled date patterns of a language, one per date shape (named groups d, mon|m, y, mb, h, mi, s, ma, z). */
function localePatterns(locale: ActivityLocale): LocalePatterns {
  const known = LOCALE_PATTERNS.get(locale.language);
  if (known) return known;
  const separators = escapeRegExp(locale.digitSeparators);
  const dates: string[] = [];
  for (const shape of locale.dateShapes) {
    if (shape === 'day-month-name-year') {
      dates.push(String.raw`(?<d>\d{1,2})\.? (?:de |d')?(?<mon>\p{L}+)\.?,? (?:de )?(?<y>\d{4})(?: ?г\.?)?`);
    } else if (shape === 'day-month-year-digits') {
      dates.push(String.raw`(?<d>\d{1,2})(?<sep>[${separators}])(?<m>\d{1,2})\k<sep>(?<y>\d{4})`);
    } else if (shape === 'year-month-day-digits') {
      dates.push(
        locale.digitSeparators === '.'
          ? String.raw`(?<y>\d{4})\. ?(?<m>\d{1,2})\. ?(?<d>\d{1,2})\.?`
          : String.raw`(?<y>\d{4})(?<sep>[${separators}])(?<m>\d{1,2})\k<sep>(?<d>\d{1,2})`,
      );
    } else {
      dates.push(String.raw`(?<y>\d{4}) ?[年년] ?(?<m>\d{1,2}) ?[月월] ?(?<d>\d{1,2}) ?[日일]`);
    }
  }
  const glue = CJK_LANGUAGES.has(locale.language)
    ? ',? ?'
    : locale.connectors.length > 0
      ? `(?:,? (?:${wordPattern(locale.connectors)}) |,? )`
      : ',? ';
  const meridiem = wordPattern(Object.keys(locale.meridiems));
  const separator = locale.timeDots ? '[:.]' : ':';
  const time = String.raw`(?:(?<mb>${meridiem}) ?)?(?<h>\d{1,2})${separator}(?<mi>\d{2})(?:${separator}(?<s>\d{2}))?(?: ?(?<ma>${meridiem}))?`;
  const patterns = dates.map((date) => new RegExp(`^${date}${glue}${time}(?: (?<z>\\S.*))?$`, 'iu'));
  const months = new Map<string, number>();
  locale.months.forEach((forms, month) => {
    for (const form of forms) months.set(form, month);
  });
  const meridiems = new Map(Object.entries(locale.meridiems).map(([word, half]) => [meridiemKey(word), half]));
  const compiled = { patterns, months, meridiems };
  LOCALE_PATTERNS.set(locale.language, compiled);
  return compiled;
}

function parseLocaleDate(line: string, locale: ActivityLocale): Attempt {
  const text = normalizeDateText(line, locale);
  const { patterns, months, meridiems } = localePatterns(locale);
  let groups: Record<string, string | undefined> | undefined;
  for (const pattern of patterns) {
    groups = pattern.exec(text)?.groups;
    if (groups) break;
  }
  const notRead = (): Attempt => ({ parsed: unsupported(`date ${JSON.stringify(line)} is not in a format read for ${locale.language}`), recognised: false });
  if (!groups) return notRead();
  let month: number;
  if (groups.mon !== undefined) {
    const found = months.get(groups.mon.toLocaleLowerCase(locale.language));
    if (found === undefined) return notRead();
    month = found;
  } else month = Number(groups.m) - 1;

  let hour = Number(groups.h);
  const marker = groups.mb ?? groups.ma;
  if (marker !== undefined) {
    const half = meridiems.get(meridiemKey(marker));
    if (half === undefined || hour > 12) return { parsed: invalid(`date ${JSON.stringify(line)}: hour ${hour} on a 12-hour clock`), recognised: true };
    hour = (hour % 12) + (half === 'pm' ? 12 : 0);
  }
  let offset = 0;
  let zoneStated = false;
  if (groups.z !== undefined) {
    const zone = Object.hasOwn(locale.zones, groups.z) ? (locale.zones[groups.z] as number) : parseNumericZone(groups.z);
    if (zone === null) {
      return {
        parsed: unsupported(`date ${JSON.stringify(line)}: time zone ${JSON.stringify(groups.z)} is not an abbreviation read for ${locale.language} or an offset`),
        recognised: true,
        zoneUnread: groups.z,
      };
    }
    offset = zone;
    zoneStated = true;
  }
  const date = utcDate(Number(groups.y), month, Number(groups.d), hour, Number(groups.mi), groups.s === undefined ? 0 : Number(groups.s), 0, offset);
  if (date === null) return { parsed: invalid(`date ${JSON.stringify(line)} does not exist`), recognised: true };
  return { parsed: { ok: true, date, utcOffsetMinutes: offset, zoneStated }, recognised: true };
}

function normalizeDateText(text: string, locale: ActivityLocale): string {
  let normalized = text.replace(/[\u2019\u02bc]/g, "'").replace(/\u2212/g, '-');
  if (locale.language === 'fr') {
    normalized = normalized.replace(FRENCH_CANADIAN_TIME, (_, hour: string, minute: string, second: string | undefined) =>
      second === undefined ? `${hour}:${minute}` : `${hour}:${minute}:${second}`,
    );
  }
  return normalized;
}

function parseZone(text: string): number | null {
  return Object.hasOwn(ZONE_ABBREVIATIONS, text) ? (ZONE_ABBREVIATIONS[text] as number) : parseNumericZone(text);
}

/** UTC, GMT, UT, or an offset from them ("GMT+1", "UTC-08:00", "GMT+5:30"), in any language. */
function parseNumericZone(text: string): number | null {
  if (text === 'UT' || text === 'Z') return 0;
  const match = NUMERIC_ZONE.exec(text.replace(/\u2212/g, '-'));
  if (!match) return null;
  const [, sign, hours, minutes] = match;
  if (sign === undefined) return 0;
  const magnitude = Number(hours) * 60 + Number(minutes ?? 0);
  if (magnitude > 14 * 60 || Number(minutes ?? 0) >= 60) return null;
  return sign === '-' ? -magnitude : magnitude;
}

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)? ?(Z|UTC|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * Parses an ISO 8601 timestamp with a zone, as the YouTube CSVs write it:
 * `2023-09-19T17:42:53.434647+00:00`, `2024-01-01T10:00:00Z`, and the older
 * `2021-05-01 12:00:00 UTC`. Microseconds are kept in `micros`, digits past them dropped; a timestamp without a
 * zone is refused (`invalid`) rather than assumed to be UTC.
 */
export function parseIsoTimestamp(text: string): ParsedDate {
  const match = ISO_TIMESTAMP.exec(text.trim());
  if (!match) return invalid(`timestamp ${JSON.stringify(text)} is not ISO 8601 with a UTC offset`);
  const [, year, month, day, hour, minute, second, fraction, zone = 'Z'] = match;
  let offset = 0;
  if (zone !== 'Z' && zone !== 'UTC') {
    const digits = zone.replace(':', '');
    offset = (zone.startsWith('-') ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || 0));
  }
  const milliseconds = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  const date = utcDate(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second ?? 0), milliseconds, offset);
  if (date === null) return invalid(`timestamp ${JSON.stringify(text)} does not exist`);
  const micros = fraction !== undefined && fraction.length > 3 ? Number(fraction.slice(3, 6).padEnd(3, '0')) : 0;
  return { ok: true, date, utcOffsetMinutes: offset, zoneStated: true, micros };
}

/** The instant of a wall-clock time at `offsetMinutes` east of UTC; null when a field is out of range. */
function utcDate(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number, offsetMinutes: number): Date | null {
  if (hour > 23 || minute > 59 || second > 59) return null;
  const wall = Date.UTC(year, month, day, hour, minute, second, ms);
  const check = new Date(wall);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month || check.getUTCDate() !== day) return null;
  return new Date(wall - offsetMinutes * 60_000);
}

function unsupported(reason: string): DateFailure {
  return { ok: false, category: 'unsupported', reason };
}

function invalid(reason: string): DateFailure {
  return { ok: false, category: 'invalid', reason };
}
