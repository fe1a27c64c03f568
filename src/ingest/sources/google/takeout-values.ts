// Conversions of the value spellings Google Takeout uses: ISO timestamps with or without
// fractions and offsets, epoch milliseconds/microseconds as strings or numbers, E7 integers,
// `"lat°, lng°"` and `"geo:lat,lng"` coordinate strings, string-typed numbers (iOS exports).
// Each returns null for a value it cannot read; the caller decides whether that rejects a record.

export interface Instant {
  date: Date;
  /** The UTC offset written in the string (`+02:00` → 120); null for `Z` or no offset. */
  utcOffsetMinutes: number | null;
  /** Microseconds past `date`'s millisecond (0-999): fraction digits 4 to 6; absent when zero. */
  micros?: number;
}

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * Parses an ISO 8601 instant (`2013-03-01T05:17:39.849Z`, `2019-04-03T08:00:00.000+02:00`,
 * `2024-01-01T10:00:00Z`, up to nanosecond fractions). A string without an offset is refused: its
 * instant would depend on an unknown time zone.
 */
export function parseIsoInstant(value: unknown): Instant | null {
  if (typeof value !== 'string') return null;
  const fast = parseCanonicalUtc(value);
  if (fast !== null) return { date: fast, utcOffsetMinutes: null };
  const m = ISO_INSTANT.exec(value);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7];
  const zone = m[8]!;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return null;
  }
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  let offset = 0;
  let utcOffsetMinutes: number | null = null;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (offsetHours > 18 || offsetMinutes > 59) return null;
    offset = sign * (offsetHours * 60 + offsetMinutes);
    utcOffsetMinutes = offset;
  }
  const date = validDate(Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000);
  if (!date) return null;
  const micros = fraction !== undefined && fraction.length > 3 ? Number(fraction.slice(3, 6).padEnd(3, '0')) : 0;
  return micros === 0 ? { date, utcOffsetMinutes } : { date, utcOffsetMinutes, micros };
}

/**
 * The spelling Records.json uses for millions of points, `YYYY-MM-DDTHH:MM:SS[.sss]Z`, read
 * with character arithmetic (several times faster than the general regular expression).
 * Returns null for anything else, which then takes the general path.
 */
function parseCanonicalUtc(s: string): Date | null {
  const length = s.length;
  if ((length !== 20 && length !== 24) || s.charCodeAt(length - 1) !== 0x5a /* Z */) return null;
  if (s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || s.charCodeAt(10) !== 0x54 || s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) {
    return null;
  }
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  const hour = digitsAt(s, 11, 2);
  const minute = digitsAt(s, 14, 2);
  const second = digitsAt(s, 17, 2);
  let millis = 0;
  if (length === 24) {
    if (s.charCodeAt(19) !== 0x2e) return null;
    millis = digitsAt(s, 20, 3);
  }
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || millis < 0) {
    return null;
  }
  if (day > daysInMonth(year, month)) return null;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis));
}

/** The decimal number written by `count` ASCII digits at `from`, or -1. */
function digitsAt(s: string, from: number, count: number): number {
  let n = 0;
  for (let k = from; k < from + count; k++) {
    const d = s.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1]!;
}

