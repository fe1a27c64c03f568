// Opaque pagination cursors: the position after the last row of a page (its sort key), as
// base64url JSON. Clients pass them back unchanged; anything else is refused with 400.
import { LakeError } from '../errors.js';

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodeCursor<T>(cursor: string, isPosition: (value: unknown) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!isPosition(value)) throw new LakeError('INVALID_REQUEST', '`cursor` is not valid: pass back the next_cursor of the previous page unchanged');
  return value;
}

/** A timestamp as PostgreSQL prints it with microseconds in UTC (see `utcMicros`), so keys compare exactly. */
const MICROS_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function isMicrosTimestamp(value: unknown): value is string {
  return typeof value === 'string' && MICROS_TIMESTAMP.test(value);
}

/**
 * SQL for a timestamptz column as exact UTC text with microseconds: a JavaScript Date keeps only
 * milliseconds, so a cursor built from one could skip or repeat rows that differ by less.
 */
export function utcMicros(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}
