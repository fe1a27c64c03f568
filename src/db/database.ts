// The one database interface the lake uses. Two adapters implement it: embedded (PGlite, in this
// process) and server (a real PostgreSQL over a pool). Everything above this file is written once
// against it; backend differences live in the adapters and in the capability profile.
import type { Profile } from './profile.js';

export interface QueryResult<Row> {
  rows: Row[];
  /** Rows affected by INSERT/UPDATE/DELETE/COPY; rows returned by SELECT. */
  rowCount: number;
}

export interface QueryOptions {
  /**
   * The statement repeats verbatim and only its parameters change (the loader's, once per batch):
   * a server keeps it prepared on each connection, parsed and planned once instead of every time
   * (TimescaleDB's planning over a hypertable's chunks is costly, every statement). PGlite
   * ignores it. Never for SQL with values written into its text: each text is kept.
   */
  prepare?: boolean;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<Row>>;
}

/** Data for a bulk load, in PostgreSQL's COPY text format (tab-separated, `\N` for NULL). */
export type CopyData = Uint8Array | string | AsyncIterable<Uint8Array | string>;
/** COPY's text format (tab-separated lines) or its binary format (what the loader writes). */
export type CopyFormat = 'text' | 'binary';

export interface Transaction extends Queryable {
  /**
   * Bulk-load rows into the temporary table `table (columns)` with COPY, inside this transaction:
   * all or nothing with it. Returns the number of rows loaded. Only `pg_temp.` tables: user tables
   * are filled from them with bulkInsert (bulk.ts), under row-level security; only the `direct`
   * part of Database.loadAsUser may COPY into a user table itself (copyDirect). The server streams
   * `COPY ... FROM STDIN`; PGlite reads the data from `/dev/blob`, so there it is gathered first:
   * keep batches bounded.
   */
  copyFrom(table: string, columns: readonly string[], data: CopyData, format?: CopyFormat): Promise<number>;
  /** Run a script of several statements (migrations). No parameters. */
  exec(sql: string): Promise<void>;
}

export type Backend = 'embedded' | 'server';

export interface UserTransactionOptions {
  /**
   * A snapshot id from exportSnapshot: the transaction is REPEATABLE READ READ ONLY and sees the
   * database as that snapshot does (SET TRANSACTION SNAPSHOT, before its first query). Server only.
   */
  snapshot?: string;
}

/** A snapshot held open by exportSnapshot; release() ends its transaction and closes its connection (idempotent). */
export interface HeldSnapshot {
  readonly id: string;
  release(): Promise<void>;
}

/** The role every user-facing transaction switches to: owns nothing, bound by RLS. */
export const APP_ROLE = 'lake_app';

export interface Database extends Queryable {
  readonly backend: Backend;
  /** Where the data lives, for humans: the data directory or the server URL without password. */
  readonly location: string;
  /** How many transactions can make progress at once (PGlite: 1; a server: its pool size). */
  readonly concurrentTransactions: number;
  /**
   * A transaction on the maintenance connection (the role of DATABASE_URL, or PGlite's superuser):
   * migrations, partition maintenance. Never for reading or writing a user's data.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /**
   * A transaction as the application role with `userId` as the identity (transaction-local, so
   * safe under a pooler in transaction mode). Row-level security limits it to that user's rows;
   * with `null`, to no rows at all. `settings`: more transaction-local settings (an API request's
   * statement_timeout), set in the same statement as the identity.
   */
  asUser<T>(userId: string | null, work: (tx: Transaction) => Promise<T>, settings?: Readonly<Record<string, string>>, options?: UserTransactionOptions): Promise<T>;
  /**
   * Server only (absent on the embedded database, whose one connection a held transaction would
   * block): a REPEATABLE READ READ ONLY transaction on a connection of its own, held open so that
   * other transactions can read in its snapshot (asUser's `snapshot`), until released.
   */
  exportSnapshot?(): Promise<HeldSnapshot>;
  /**
   * The loader's transaction: `direct` runs first as the maintenance role, where copyFrom may load
   * user tables themselves (row-level security refuses COPY to the application role, and COPY
   * straight into the table costs a third less than staging plus INSERT ... SELECT); then the
   * transaction becomes `userId`'s, as in asUser, for `work`. There is no way back.
   */
  loadAsUser<D, T>(userId: string, direct: (tx: Transaction) => Promise<D>, work: (tx: Transaction, direct: D) => Promise<T>): Promise<T>;
  /**
   * Fails with DISK_FULL unless the database's disk has room for a load batch of `copyBytes` of
   * COPY data, and the reserve it keeps (the embedded database's data directory). A server's disk
   * is not seen from here: a server that runs out answers SQLSTATE 53100, also DISK_FULL.
   */
  assertRoomFor(copyBytes: number): Promise<void>;
  /** Settings applied with SET LOCAL in every user transaction (see userContextSettings). */
  setUserContextSettings(settings: Readonly<Record<string, string>>): void;
  /** Detect what this backend can do (extensions, version). */
  detectProfile(): Promise<Profile>;
  close(): Promise<void>;
}

/** Whether a transaction's copyFrom may load user tables (the `direct` part of loadAsUser). */
export interface CopyAccess {
  direct: boolean;
}

/** copyFrom writes only into temporary staging tables, never around row-level security, except in loadAsUser's `direct` part. */
export function assertCopyTarget(table: string, access: CopyAccess): void {
  if (!access.direct && !/^pg_temp\.[a-z_][a-z0-9_]*$/.test(table)) {
    throw new Error(`copyFrom loads temporary staging tables only (pg_temp.*), not ${table}: use bulkInsert`);
  }
}

/**
 * loadAsUser inside an open transaction, shared by both adapters: the direct part, then the end of
 * direct COPY (`access`) and the user's identity for the rest.
 */
export async function directThenAsUser<D, T>(
  tx: Transaction,
  access: CopyAccess,
  userId: string,
  settings: Readonly<Record<string, string>>,
  direct: (tx: Transaction) => Promise<D>,
  work: (tx: Transaction, direct: D) => Promise<T>,
): Promise<T> {
  const done = await direct(tx);
  access.direct = false;
  await enterUserContext(tx, userId, settings);
  return work(tx, done);
}

/** The statements that open a user transaction; shared by both adapters. `extra`: the caller's own settings (asUser's). */
export async function enterUserContext(
  tx: Queryable,
  userId: string | null,
  settings: Readonly<Record<string, string>> = {},
  extra: Readonly<Record<string, string>> = {},
): Promise<void> {
  // set_config('role', ..., true) is SET LOCAL ROLE: one round trip for role, identity and settings.
  const names = ['role', 'lake.user_id', ...Object.keys(settings), ...Object.keys(extra)];
  const values = [APP_ROLE, userId ?? '', ...Object.values(settings), ...Object.values(extra)];
  await tx.query(`SELECT set_config(name, value, true) FROM unnest($1::text[], $2::text[]) AS s(name, value)`, [names, values], { prepare: true });
}
