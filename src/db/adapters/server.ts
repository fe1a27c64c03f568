// Server adapter: a real PostgreSQL over a connection pool, with streaming COPY FROM STDIN.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { LakeError } from '../../errors.js';
import { assertCopyTarget, directThenAsUser, enterUserContext, type CopyAccess, type Database, type HeldSnapshot, type QueryOptions, type QueryResult, type Transaction, type UserTransactionOptions } from '../database.js';
import { detectProfile, type Profile } from '../profile.js';
import type { SessionSettings } from '../session.js';

export interface ServerOptions {
  url: string;
  poolMax: number;
  /** Named statements for QueryOptions.prepare; off behind a pooler that cannot keep them (PgBouncer in transaction mode before 1.21). */
  preparedStatements?: boolean;
  session: SessionSettings;
}

// Counts and ids as numbers (bigint columns here never exceed 2^53).
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export async function openServer(options: ServerOptions): Promise<Database> {
  const target = describeUrl(options.url);
  const connection: pg.ClientConfig = {
    connectionString: options.url,
    connectionTimeoutMillis: 10_000,
    application_name: 'datapunk-lake',
    options:
      `-c work_mem=${options.session.workMem} -c maintenance_work_mem=${options.session.maintenanceWorkMem} ` +
      `-c statement_timeout=${options.session.statementTimeoutMs}`,
    types,
  };
  const pool = new pg.Pool({ ...connection, max: options.poolMax });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (cause) {
    await pool.end().catch(() => {});
    throw connectionError(cause, target);
  }
  return new ServerDatabase(pool, connection, target.display, options.poolMax, options.preparedStatements ?? true);
}

class ServerDatabase implements Database {
  readonly backend = 'server' as const;
  private userContext: Readonly<Record<string, string>> = {};

  constructor(
    private readonly pool: pg.Pool,
    /** How to connect outside the pool (exportSnapshot's own connection). */
    private readonly connection: pg.ClientConfig,
    readonly location: string,
    readonly concurrentTransactions: number,
    private readonly prepare: boolean,
  ) {}

