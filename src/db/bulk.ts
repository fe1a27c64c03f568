// Bulk inserts under row-level security. PostgreSQL refuses COPY FROM into a table with RLS for a
// role bound by it, and COPY cannot skip duplicates; so rows are COPYed into a temporary staging
// table of the transaction, then moved with INSERT ... SELECT ... ON CONFLICT DO NOTHING, where
// the policies' WITH CHECK applies and the rows not inserted are exactly the duplicates (or, for
// tables that keep the newest revision of a record, the rows not inserted nor replacing one).
//
// The fast path, copyDirect: where the user has no stored row in the batch's time range, nothing
// can be a duplicate but a row repeated inside the batch, so the maintenance role COPYs the batch
// straight into the table (Database.loadAsUser), which saves the staging table and the INSERT's
// per-row conflict checks: about a third of the database's time per location point. A unique
// violation (a repeated row, or another import of the same user racing) rolls back to a savepoint
// and the batch takes bulkInsert. First imports take the fast path; re-imports the checked one.
import { isDataError } from './retry.js';
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
   * A statement, given the staging table, that fills stored rows from the batch's rows meeting
   * them (Destination.merge in ingest/load/tables.ts); the rows it changes count as updated.
   */
  merge?: (batch: string) => string;
  /**
   * Work on the staged rows before they move, given the staging table: to bring stored rows to the
   * form the batch's take (Destination.beforeInsert), so that the same record meets them, or to
   * drop rows that duplicate stored ones (Destination.dropDuplicates); dropped rows count as duplicates.
   */
  before?: (tx: Transaction, staging: string) => Promise<unknown>;
  /**
   * A statement run after the rows moved, given a relation holding the batch's rows (the staging
   * table, or a query whose parameters copyDirect binds): for tables derived from the loaded one
   * (summaries), in the same transaction. It takes no parameters of its own.
   */
  derive?: (batch: string) => string;
  /**
   * The only rows `derive` needs: those whose `column` is one of `instants` (the earliest of each
   * hour, for the hourly summary). The relation it gets then holds just them, not the batch.
   */
  deriveAt?: { column: string; instants: readonly Date[] };
}

/** The statements here repeat verbatim batch after batch: prepared once per connection (QueryOptions). */
const PREPARE = { prepare: true };

/** Staging tables already used in a transaction: a second use in it must empty the table first. */
const usedIn = new WeakMap<Transaction, Set<string>>();

export async function bulkInsert(
  tx: Transaction,
  table: string,
  columns: readonly string[],
  data: CopyData,
  options: BulkInsertOptions = {},
): Promise<BulkInsertResult> {
  const { format = 'text', replace, merge, before, derive, deriveAt } = options;
  const staging = await stagingTable(tx, table, columns);
  const list = columns.join(', ');
  const received = await tx.copyFrom(staging, columns, data, format);
  if (before) await before(tx, staging);
  const moved = await tx.query(`INSERT INTO ${table} (${list}) SELECT ${list} FROM ${staging} ON CONFLICT DO NOTHING`, [], PREPARE);
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
      [],
      PREPARE,
    );
    updated = replaced.rowCount;
  }
  if (merge) updated += (await tx.query(merge(staging), [], PREPARE)).rowCount;
  if (derive) {
    if (deriveAt) await tx.query(derive(`(SELECT * FROM ${staging} WHERE ${deriveAt.column} = ANY ($1::timestamptz[])) AS batch`), [deriveAt.instants], PREPARE);
    else await tx.query(derive(staging), [], PREPARE);
  }
  return { received, inserted: moved.rowCount, updated, duplicates: received - moved.rowCount - updated };
}

/**
 * The transaction's empty staging table for `table`: its columns, none of its constraints. One per
 * destination and connection, kept for the session and emptied at each commit: creating and
 * dropping it for every batch cost more than loading 1,000 rows. The statements repeat verbatim,
 * so the server plans and counts them as one.
 */
async function stagingTable(tx: Transaction, table: string, columns: readonly string[]): Promise<string> {
  const name = `lake_staging_${table.replace(/\W/g, '_')}`;
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS ${name} ON COMMIT DELETE ROWS AS SELECT ${columns.join(', ')} FROM ${table} WITH NO DATA`);
  let used = usedIn.get(tx);
  if (!used) usedIn.set(tx, (used = new Set()));
  if (used.has(name)) await tx.query(`TRUNCATE pg_temp.${name}`);
  used.add(name);
  return `pg_temp.${name}`;
}

/**
 * COPY data as JSON text, a row each, decoded by the database itself (for the quarantine entry of
 * a row it refused: the batch holds bytes, not records), without the ids and hash the lake adds. Null
 * when the data cannot even be read into the staging table.
 */
export async function rowsAsJson(tx: Transaction, table: string, columns: readonly string[], data: CopyData, format?: CopyFormat): Promise<string[] | null> {
  const staging = await stagingTable(tx, table, columns);
  await tx.query('SAVEPOINT lake_rows_as_json');
  try {
    await tx.copyFrom(staging, columns, data, format);
  } catch (error) {
    if (!isDataError(error)) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT lake_rows_as_json');
    return null;
  }
  const rows = await tx.query<{ json: string }>(`SELECT (to_jsonb(s) - 'user_id' - 'import_file_id' - 'content_hash' - 'item_id')::text AS json FROM ${staging} s`);
  return rows.rows.map((row) => row.json);
}

/** Where a batch's rows fall: its user and the range of its time column, to tell whether any stored row can meet them. */
export interface TimeRange {
  userId: string;
  column: string;
  from: Date;
  to: Date;
}

/**
 * The batch straight into `table` with COPY (the module comment), when the user has no stored row
 * in its time range; null when it must go through bulkInsert instead, with nothing written. Only
 * in the `direct` part of Database.loadAsUser, and only for append-only data (no `replace`).
 */
export async function copyDirect(
  tx: Transaction,
  table: string,
  columns: readonly string[],
  data: CopyData,
  range: TimeRange,
  options: Pick<BulkInsertOptions, 'format' | 'derive' | 'deriveAt'> = {},
): Promise<BulkInsertResult | null> {
  const { userId, column, from, to } = range;
  const stored = await tx.query(`SELECT 1 FROM ${table} WHERE user_id = $1 AND ${column} BETWEEN $2 AND $3 LIMIT 1`, [userId, from, to], PREPARE);
  if (stored.rowCount > 0) return null;
  await tx.query('SAVEPOINT lake_copy_direct');
  let received: number;
  try {
    received = await tx.copyFrom(table, columns, data, options.format);
  } catch (error) {
    // A repeated row (unique violation) or any refused value: bulkInsert tells which, or skips it.
    if (!isDataError(error)) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT lake_copy_direct');
    return null;
  }
  await tx.query('RELEASE SAVEPOINT lake_copy_direct');
  if (options.derive) {
    // The batch's rows read back by the primary key's range (they are all there is in it), or
    // only those at the instants the derive needs.
    const at = options.deriveAt ? ` AND ${column} = ANY ($4::timestamptz[])` : '';
    const params = options.deriveAt ? [userId, from, to, options.deriveAt.instants] : [userId, from, to];
    await tx.query(options.derive(`(SELECT * FROM ${table} WHERE user_id = $1 AND ${column} BETWEEN $2 AND $3${at}) AS batch`), params, PREPARE);
  }
  return { received, inserted: received, updated: 0, duplicates: 0 };
}
