// Local wall-clock time in an IANA time zone → UTC, with Intl (Node ships the full time zone
// database), for formats that write local times with a zone name (iCalendar's TZID, ...).
//
// DST edges follow RFC 5545 §3.3.5: a wall time that does not exist (skipped when clocks go
// forward) is read with the offset in force before the gap, so 02:30 on a spring-forward night
// in Berlin is 03:30 CEST; a wall time that happens twice (clocks go back) is the first of the
// two. Assumes at most one offset change within a day of the wall time, which holds for every
// zone in the database.

const formatters = new Map<string, Intl.DateTimeFormat>();
const DAY_MS = 24 * 60 * 60 * 1000;

/** True when Intl knows the zone (an IANA name such as `Europe/Berlin`, or `UTC`). */
export function isKnownTimeZone(zone: string): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** The zone's UTC offset in milliseconds at the instant `utcMs` (east positive). */
export function offsetAt(utcMs: number, zone: string): number {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(zone).formatToParts(new Date(utcMs))) parts[part.type] = part.value;
  let year = Number(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
  const asUtc = Date.UTC(year, Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const whole = utcMs - (((utcMs % 1000) + 1000) % 1000);
  return asUtc - whole;
}

/** The instant (ms since the epoch) of a wall time in `zone`; month 1-12. Throws for an unknown zone. */
export function wallTimeToUtc(year: number, month: number, day: number, hour: number, minute: number, second: number, zone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const before = offsetAt(wall - DAY_MS, zone);
  const after = offsetAt(wall + DAY_MS, zone);
  const earlier = wall - before;
  if (before === after) return earlier;
  const later = wall - after;
  const earlierValid = offsetAt(earlier, zone) === before;
  const laterValid = offsetAt(later, zone) === after;
  if (earlierValid && laterValid) return Math.min(earlier, later); // repeated hour: the first
  if (earlierValid) return earlier;
  if (laterValid) return later;
  return earlier; // skipped hour: the offset before the gap
}
