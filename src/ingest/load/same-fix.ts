// The same location fix from two exports (the on-device Timeline and an older Records.json
// overlap, the one writing 6 decimals, the other 7): their keys differ, so their content hashes
// do, and the fix would be stored twice. A staged point is the same fix as a stored point of
// another source within SAME_FIX_WITHIN_MS and SAME_FIX_DEGREES on each axis; it is dropped before
// the batch moves in and counts as a duplicate. Only across sources: points of one source are told
// apart by their keys, so the result never depends on where batches begin.
//
// Matched here rather than in one DELETE ... WHERE EXISTS: the planner sees a just-loaded chunk as
// a hundred rows and joined a batch to it by a nested loop over every pair (10,000 × the chunk's
// rows per batch); two index range reads and a sweep in order cost the same whatever it believes.
import type { Transaction } from '../../db/database.js';

/** Two fixes are the same when their instants are this close (exports write seconds or milliseconds)... */
export const SAME_FIX_WITHIN_MS = 1000;
/**
 * ...and their coordinates this close on each axis: the coarsest precision Takeout writes is 6
 * decimals (on-device Timeline strings; Records.json's E7 integers have 7), so one position
 * written both ways differs by at most half a millionth of a degree (about 5 cm).
 */
export const SAME_FIX_DEGREES = 1e-6;

interface Fix {
  recorded_at: Date;
  lat: number;
  lon: number;
  source: string;
}

/**
 * Removes from the staged batch (`staging`, rows of timeseries.location_points between `from`
 * and `to` in Unix ms) the points another source already stored.
 */
export async function dropSameFixes(tx: Transaction, staging: string, userId: string, from: number, to: number): Promise<void> {
  const stored = await tx.query<Fix>(
    `SELECT recorded_at, lat, lon, source FROM timeseries.location_points
      WHERE user_id = $1 AND recorded_at BETWEEN $2 AND $3 AND source NOT IN (SELECT source FROM ${staging})
      ORDER BY recorded_at`,
    [userId, new Date(from - SAME_FIX_WITHIN_MS), new Date(to + SAME_FIX_WITHIN_MS)],
    { prepare: true },
  );
  if (stored.rows.length === 0) return;
  const staged = await tx.query<Fix & { content_hash: Buffer }>(
    `SELECT recorded_at, lat, lon, source, content_hash FROM ${staging} ORDER BY recorded_at`,
    [],
    { prepare: true },
  );
  const same: Buffer[] = [];
  let first = 0; // the first stored fix not too early for the staged fix at hand
  for (const fix of staged.rows) {
    const at = fix.recorded_at.getTime();
    while (first < stored.rows.length && stored.rows[first]!.recorded_at.getTime() < at - SAME_FIX_WITHIN_MS) first++;
    for (let i = first; i < stored.rows.length && stored.rows[i]!.recorded_at.getTime() <= at + SAME_FIX_WITHIN_MS; i++) {
      if (isSameFix(stored.rows[i]!, fix)) {
        same.push(fix.content_hash);
        break;
      }
    }
  }
  if (same.length > 0) await tx.query(`DELETE FROM ${staging} WHERE content_hash = ANY ($1::bytea[])`, [same], { prepare: true });
}

function isSameFix(stored: Fix, staged: Fix): boolean {
  return stored.source !== staged.source && Math.abs(stored.lat - staged.lat) <= SAME_FIX_DEGREES && Math.abs(stored.lon - staged.lon) <= SAME_FIX_DEGREES;
}
