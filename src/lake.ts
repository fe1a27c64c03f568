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
      const { embeddedDirectory, openEmbedded } = await import('./db/adapters/embedded.js');
      const { lockDirectory } = await import('./db/adapters/directory-lock.js');
      const directory = options.inMemory ? null : embeddedDirectory(config.tiers.hot);
      if (directory) releaseLock = await lockDirectory(config.tiers.hot);
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

  async close(): Promise<void> {
    performance.mark('lake:close');
    await this.db.close();
    await this.releaseLock?.();
  }
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
