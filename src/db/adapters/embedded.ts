// Embedded adapter: PGlite (PostgreSQL 17 in WebAssembly) in this process, persisted under the
// hot tier of the data directory, with the extensions PGlite ships. One connection: transactions
// are serialized by PGlite itself, and an aborted one is rolled back before the next query.
// A full disk ends every call with DISK_FULL: there must be room before opening and before each
// load batch (assertRoomFor), and PostgreSQL stopping dead cannot hang the process (pglite-guard.ts).
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite, type Transaction as PGliteTransaction } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { fuzzystrmatch } from '@electric-sql/pglite/contrib/fuzzystrmatch';
import { hstore } from '@electric-sql/pglite/contrib/hstore';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { unaccent } from '@electric-sql/pglite/contrib/unaccent';
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp';
import { vector } from '@electric-sql/pglite/vector';
import { postgis } from '@electric-sql/pglite-postgis';
import { assertFreeSpace, DISK_RESERVE_BYTES, diskFull, isNoSpace, MIB } from '../../disk-space.js';
import { LakeError } from '../../errors.js';
import { assertCopyTarget, directThenAsUser, enterUserContext, type CopyAccess, type CopyData, type Database, type QueryResult, type Transaction } from '../database.js';
import { detectProfile, type Profile } from '../profile.js';
import type { SessionSettings } from '../session.js';
import { extensionsFromDisk } from './pglite-extensions.js';
import { GuardedNodeFS, stopReason } from './pglite-guard.js';
import { RemoteDatabase } from './remote.js';

const INT8 = 20;

export interface EmbeddedOptions {
  /** Directory of the database files; `null` keeps it in memory (tests). */
  directory: string | null;
  session: SessionSettings;
  /**
   * Start from this data directory (a tarball from dumpEmbedded) instead of an empty database: in
   * memory or in a directory that has no database yet. The tests start from one migrated once.
   */
  loadDataDir?: Blob;
  /** Where this installation keeps PGlite's extensions unpacked (pglite-extensions.ts); null: PGlite's bundles. */
  cacheDir: string | null;
  /**
   * The command reads or writes a few rows (users, keys, doctor): start for that. PostgreSQL gets
   * small shared_buffers, which it clears at start (PGlite's 128MB cost about 0.3 s and 120 MB),
   * and V8 compiles PGlite's WebAssembly once, quickly (Liftoff), without the optimizing tier
   * (TurboFan), whose compiling costs about 0.5 s and 80 MB that only long work earns back. The
   * V8 setting is the process's: a database opened after this one in the same process runs
   * unoptimized too, correct but slower.
   */
  brief?: boolean;
}

/**
 * The PostgreSQL major version of the pinned PGlite (package.json): data files are compatible
 * within a major version only. test/embedded-upgrade.test.ts checks it against a new directory.
 */
export const PGLITE_POSTGRES_MAJOR = '17';

/** shared_buffers of a brief command: what a few catalog and index pages need. */
const BRIEF_SHARED_BUFFERS = '16MB';

/** Every extension PGlite ships that the lake can use (profile.ts says which features need which). */
const EXTENSIONS = { vector, postgis, pg_trgm, hstore, fuzzystrmatch, pgcrypto, btree_gist, unaccent, uuid_ossp };

/** Free space the database always keeps (room for two WAL segments: disk-space.ts). */
const EMBEDDED_RESERVE_BYTES = DISK_RESERVE_BYTES;
/** A new database: PGlite's initdb and the lake's migrations, WAL included, with room to spare. */
const NEW_DATABASE_BYTES = 64 * MIB;
/** Disk a batch may take per byte of its COPY data: staging table, heap, indexes and WAL. */
const BYTES_PER_COPY_BYTE = 4;

