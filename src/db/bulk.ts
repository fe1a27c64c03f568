// Bulk inserts under row-level security. PostgreSQL refuses COPY FROM into a table with RLS for a
// role bound by it, and COPY cannot skip duplicates; so rows are COPYed into a temporary staging
// table of the transaction, then moved with INSERT ... SELECT ... ON CONFLICT DO NOTHING, where
// the policies' WITH CHECK applies and the rows not inserted are exactly the duplicates (or, for
// tables that keep the newest revision of a record, the rows not inserted nor replacing one).
import type { CopyData, CopyFormat, Transaction } from './database.js';

export interface BulkInsertResult {
  /** Rows in the data. */
  received: number;
  inserted: number;
  /** Stored rows replaced by a newer revision of themselves (only with `replace`). */
  updated: number;
  /** Rows whose key was already present (same content hash): re-imports add nothing. */
  duplicates: number;
}

/**
 * Rows that meet a stored row on `conflict` overwrite its `columns` when their `revision` is
 * higher (a stored NULL is lowest); otherwise they are duplicates like everywhere else. Pass it
 * only for data with revisions: it costs a second statement.
 */
export interface ReplaceNewer {
  conflict: readonly string[];
  columns: readonly string[];
}

export interface BulkInsertOptions {
  format?: CopyFormat;
  /** Keep the newest revision of a row (see ReplaceNewer); only for data with revisions. */
  replace?: ReplaceNewer;
  /**
   * A statement run after the rows moved, given the staging table's name: for tables derived
   * from the loaded one (summaries), in the same transaction.
   */
  derive?: (staging: string) => string;
}

/** Staging tables already used in a transaction: a second use in it must empty the table first. */
const usedIn = new WeakMap<Transaction, Set<string>>();

export async function bulkInsert(
  tx: Transaction,
  table: string,
  columns: readonly string[],
  data: CopyData,
  options: BulkInsertOptions = {},
): Promise<BulkInsertResult> {
  const { format = 'text', replace, derive } = options;
  // One staging table per destination and connection, kept for the session and emptied at each
  // commit: creating and dropping it for every batch cost more than loading 1,000 rows. The
  // statements repeat verbatim, so the server plans and counts them as one.
  const name = `lake_staging_${table.replace(/\W/g, '_')}`;
  const staging = `pg_temp.${name}`;
  const list = columns.join(', ');
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS ${name} ON COMMIT DELETE ROWS AS SELECT ${list} FROM ${table} WITH NO DATA`);
  let used = usedIn.get(tx);
  if (!used) usedIn.set(tx, (used = new Set()));
  if (used.has(name)) await tx.query(`TRUNCATE ${staging}`);
  used.add(name);
  const received = await tx.copyFrom(staging, columns, data, format);
  const moved = await tx.query(`INSERT INTO ${table} (${list}) SELECT ${list} FROM ${staging} ON CONFLICT DO NOTHING`);
  let updated = 0;
  if (replace) {
    // Then the stored rows that a higher revision in the batch supersedes (rows just inserted have
    // their own revision, so they are not counted twice). Of rows sharing a key, the highest goes.
    const key = replace.conflict;
    const replaced = await tx.query(
      `UPDATE ${table} AS stored SET ${replace.columns.map((c) => `${c} = newer.${c}`).join(', ')}
         FROM (SELECT DISTINCT ON (${key.join(', ')}) ${list} FROM ${staging} WHERE revision IS NOT NULL
                ORDER BY ${key.join(', ')}, revision DESC) AS newer
        WHERE ${key.map((c) => `stored.${c} = newer.${c}`).join(' AND ')} AND newer.revision > coalesce(stored.revision, -1)`,
    );
    updated = replaced.rowCount;
  }
  if (derive) await tx.query(derive(staging));
  return { received, inserted: moved.rowCount, updated, duplicates: received - moved.rowCount - updated };
}
