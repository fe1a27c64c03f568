// The lake as a whole: configuration, data directory, database, capability profile. Opened with
// an async factory so that nothing half-built escapes: `await Lake.open(config)`. A data directory
// is only ever opened with the database it belongs to (data-dir-identity.ts).
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config/config.js';
import { DataDirBinding, giveOwnIdentity } from './data-dir-identity.js';
import type { Database } from './db/database.js';
import type { MigrateResult } from './db/migrate.js';
import { userContextSettings, type Profile } from './db/profile.js';
import { prepareSchema } from './db/schema.js';
import { LakeError } from './errors.js';
import { BlobStore } from './store/blob-store.js';

export interface OpenOptions {
  /** Create extensions and apply pending migrations (idempotent). Default true. */
  migrate?: boolean;
  /** Keep the embedded database in memory (tests). */
  inMemory?: boolean;
  /** Embedded, new database only: start from this data directory tarball (EmbeddedOptions.loadDataDir; tests). */
  loadDataDir?: Blob;
  /** Told when the database is open and migrating starts, which can take many seconds (`lake import` says so). */
  onMigrating?: () => void;
  /** Embedded: the command reads or writes a few rows (users, keys, doctor): start for that (EmbeddedOptions.brief). */
  brief?: boolean;
  /**
   * Embedded: while `lake serve` holds the database, go through it (its command socket, remote.ts)
   * instead of failing with DATA_DIR_LOCKED. Default true; false for what needs the database to
   * itself (serve, migrate, blobs gc): they fail, naming the server.
   */
  throughServer?: boolean;
}

export class Lake {
  /** Files kept as they are, shared content-addressed store under the data directory. */
  readonly blobs: BlobStore;

  private constructor(
    readonly config: Config,
    readonly db: Database,
    readonly profile: Profile,
    readonly migrations: MigrateResult | null,
    /** Embedded: the database was new, made as a copy of this installation's migrated template (embedded-template.ts). */
    readonly copiedFromTemplate: boolean,
    private readonly releaseLock: (() => Promise<void>) | null,
    /** Embedded: the running `lake serve` this lake goes through (its database is the server's), else null. */
    readonly server: { pid: number; socket: string } | null = null,
  ) {
    this.blobs = new BlobStore(config.tiers.blobs);
  }

  static async open(config: Config, options: OpenOptions = {}): Promise<Lake> {
    // Marks of the start-up phases, for bench/startup.ts (performance marks cost nothing unread).
    performance.mark('lake:open');
    await prepareDataDir(config);
    const session = {
      workMem: config.workMem,
      maintenanceWorkMem: config.maintenanceWorkMem,
      statementTimeoutMs: config.statementTimeoutMs,
    };
    let releaseLock: (() => Promise<void>) | null = null;
    let db: Database;
    // The data directory's record of its database; none for an in-memory database, gone at close.
    let binding: DataDirBinding | null = null;
    /** Embedded: the database was copied from the template, so it is another lake's until it gets its own id. */
    let copied = false;
    let announced = false;
    const announceMigrating = () => {
      if (!announced) options.onMigrating?.();
      announced = true;
    };
    // Each adapter is imported only when used: PGlite and PostGIS weigh tens of MB in memory.
    if (config.databaseUrl) {
      const { openServer } = await import('./db/adapters/server.js');
      db = await openServer({ url: config.databaseUrl, poolMax: config.poolMax, preparedStatements: config.preparedStatements, session });
    } else {
      // A running `lake serve` holds the database: asked first, at once, never waited for.
      if (!options.inMemory) {
        const through = await Lake.openThroughServer(config, options);
        if (through) return through;
      }
      const { embeddedDirectory, openEmbedded } = await import('./db/adapters/embedded.js');
      const { lockDirectory } = await import('./db/adapters/directory-lock.js');
      const directory = options.inMemory ? null : embeddedDirectory(config.tiers.hot);
      if (directory) releaseLock = await lockDirectory(config.tiers.hot).catch((error) => lockedByServer(config, error));
      try {
        // Before opening, which would create a database where there was none.
        if (directory) binding = await DataDirBinding.before(config, 'embedded', directory);
        const { cacheDir } = config;
        // A new database to migrate starts as a copy of this installation's template.
        if (directory && (options.migrate ?? true) && !options.loadDataDir && !existsSync(path.join(directory, 'PG_VERSION'))) {
          const { copyTemplate } = await import('./db/embedded-template.js');
          copied = await copyTemplate(directory, { cacheDir, session, partitionMonthsAhead: config.partitionMonthsAhead, onMaking: announceMigrating });
        }
        db = await openEmbedded({ directory, session, cacheDir, loadDataDir: options.loadDataDir, brief: options.brief });
      } catch (error) {
        await releaseLock?.();
        throw error;
      }
    }
    performance.mark('lake:database');
    try {
      let migrations: MigrateResult | null = null;
      let profile: Profile;
      // Once connected, so that an unreachable server is reported as such first.
      if (db.backend === 'server') binding = await DataDirBinding.before(config, 'server', db.location);
      if (copied) await giveOwnIdentity(db);
      await binding?.confirm(db);
      if (options.migrate ?? true) {
        announceMigrating();
        ({ profile, migrations } = await prepareSchema(db, config.partitionMonthsAhead));
      } else {
        profile = await db.detectProfile();
      }
      await binding?.adopt(db);
      db.setUserContextSettings(userContextSettings(profile));
      performance.mark('lake:schema');
      return new Lake(config, db, profile, migrations, copied, releaseLock);
    } catch (error) {
      await db.close().catch(() => {});
      await releaseLock?.();
      throw error;
    }
  }

