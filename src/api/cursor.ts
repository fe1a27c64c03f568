// Opaque pagination cursors: the position after the last row of a page (its sort key, as the
// query layer hands it out: src/query/), as base64url JSON. Clients pass them back unchanged;
// anything else is refused with 400.
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
