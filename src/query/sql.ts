// Helpers for the statements of the query layer: parameters bound while a statement is assembled
// from optional filters, exact timestamps for keyset positions, and the page every list returns.
// Query parameters collected while a statement is assembled from optional filters: each value is
// bound, never spliced into the SQL text.
export class SqlParams {
  readonly values: unknown[] = [];

  /** Bind a value and return its placeholder (`$1`, `$2`, ...). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** A span of time: from inclusive, to exclusive; null leaves that end open. */
export interface TimeRange {
  from: Date | null;
  to: Date | null;
}

/** `WHERE a AND b`, or nothing for no conditions. */
export function whereClause(conditions: readonly string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/**
 * One page of a list in key order, and the key of its last row when another page follows (the
 * position the next page starts after; the API hands it out as an opaque cursor).
 */
export interface Page<Row, Position> {
  rows: Row[];
  next: Position | null;
}

/** A timestamp as PostgreSQL prints it with microseconds in UTC (see `utcMicros`), so keys compare exactly. */
const MICROS_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * A position's timestamp: that shape, a real date and time (not 2019-13-45T99:99:99), and a year
 * PostgreSQL reads and prints in four digits, 0001 to 9999 (it has no year 0). Anything else
 * would fail the statement it is bound to; the caller refuses the cursor instead.
 */
export function isMicrosTimestamp(value: unknown): value is string {
  if (typeof value !== 'string' || !MICROS_TIMESTAMP.test(value) || value.startsWith('0000')) return false;
  const parsed = new Date(`${value.slice(0, 19)}Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 19) === value.slice(0, 19);
}

/**
 * SQL for a timestamptz column as exact UTC text with microseconds: a JavaScript Date keeps only
 * milliseconds, so a position built from one could skip or repeat rows that differ by less.
 */
export function utcMicros(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** A (time, hex content hash) position: the key of the time-ordered tables after user_id. */
export type TimeHashPosition = [time: string, contentHashHex: string];

export function isTimeHashPosition(value: unknown, hash = /^[0-9a-f]{2,128}$/): value is TimeHashPosition {
  return Array.isArray(value) && value.length === 2 && isMicrosTimestamp(value[0]) && typeof value[1] === 'string' && hash.test(value[1]);
}