  /**
   * The lake through the running `lake serve` of this data directory, or null when none answers.
   * Its database is the server's, migrated by it: nothing is migrated from here, and a schema older
   * than this release's is SCHEMA_OUTDATED (restart the server, which migrates at start).
   */
  private static async openThroughServer(config: Config, options: OpenOptions): Promise<Lake | null> {
    if (options.throughServer === false) return null;
    const { connectRunningServer } = await import('./db/adapters/remote.js');
    const db = await connectRunningServer(config.tiers.hot);
    if (!db) return null;
    try {
      if (options.migrate ?? true) {
        const { migrationStatus } = await import('./db/migrate.js');
        const behind = (await migrationStatus(db, db.profile)).filter((m) => m.state === 'pending' || m.state === 'changed');
        if (behind.length > 0) {
          throw new LakeError(
            'SCHEMA_OUTDATED',
            `lake serve (pid ${db.server.pid}) holds the embedded database and has not applied migration ${behind.map((m) => String(m.version).padStart(4, '0')).join(', ')} of this release: restart lake serve (it migrates at start), then run the command again`,
          );
        }
      }
      performance.mark('lake:schema');
      return new Lake(config, db, db.profile, null, false, null, db.server);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    performance.mark('lake:close');
    await this.db.close();
    await this.releaseLock?.();
  }
}

/** DATA_DIR_LOCKED, saying so when the holder is `lake serve` and this command cannot go through it. */
async function lockedByServer(config: Config, error: unknown): Promise<never> {
  if (error instanceof LakeError && error.code === 'DATA_DIR_LOCKED') {
    const { runningServerPid } = await import('./db/adapters/remote.js');
    const pid = await runningServerPid(config.tiers.hot);
    if (pid !== null) {
      throw new LakeError(
        'DATA_DIR_LOCKED',
        `the embedded database in ${config.tiers.hot} is held by lake serve (pid ${pid}), and this command needs it to itself: stop lake serve (kill -TERM ${pid}), run the command, start lake serve again`,
        { cause: error },
      );
    }
  }
  throw error;
}

/** Create the tiers and prove each is writable, with one clear line when it is not. */
async function prepareDataDir(config: Config): Promise<void> {
  for (const dir of Object.values(config.tiers)) {
    const probe = path.join(dir, `.write-test-${randomUUID()}`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(probe, '');
      await rm(probe);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'error';
      throw new LakeError('DATA_DIR_UNWRITABLE', `data directory ${config.dataDir} is not writable: cannot write in ${dir} (${code})`, {
        cause,
      });
    }
  }
}
