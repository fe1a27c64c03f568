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

export async function bulkInsert(
  tx: Transaction,
  table: string,
  columns: readonly string[],
  data: CopyData,
): Promise<BulkInsertResult> {
  // One name per destination table: the statements repeat verbatim, so the server plans and counts
  // them as one (pg_stat_statements), and the table is dropped at the end of the statement block.
  const name = `lake_staging_${table.replace(/\W/g, '_')}`;
  const staging = `pg_temp.${name}`;
  const list = columns.join(', ');
  await tx.query(`CREATE TEMP TABLE ${name} ON COMMIT DROP AS SELECT ${list} FROM ${table} WITH NO DATA`);
  const received = await tx.copyFrom(staging, columns, data);
  const moved = await tx.query(`INSERT INTO ${table} (${list}) SELECT ${list} FROM ${staging} ON CONFLICT DO NOTHING`);
  await tx.query(`DROP TABLE ${staging}`);
  return { received, inserted: moved.rowCount, duplicates: received - moved.rowCount };
}