  async query<Row>(sql: string, params: readonly unknown[] = [], options?: QueryOptions): Promise<QueryResult<Row>> {
    const result = await this.pool.query(statement(sql, params, this.prepare && options?.prepare));
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
  }

  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.inTransaction(work);
  }

  asUser<T>(userId: string | null, work: (tx: Transaction) => Promise<T>, settings?: Readonly<Record<string, string>>, options: UserTransactionOptions = {}): Promise<T> {
    return this.inTransaction(
      async (tx) => {
        await enterUserContext(tx, userId, this.userContext, settings);
        return work(tx);
      },
      { direct: false },
      options.snapshot,
    );
  }

  async exportSnapshot(): Promise<HeldSnapshot> {
    // A connection of its own, outside the pool: exports holding snapshots can never take every
    // pooled connection and leave their own chunk transactions none. Named, so it can be seen.
    const client = new pg.Client({ ...this.connection, application_name: SNAPSHOT_APPLICATION_NAME });
    client.on('error', () => {}); // a connection lost while idle: the next import of its snapshot fails and says so
    let id: string;
    try {
      await client.connect();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      id = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    let released: Promise<void> | null = null;
    return {
      id,
      release: () =>
        (released ??= (async () => {
          await client.query('ROLLBACK').catch(() => {});
          await client.end().catch(() => {});
        })()),
    };
  }

  loadAsUser<D, T>(userId: string, direct: (tx: Transaction) => Promise<D>, work: (tx: Transaction, direct: D) => Promise<T>): Promise<T> {
    const access: CopyAccess = { direct: true };
    return this.inTransaction((tx) => directThenAsUser(tx, access, userId, this.userContext, direct, work), access);
  }

  private async inTransaction<T>(work: (tx: Transaction) => Promise<T>, access: CopyAccess = { direct: false }, snapshot?: string): Promise<T> {
    // SET TRANSACTION SNAPSHOT must come before any query: sent with BEGIN, in one round trip.
    const begin = snapshot === undefined ? 'BEGIN' : `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${snapshotId(snapshot)}'`;
    const client = await this.pool.connect();
    // A connection that dies while checked out (server restart, pg_terminate_backend) emits
    // 'error' on the client; the failing query reports it, so it must not crash the process.
    const onError = (): void => {};
    client.on('error', onError);
    let broken = false;
    try {
      await client.query(begin);
      const result = await work(wrap(client, access, this.prepare));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: do not return it to the pool
      }
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  setUserContextSettings(settings: Readonly<Record<string, string>>): void {
    this.userContext = settings;
  }

  /** The server's disk is not seen from here: a full one answers SQLSTATE 53100 (DISK_FULL, db/retry.ts). */
  async assertRoomFor(): Promise<void> {}

  detectProfile(): Promise<Profile> {
    return detectProfile(this, 'server');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** application_name of the connections that hold an export's snapshot (exportSnapshot). */
export const SNAPSHOT_APPLICATION_NAME = 'datapunk-lake export';

/** A snapshot id as pg_export_snapshot() makes them (it is written into SQL: nothing else passes). */
function snapshotId(id: string): string {
  if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(id)) throw new Error(`not a snapshot id: ${JSON.stringify(id)}`);
  return id;
}

/** Names of the statements prepared on request (QueryOptions.prepare), by their text. */
const preparedNames = new Map<string, string>();
/** Distinct texts prepared at most: a bound should a caller prepare texts that vary. */
const MAX_PREPARED = 256;

/** The query for node-postgres: named (so each connection prepares it once) when it is to be prepared. */
function statement(sql: string, params: readonly unknown[], prepare: boolean | undefined): pg.QueryConfig {
  const values = params as unknown[];
  if (!prepare) return { text: sql, values };
  let name = preparedNames.get(sql);
  if (name === undefined) {
    if (preparedNames.size >= MAX_PREPARED) return { text: sql, values };
    preparedNames.set(sql, (name = `lake_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`));
  }
  return { name, text: sql, values };
}

function wrap(client: pg.PoolClient, access: CopyAccess, prepare: boolean): Transaction {
  return {
    async query<Row>(sql: string, params: readonly unknown[] = [], options?: QueryOptions) {
      const result = await client.query(statement(sql, params, prepare && options?.prepare));
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async copyFrom(table, columns, data, format = 'text') {
      assertCopyTarget(table, access);
      const stream = client.query(copyFromStdin(`COPY ${table} (${columns.join(', ')}) FROM STDIN WITH (FORMAT ${format})`));
      const source = typeof data === 'string' || data instanceof Uint8Array ? Readable.from([data]) : Readable.from(data);
      await pipeline(source, stream);
      return stream.rowCount ?? 0;
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  };
}

interface Target {
  host: string;
  port: string;
  database: string;
  user: string;
  /** The URL without its password, safe to print. */
  display: string;
}

function describeUrl(url: string): Target {
  const parsed = new URL(url);
  const host = parsed.hostname || 'localhost';
  const port = parsed.port || '5432';
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username);
  const user = decodeURIComponent(parsed.username);
  return { host, port, database, user, display: `postgres://${user ? `${user}@` : ''}${host}:${port}/${database}` };
}

/** One line that says what failed, for each way connecting can fail. */
function connectionError(cause: unknown, target: Target): LakeError {
  const error = cause as { code?: string; message?: string };
  const where = `${target.host}:${target.port}`;
  switch (error.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'EAI_AGAIN':
    case 'ENETUNREACH':
      return new LakeError('DB_UNREACHABLE', `DATABASE_URL: cannot reach PostgreSQL at ${where} (${error.code})`, { cause });
    case '28P01':
    case '28000':
      return new LakeError('DB_AUTH_FAILED', `DATABASE_URL: authentication failed for user "${target.user}" at ${where}`, { cause });
    case '3D000':
      return new LakeError('DB_NOT_FOUND', `DATABASE_URL: database "${target.database}" does not exist at ${where}`, { cause });
    default:
      if (/timeout/i.test(error.message ?? '')) {
        return new LakeError('DB_UNREACHABLE', `DATABASE_URL: no answer from PostgreSQL at ${where} within 10 s`, { cause });
      }
      return new LakeError('DB_ERROR', `DATABASE_URL: cannot connect to ${where}: ${error.message ?? String(cause)}`, { cause });
  }
}
