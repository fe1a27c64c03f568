// The access log's rows: one audit.events row per authenticated API request, written as the
// request's user (the batching and flushing are the API's: api/access-log.ts).
import type { Queryable } from '../db/database.js';

export interface AccessEntry {
  userId: string;
  keyId: string;
  at: Date;
  method: string;
  /** The route pattern (`/v1/items/:id`), so entries group by what was done. */
  route: string;
  /** The requested path with its query string (the access log shortens it: api/access-log.ts). */
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
}

/** Writes the entries, all of user `userId`, in the transaction `tx` opened as that user. */
export async function insertAccessEntries(tx: Queryable, userId: string, entries: readonly AccessEntry[]): Promise<void> {
  await tx.query(
    `INSERT INTO audit.events (user_id, occurred_at, actor, action, object_type, object_id, details)
     SELECT $1, at, 'api_key:' || key_id, 'api.request', 'route', route, details
       FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::jsonb[]) AS e(at, key_id, route, details)`,
    [
      userId,
      entries.map((e) => e.at),
      entries.map((e) => e.keyId),
      entries.map((e) => `${e.method} ${e.route}`),
      entries.map((e) =>
        JSON.stringify({ method: e.method, path: e.path, status: e.status, duration_ms: e.durationMs, key_id: e.keyId, request_id: e.requestId }),
      ),
    ],
    { prepare: true },
  );
}
