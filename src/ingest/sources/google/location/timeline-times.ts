// The times of the Google Timeline files (on-device Timeline.json / location-history.json and
// Semantic Location History), in every spelling seen in exports and in the tools that re-save them:
//
//   ISO 8601 with an offset or Z       2024-06-06T11:44:37.000+01:00, 2013-03-01T05:17:39.849Z
//   date, time, space, offset          2023-08-27 15:48:56 -0500, 2023-08-27 15:48:56 +05:30,
//                                      2023-08-27 15:48:56.250 +0000 (Apple's and Ruby's default
//                                      rendering), and `… UTC` / `… GMT` / `… Z`
//   epoch milliseconds                 "1577836800000" or 1577836800000, in a field named for
//                                      text (`startTime`, `startTimestamp`, `timestamp`)
//
// An epoch in a text-named field is read as milliseconds only with 12 or 13 digits (1973 to
// 2286): 10 digits would be seconds, and reading them as milliseconds would put the fact in
// January 1970 without a word, so anything shorter or longer is refused, as is a time without an
// offset. The `...Ms` fields of older exports state their unit and are read as epoch milliseconds
// of any length from 1971 on; a value before 1971 there (`"startTimestampMs":"1742844302"`, epoch
// seconds in a milliseconds field) is refused under the same rule, not read as January 1970 nor
// guessed to be seconds (EARLIEST_EPOCH_MS in takeout-values.ts; describeTimestampFields names the
// value and both readings in the rejection).
import { dateFromEpochMillis, dateFromEpochMillisField, parseIsoInstant, type Instant } from '../takeout-values.js';

const SPACED = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)? +(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$/;
const EPOCH_MS_TEXT = /^\d{12,13}$/;

/** The instant a Timeline time field holds (see the module comment), or null. */
export function parseTimelineInstant(value: unknown): Instant | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && EPOCH_MS_TEXT.test(String(value)) ? epochInstant(value) : null;
  if (typeof value !== 'string') return null;
  const iso = parseIsoInstant(value);
  if (iso) return iso;
  const text = value.trim();
  if (EPOCH_MS_TEXT.test(text)) return epochInstant(Number(text));
  const m = SPACED.exec(text);
  if (!m) return null;
  const [, year, month, day, hour, minute, second = '00', fraction, zone = 'Z'] = m;
  // The ISO reader checks the ranges; only the separators differ.
  const offset = zone === 'UTC' || zone === 'GMT' ? 'Z' : zone;
  return parseIsoInstant(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction === undefined ? '' : `.${fraction}`}${offset}`);
}

/**
 * The instant of an object with `<name>Ms` (epoch milliseconds, older exports) and/or `<name>`
 * (text, newer exports), each in any spelling Timeline files use: `startTimestampMs`/
 * `startTimestamp`, `timestampMs`/`timestamp`.
 */
export function timelineInstantOf(holder: Record<string, unknown>, msKey: string, textKey: string): Instant | null {
  const date = dateFromEpochMillisField(holder[msKey]);
  if (date) return { date, utcOffsetMinutes: null };
  return parseTimelineInstant(holder[msKey]) ?? parseTimelineInstant(holder[textKey]);
}

function epochInstant(ms: number): Instant | null {
  const date = dateFromEpochMillis(ms);
  return date ? { date, utcOffsetMinutes: null } : null;
}
