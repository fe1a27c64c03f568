// Dates as Google Takeout writes them outside JSON: the localized date line of MyActivity.html and
// the ISO 8601 timestamps of the YouTube CSV files.
//
// MyActivity.html writes dates in the account's display language. Read here: English month names
// (abbreviated, with or without a dot, "Sept", or in full) in the two English orders,
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
// Anything else (another language's month names or word order, an unknown or ambiguous
// abbreviation such as IST) is `unsupported` with the offending text: guessing would shift times.
// Nothing is done with the file's modification time.

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
const ZONE = String.raw`(?: (.+))?`;
const MONTH_FIRST = new RegExp(String.raw`^([A-Za-z]{3,9})\.? (\d{1,2}), (\d{4}),? ${TIME}${ZONE}$`);
const DAY_FIRST = new RegExp(String.raw`^(\d{1,2}) ([A-Za-z]{3,9})\.? (\d{4}),? ${TIME}${ZONE}$`);
const NUMERIC_ZONE = /^(?:GMT|UTC)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?$/;
const UNICODE_SPACES = /\s+/g;

/** Parses the date line of a MyActivity.html entry (see the module comment for what is read). */
export function parseActivityDate(line: string): ParsedDate {
  const text = line.replace(UNICODE_SPACES, ' ').trim();
  let year: string, monthName: string, day: string;
  let match = MONTH_FIRST.exec(text);
  if (match) [, monthName = '', day = '', year = ''] = match;
  else if ((match = DAY_FIRST.exec(text))) [, day = '', monthName = '', year = ''] = match;
  else return unsupported(`date ${JSON.stringify(text)} is not in a supported format (English, month or day first)`);
  const [, , , , hourText = '', minuteText = '', secondText, meridiem, zoneText] = match;

  const month = MONTHS[monthName.toLowerCase()];
  if (month === undefined) return unsupported(`date ${JSON.stringify(text)}: month ${JSON.stringify(monthName)} is not an English month name`);

  let hour = Number(hourText);
  if (meridiem !== undefined) {
    if (hour < 1 || hour > 12) return invalid(`date ${JSON.stringify(text)}: hour ${hour} on a 12-hour clock`);
    const pm = meridiem === 'P' || meridiem === 'p';
    hour = (hour % 12) + (pm ? 12 : 0);
  }
  const minute = Number(minuteText);
  const second = secondText === undefined ? 0 : Number(secondText);

  let offset = 0;
  let zoneStated = false;
  if (zoneText !== undefined) {
    const zone = parseZone(zoneText);
    if (zone === null) return unsupported(`date ${JSON.stringify(text)}: time zone ${JSON.stringify(zoneText)} is not a known unambiguous abbreviation or offset`);
    offset = zone;
    zoneStated = true;
  }
  const date = utcDate(Number(year), month, Number(day), hour, minute, second, 0, offset);
  if (date === null) return invalid(`date ${JSON.stringify(text)} does not exist`);
  return { ok: true, date, utcOffsetMinutes: offset, zoneStated };
}

function parseZone(text: string): number | null {
  const abbreviation = ZONE_ABBREVIATIONS[text];
  if (abbreviation !== undefined) return abbreviation;
  const match = NUMERIC_ZONE.exec(text);
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

function unsupported(reason: string): ParsedDate {
  return { ok: false, category: 'unsupported', reason };
}

function invalid(reason: string): ParsedDate {
  return { ok: false, category: 'invalid', reason };
}
