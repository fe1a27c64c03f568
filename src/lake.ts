// The lake as a whole: configuration, data directory, database, capability profile. Opened with
// an async factory so that nothing half-built escapes: `await Lake.open(config)`. A data directory
// is only ever opened with the database it belongs to (data-dir-identity.ts).
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config/config.js';
import { DataDirBinding } from './data-dir-identity.js';
import { APP_ROLE, type Database } from './db/database.js';
import { installExtensions } from './db/extensions.js';
import { migrate, type MigrateResult } from './db/migrate.js';
import { userContextSettings, type Profile } from './db/profile.js';
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
}

export class Lake {
  /** Files kept as they are, shared content-addressed store under the data directory. */
  readonly blobs: BlobStore;

  private constructor(
    readonly config: Config,
    readonly db: Database,
    readonly profile: Profile,
    readonly migrations: MigrateResult | null,
    private readonly releaseLock: (() => Promise<void>) | null,
  ) {
    this.blobs = new BlobStore(config.tiers.blobs);
  }

  static async open(config: Config, options: OpenOptions = {}): Promise<Lake> {
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
        db = await openEmbedded({ directory, session, loadDataDir: options.loadDataDir });
      } catch (error) {
        await releaseLock?.();
        throw error;
      }
    }
    try {
      let migrations: MigrateResult | null = null;
      let profile: Profile;
      // Once connected, so that an unreachable server is reported as such first.
      if (db.backend === 'server') binding = await DataDirBinding.before(config, 'server', db.location);
      await binding?.confirm(db);
      if (options.migrate ?? true) {
        options.onMigrating?.();
        const notes = await installExtensions(db);
        profile = withNotes(await db.detectProfile(), notes);
        migrations = await migrate(db, profile);
        await assertAppRoleIsSafe(db);
        await db.query(`SELECT lake.ensure_upcoming_partitions($1)`, [config.partitionMonthsAhead]);
      } else {
        profile = await db.detectProfile();
      }
      await binding?.adopt(db);
      db.setUserContextSettings(userContextSettings(profile));
      return new Lake(config, db, profile, migrations, releaseLock);
    } catch (error) {
      await db.close().catch(() => {});
      await releaseLock?.();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.db.close();
    await this.releaseLock?.();
  }
}

function withNotes(profile: Profile, notes: Partial<Record<keyof Profile['extensions'], string>>): Profile {
  for (const [name, note] of Object.entries(notes)) {
    const status = profile.extensions[name as keyof Profile['extensions']];
    if (status && !status.installed) status.note = note;
  }
  return profile;
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

/**
 * Refuse to run when the application role could see across users: a superuser or BYPASSRLS role
 * ignores policies, and a table owner is exempt unless RLS is forced (checked by the tests).
 */
export async function assertAppRoleIsSafe(db: Database): Promise<void> {
  const role = await db.query<{ rolsuper: boolean; rolbypassrls: boolean; owned: number }>(
    `SELECT r.rolsuper, r.rolbypassrls,
            (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relpersistence <> 't')::int
              + (SELECT count(*) FROM pg_namespace n WHERE n.nspowner = r.oid)::int AS owned
       FROM pg_roles r WHERE r.rolname = $1`,
    [APP_ROLE],
  );
  const row = role.rows[0];
  if (!row) throw new LakeError('DB_UNSAFE_ROLE', `the application role ${APP_ROLE} does not exist: run lake migrate`);
  const problems = [
    row.rolsuper && 'is a superuser',
    row.rolbypassrls && 'has BYPASSRLS',
    row.owned > 0 && `owns ${row.owned} database objects`,
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new LakeError('DB_UNSAFE_ROLE', `refusing to run: the application role ${APP_ROLE} ${problems.join(' and ')}, so row-level security would not isolate users`);
  }
}