/** Epoch milliseconds from `"1437263846012"` or 1437263846012; null for anything else. */
export function parseEpochMillis(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value !== 'string') return null;
  // Digits only (Number() would also take "1e5", "0x10", " 12"), read by hand: this runs for
  // every point of an old Records.json.
  const length = value.length;
  const negative = value.charCodeAt(0) === 0x2d;
  const first = negative ? 1 : 0;
  if (length === first || length - first > 16) return null;
  let n = 0;
  for (let i = first; i < length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return null;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/** A Date from epoch milliseconds (string or number), or null. */
export function dateFromEpochMillis(value: unknown): Date | null {
  const ms = parseEpochMillis(value);
  return ms === null ? null : validDate(ms);
}

/** Date.UTC/new Date silently give Invalid Date beyond ±8.64e15 ms; that is no timestamp. */
function validDate(ms: number): Date | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * Epoch milliseconds below this (1971-01-01T00:00:00Z) are refused in a `...Ms` field. Google
 * wrote no location data before 2005, and the values that land there are epoch *seconds* in a
 * field named for milliseconds (hand-edited files and tools that re-save Takeout:
 * `"timestampMs":"1512947703"`, `"startTimestampMs":"1742844302"`). Read as milliseconds they
 * would become January 1970 without a word, against the rule of this module and of
 * timeline-times.ts (a 10-digit epoch in a text field is refused there for the same reason).
 * Reading them as seconds instead would be a guess about a file that contradicts its own field
 * name, so they are refused too, with a reason naming the value (see `epochMillisProblem`).
 */
export const EARLIEST_EPOCH_MS = 31_536_000_000;

/**
 * Why a `...Ms` field's value is not taken as epoch milliseconds although it is an integer: null
 * when it is fine (or not an integer at all, which the caller reports as unreadable).
 */
export function epochMillisProblem(value: unknown): string | null {
  const ms = parseEpochMillis(value);
  if (ms === null || ms >= EARLIEST_EPOCH_MS) return null;
  const shown = JSON.stringify(value);
  if (ms >= 1_000_000_000 && ms < 10_000_000_000) {
    return `${shown} has 10 digits: epoch seconds (${new Date(ms * 1000).toISOString()}), not milliseconds (${new Date(ms).toISOString()})`;
  }
  return `${shown} is before 1971 as epoch milliseconds`;
}

/** Epoch milliseconds from a `...Ms` field: as `dateFromEpochMillis`, but null before 1971 (see EARLIEST_EPOCH_MS). */
export function dateFromEpochMillisField(value: unknown): Date | null {
  const ms = parseEpochMillis(value);
  return ms === null || ms < EARLIEST_EPOCH_MS ? null : validDate(ms);
}

/** The raw timestamp field(s) of such an object, for rejection messages. */
export function describeTimestampFields(holder: Record<string, unknown>, msKey: string, isoKey: string): string {
  const parts: string[] = [];
  if (msKey in holder) {
    const problem = epochMillisProblem(holder[msKey]);
    parts.push(problem === null ? `${msKey}=${JSON.stringify(holder[msKey])}` : `${msKey}=${problem}`);
  }
  if (isoKey in holder) parts.push(`${isoKey}=${JSON.stringify(holder[isoKey])}`);
  return parts.length > 0 ? parts.join(', ') : `no ${msKey} or ${isoKey}`;
}

/** Google's E7 fixed point (degrees × 10^7) as an integer. */
export function e7Integer(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

const INT32_MAX = 2_147_483_647;
const UINT32_MAX = 4_294_967_295;

/**
 * E7 latitude/longitude to degrees. Some old exports wrote negative coordinates as unsigned
 * 32-bit integers (`4076520896` for -21.84464°). Only a value that can be such a read, one above
 * the int32 maximum and within uint32, is mapped back (value - 2^32); anything else is divided
 * as written, so `910000000` is 91° and `2000000000` is 200°, out of range and refused by the
 * caller or the validation stage (not wrapped to -338.4967296°, a number that was never in the
 * file). Use `e7RangeProblem` to refuse with the raw value.
 */
export function latitudeFromE7(value: unknown): number | null {
  const e7 = e7Integer(value);
  return e7 === null ? null : unwrapUint32(e7) / 1e7;
}

export function longitudeFromE7(value: unknown): number | null {
  const e7 = e7Integer(value);
  return e7 === null ? null : unwrapUint32(e7) / 1e7;
}

function unwrapUint32(e7: number): number {
  return e7 > INT32_MAX && e7 <= UINT32_MAX ? e7 - (UINT32_MAX + 1) : e7;
}

/**
 * Why E7 coordinates read as `lat`/`lon` (by the functions above) are out of range, naming the raw
 * E7 values and the degrees they gave; null when both are within [-90, 90] / [-180, 180].
 */
export function e7RangeProblem(latE7: unknown, lonE7: unknown, lat: number, lon: number, latKey = 'latitudeE7', lonKey = 'longitudeE7'): string | null {
  if (lat < -90 || lat > 90) return `${latKey} ${JSON.stringify(latE7)} is ${lat}°, outside [-90, 90]`;
  if (lon < -180 || lon > 180) return `${lonKey} ${JSON.stringify(lonE7)} is ${lon}°, outside [-180, 180]`;
  return null;
}

export interface LatLon {
  lat: number;
  lon: number;
}

/** Both E7 coordinates of an object (`latitudeE7`/`longitudeE7` or `latE7`/`lngE7`), or null. */
export function latLonFromE7(holder: unknown, latKey = 'latitudeE7', lonKey = 'longitudeE7'): LatLon | null {
  if (!isObject(holder)) return null;
  const lat = latitudeFromE7(holder[latKey]);
  const lon = longitudeFromE7(holder[lonKey]);
  return lat === null || lon === null ? null : { lat, lon };
}

const DEGREE_PAIR = /^\s*(-?\d+(?:\.\d+)?)°?\s*,\s*(-?\d+(?:\.\d+)?)°?\s*$/;

/** `"50.0506312°, 14.3439906°"` (Android on-device export) or `"geo:27.720022,-97.347951"` (iOS). */
export function parseLatLonText(value: unknown): LatLon | null {
  if (typeof value !== 'string') return null;
  const text = value.startsWith('geo:') ? value.slice(4) : value;
  const m = DEGREE_PAIR.exec(text);
  if (!m) return null;
  return { lat: Number(m[1]), lon: Number(m[2]) };
}

/** A finite number, or a string holding one (iOS exports write `"0.785181"`, `"49"`). */
export function numberOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

export function stringOf(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The listed members of an object that are present, or null when none is. */
export function pickPresent(holder: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | null {
  let picked: Record<string, unknown> | null = null;
  for (const key of keys) if (holder[key] !== undefined) (picked ??= {})[key] = holder[key];
  return picked;
}

export function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A probability 0..1 as the 0..100 confidence the record columns use. */
export function percentFromProbability(value: unknown): number | null {
  const p = numberOf(value);
  return p === null ? null : Math.round(p * 10000) / 100;
}

/** Epoch microseconds (`time_usec`, `createdTimestampUsec`) as a Date (millisecond precision). */
export function dateFromEpochMicros(value: unknown): Date | null {
  return instantFromEpochMicros(value)?.date ?? null;
}

/** Epoch microseconds as a Date and the microseconds past its millisecond (0-999), or null. */
export function instantFromEpochMicros(value: unknown): { date: Date; micros: number } | null {
  let micros: number | null = null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) micros = value;
  else if (typeof value === 'string' && /^-?\d{1,17}$/.test(value)) micros = Number(value);
  if (micros === null) return null;
  const ms = Math.floor(micros / 1000);
  const date = validDate(ms);
  return date ? { date, micros: micros - ms * 1000 } : null;
}