export async function openEmbedded(options: EmbeddedOptions): Promise<Database> {
  const { directory } = options;
  if (directory !== null) {
    await mkdir(directory, { recursive: true });
    const made = await readFile(path.join(directory, 'PG_VERSION'), 'utf8').then((text) => text.trim(), () => null);
    if (made !== null && made !== PGLITE_POSTGRES_MAJOR) {
      throw new LakeError(
        'DB_VERSION_UNSUPPORTED',
        `the embedded database in ${directory} was made by PostgreSQL ${made}, and this lake's PGlite runs PostgreSQL ${PGLITE_POSTGRES_MAJOR}, which cannot open it: ` +
          `use the lake release that made it, or another data directory`,
      );
    }
    const needed = EMBEDDED_RESERVE_BYTES + (made !== null ? 0 : NEW_DATABASE_BYTES);
    assertFreeSpace(directory, needed, 'the embedded database');
  }
  const guard = directory === null ? null : new GuardedNodeFS(directory, (log) => stopProcess(directory!, log));
  const extensions = (options.cacheDir && (await extensionsFromDisk(EXTENSIONS, options.cacheDir))) || EXTENSIONS;
  if (options.brief) setFlagsFromString('--liftoff-only');
  let pg: PGlite;
  try {
    pg = await PGlite.create({
      ...(guard ? { fs: guard } : { dataDir: 'memory://' }),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      extensions,
      ...(options.brief ? { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${BRIEF_SHARED_BUFFERS}`] } : {}),
      // Counts and ids as numbers, as the server adapter returns them.
      parsers: { [INT8]: (value: string) => Number(value) },
    });
  } catch (cause) {
    guard?.clearTimers();
    const reason = guard && stopReason(guard.recentLog);
    if (directory !== null && (isNoSpace(cause) || (reason && isNoSpace(reason)))) {
      throw diskFull(directory, 'the embedded database', { needed: EMBEDDED_RESERVE_BYTES, cause: reason ?? cause });
    }
    throw new LakeError('DB_ERROR', `cannot open the embedded database in ${directory}: ${message(cause)}${reason ? ` (${reason})` : ''}`, { cause });
  }
  await pg.exec(
    `SET work_mem = '${options.session.workMem}'; SET maintenance_work_mem = '${options.session.maintenanceWorkMem}';` +
      `SET statement_timeout = ${options.session.statementTimeoutMs};`,
  );
  return new EmbeddedDatabase(pg, directory ?? 'memory', directory !== null);
}

/**
 * PostgreSQL aborted (a PANIC: it could not write its WAL) and PGlite will never return from the
 * call in progress (pglite-guard.ts): end the process the way the command line ends on an error,
 * with the error's exit code. The database recovers from its WAL at the next open.
 */
function stopProcess(directory: string, log: readonly string[]): never {
  const reason = stopReason(log) ?? 'PostgreSQL aborted';
  const error = isNoSpace(reason)
    ? diskFull(directory, 'the embedded database', { needed: EMBEDDED_RESERVE_BYTES, cause: reason })
    : new LakeError('DB_ERROR', `the embedded database in ${directory} stopped (${reason}): run the command again`);
  process.stderr.write(`lake: ${error.message} [${error.code}]\n`);
  process.exit(error.exitCode);
}

class EmbeddedDatabase implements Database {
  readonly backend = 'embedded' as const;
  readonly concurrentTransactions = 1;
  private userContext: Readonly<Record<string, string>> = {};

  constructor(
    private readonly pg: PGlite,
    readonly location: string,
    /** Kept on disk (not in memory): its file system can fill up. */
    private readonly onDisk: boolean,
  ) {}

  query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
    return this.guarded(async () => toResult<Row>(await this.pg.query<Row>(sql, params as unknown[])));
  }

  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.guarded(() => this.pg.transaction((tx) => work(wrap(tx, { direct: false }))));
  }

  loadAsUser<D, T>(userId: string, direct: (tx: Transaction) => Promise<D>, work: (tx: Transaction, direct: D) => Promise<T>): Promise<T> {
    return this.guarded(() =>
      this.pg.transaction((tx) => {
        const access: CopyAccess = { direct: true };
        return directThenAsUser(wrap(tx, access), access, userId, this.userContext, direct, work);
      }),
    );
  }

  asUser<T>(userId: string | null, work: (tx: Transaction) => Promise<T>, settings?: Readonly<Record<string, string>>): Promise<T> {
    return this.guarded(() =>
      this.pg.transaction(async (tx) => {
        const wrapped = wrap(tx, { direct: false });
        await enterUserContext(wrapped, userId, this.userContext, settings);
        return work(wrapped);
      }),
    );
  }

  async assertRoomFor(copyBytes: number): Promise<void> {
    if (this.onDisk) assertFreeSpace(this.location, EMBEDDED_RESERVE_BYTES + BYTES_PER_COPY_BYTE * copyBytes, 'the embedded database');
  }

  /** A statement refused for want of space (53100: a table file could not grow; rolled back) as DISK_FULL. */
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (this.onDisk && !(error instanceof LakeError) && isNoSpace(error)) {
        throw diskFull(this.location, 'the embedded database', { needed: EMBEDDED_RESERVE_BYTES, cause: error });
      }
      throw error;
    }
  }

  setUserContextSettings(settings: Readonly<Record<string, string>>): void {
    this.userContext = settings;
  }

  /** See withFilesAtRest. */
  filesAtRest<T>(work: (tx: Transaction, directory: string) => Promise<T>): Promise<T> {
    if (!this.onDisk) throw new Error('filesAtRest: the embedded database is in memory');
    return this.guarded(() =>
      this.pg.transaction(async (tx) => {
        await tx.query('CHECKPOINT');
        return work(wrap(tx, { direct: false }), this.location);
      }),
    );
  }

  dumpDataDir(): Promise<Blob> {
    return this.guarded(() => this.pg.dumpDataDir('none'));
  }

  detectProfile(): Promise<Profile> {
    return detectProfile(this, 'embedded', {
      timescaledb: 'not built for PGlite',
      pg_cron: 'not built for PGlite',
      pg_partman: 'not built for PGlite',
      pg_stat_statements: 'not built for PGlite',
    });
  }

  async close(): Promise<void> {
    if (this.pg.closed) return;
    // PGlite's close ends its Emscripten runtime, which sets process.exitCode to 0: the exit code
    // a command chose before closing the database (an import that failed, a pending migration) stays.
    const exitCode = process.exitCode;
    try {
      await this.pg.close();
    } finally {
      process.exitCode = exitCode;
    }
  }
}

function wrap(tx: PGliteTransaction, access: CopyAccess): Transaction {
  return {
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      return toResult<Row>(await tx.query<Row>(sql, params as unknown[]));
    },
    async copyFrom(table, columns, data, format = 'text') {
      assertCopyTarget(table, access);
      const blob = await toBlob(data);
      const copy = `COPY ${table} (${columns.join(', ')}) FROM '/dev/blob' WITH (FORMAT ${format})`;
      if (access.direct) return (await tx.query(copy, [], { blob })).affectedRows ?? 0;
      // PGlite reads COPY data from the virtual file /dev/blob, which only the superuser may read:
      // step out of the application role for this statement alone (the target is a temporary
      // staging table, never a user table) and step back in.
      const { role } = (await tx.query<{ role: string }>(`SELECT current_user AS role`)).rows[0]!;
      await tx.query(`SET LOCAL ROLE NONE`);
      try {
        const result = await tx.query(copy, [], { blob });
        return result.affectedRows ?? 0;
      } finally {
        await tx.query(`SET LOCAL ROLE ${role}`);
      }
    },
    async exec(sql: string) {
      await tx.exec(sql);
    },
  };
}

function toResult<Row>(result: { rows: Row[]; affectedRows?: number }): QueryResult<Row> {
  return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
}

/** PGlite reads COPY data from one Blob: gather the (bounded) batch. */
async function toBlob(data: CopyData): Promise<Blob> {
  if (typeof data === 'string' || data instanceof Uint8Array) return new Blob([data]);
  const parts: (string | Uint8Array)[] = [];
  for await (const chunk of data) parts.push(chunk);
  return new Blob(parts);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The embedded database's data directory as a tarball, for EmbeddedOptions.loadDataDir. */
export function dumpEmbedded(db: Database): Promise<Blob> {
  if (!(db instanceof EmbeddedDatabase)) throw new Error(`dumpEmbedded: not an embedded database (${db.backend})`);
  return db.dumpDataDir();
}

/**
 * Run `work` while the embedded database's files are at rest: checkpointed (every change written
 * to the data files), and no other statement runs until `work` returns (they wait: PGlite runs one
 * transaction at a time). `work` gets the open transaction (the maintenance role) and the
 * directory, whose files it may copy: they are those of a cleanly checkpointed database. Through a
 * running `lake serve` (remote.ts), the server's database is checkpointed and held the same way.
 */
export function withFilesAtRest<T>(db: Database, work: (tx: Transaction, directory: string) => Promise<T>): Promise<T> {
  if (db instanceof RemoteDatabase) return db.filesAtRest(work);
  if (!(db instanceof EmbeddedDatabase)) throw new Error(`withFilesAtRest: not an embedded database (${db.backend})`);
  return db.filesAtRest(work);
}

/** Where the embedded database lives inside the hot tier. */
export function embeddedDirectory(hotTier: string): string {
  return path.join(hotTier, 'pglite');
}
