// Bulk inserts under row-level security. PostgreSQL refuses COPY FROM into a table with RLS for a
// role bound by it, and COPY cannot skip duplicates; so rows are COPYed into a temporary staging
// table of the transaction, then moved with INSERT ... SELECT ... ON CONFLICT DO NOTHING, where
// the policies' WITH CHECK applies and the rows not inserted are exactly the duplicates.
import type { CopyData, Transaction } from './database.js';

export interface BulkInsertResult {
  /** Rows in the data. */
  received: number;
  inserted: number;
  /** Rows whose key was already present (same content hash): re-imports add nothing. */
  duplicates: number;
}

let stagingCounter = 0;

export async function bulkInsert(
  tx: Transaction,
  table: string,
  columns: readonly string[],
  data: CopyData,
): Promise<BulkInsertResult> {
  const staging = `pg_temp.lake_staging_${++stagingCounter}`;
  const list = columns.join(', ');
  await tx.query(`CREATE TEMP TABLE ${staging.slice('pg_temp.'.length)} ON COMMIT DROP AS SELECT ${list} FROM ${table} WITH NO DATA`);
  const received = await tx.copyFrom(staging, columns, data);
  const moved = await tx.query(`INSERT INTO ${table} (${list}) SELECT ${list} FROM ${staging} ON CONFLICT DO NOTHING`);
  await tx.query(`DROP TABLE ${staging}`);
  return { received, inserted: moved.rowCount, duplicates: received - moved.rowCount };
}
