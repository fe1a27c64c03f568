// Statistics about the lake's database itself, not user data (the API's /metrics reads them):
// read on the maintenance connection.
import type { Database } from '../db/database.js';

export interface DatabaseStatistics {
  /** Block reads served from shared buffers, and from disk, since the statistics were reset. */
  blocksHit: number;
  blocksRead: number;
  sizeBytes: number;
  /** Server only: this lake's connections by state (pg_stat_activity); empty on the embedded database. */
  connections: Map<string, number>;
}

export async function databaseStatistics(db: Database): Promise<DatabaseStatistics> {
  const stats = await db.query<{ blks_hit: number; blks_read: number; size: number }>(
    `SELECT blks_hit, blks_read, pg_database_size(datname) AS size FROM pg_stat_database WHERE datname = current_database()`,
  );
  const connections = new Map<string, number>();
  if (db.backend === 'server') {
    // The server adapter names its pool's connections 'datapunk-lake' (application_name).
    const rows = await db.query<{ state: string; n: number }>(
      `SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'datapunk-lake' GROUP BY 1`,
    );
    for (const row of rows.rows) connections.set(row.state, row.n);
  }
  const row = stats.rows[0];
  return { blocksHit: row?.blks_hit ?? 0, blocksRead: row?.blks_read ?? 0, sizeBytes: row?.size ?? 0, connections };
}
