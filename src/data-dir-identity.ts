// Which database a data directory belongs to. The blobs under a data directory are referenced by
// one lake's database only; opened with another database, `lake blobs gc` would see them all as
// unreferenced and delete them. So the data directory records, at first use, the lake id of its
// database (lake.identity, migration 0019) and the backend, in lake-identity.json, and every open
// refuses a database that is not that one, before touching anything.
//
// Data directories from before this record are adopted on first open, except where their own
// contents say they belong elsewhere (see assertMayOpen). Moving a lake to another database on
// purpose (a restore onto a new server) will rewrite the record through an explicit command; the
// record is a plain file so that such a command only has to replace it.
import { randomUUID } from 'node:crypto';
import { access, link, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config/config.js';
import type { Backend, Database, Queryable } from './db/database.js';
import { LakeError } from './errors.js';
import { BlobStore } from './store/blob-store.js';

export const IDENTITY_FILE = 'lake-identity.json';

export interface DataDirIdentity {
  /** lake.identity's lake_id in the database the data directory belongs to. */
  lakeId: string;
  backend: Backend;
  /** Where that database was when recorded, for humans (Database.location: no password). */
  database: string;
  recordedAt: string;
}

/** A data directory about to be opened with a database: checked before, during and after opening. */
export class DataDirBinding {
  private constructor(
    private readonly config: Config,
    private readonly backend: Backend,
    private recorded: DataDirIdentity | null,
  ) {}

  /**
   * Before the database is opened (and, for the embedded one, created): refuse what the data
   * directory alone shows to be another lake's. Call with the embedded directory locked.
   */
  static async before(config: Config, backend: Backend, location: string): Promise<DataDirBinding> {
    const recorded = await readIdentity(config.dataDir);
    const embeddedExists = await hasEmbeddedDatabase(config);
    if (recorded) {
      if (recorded.backend !== backend || (backend === 'embedded' && !embeddedExists)) {
        throw mismatch(config, recorded, `not to the ${embeddedExists || backend === 'server' ? '' : 'new '}${backend} database ${location}`);
      }
    } else if ((backend === 'server' ? embeddedExists : !embeddedExists) && (await hasBlobs(config))) {
      // The bug this file exists for: DATABASE_URL set over a data directory whose blobs the
      // embedded database references (or the embedded database made anew over a server lake's).
      const [reason, remedy] =
        backend === 'server'
          ? [`it holds blobs and an embedded database (in ${path.join(config.tiers.hot, 'pglite')}), so its blobs are likely that database's`, 'unset DATABASE_URL']
          : [`it holds blobs but no embedded database, so its blobs are likely a server database's`, 'set DATABASE_URL to that server database'];
      throw new LakeError(
        'DATA_DIR_MISMATCH',
        `data directory ${config.dataDir} has no record of its database (${IDENTITY_FILE}) and ${reason}: refusing to use it with the ${backend} database ${location}; use another LAKE_DATA_DIR, or ${remedy}`,
        { details: { dataDir: config.dataDir, backend } },
      );
    }
    return new DataDirBinding(config, backend, recorded);
  }

  /** Once the database is open, before migrating it: it must be the recorded one. */
  async confirm(db: Database): Promise<void> {
    if (!this.recorded) return;
    const lakeId = await readLakeId(db);
    if (lakeId !== this.recorded.lakeId) {
      throw mismatch(this.config, this.recorded, `not to the ${db.backend} database ${db.location} (${lakeId ? `lake ${lakeId}` : 'no lake id'})`);
    }
  }

  /**
   * Once migrated: record the database in a data directory that has no record yet. Exclusive, so
   * that of two processes adopting one directory at once the second checks the first's record.
   */
  async adopt(db: Database): Promise<void> {
    if (this.recorded) return;
    const lakeId = await readLakeId(db);
    if (!lakeId) return; // not migrated yet (lake doctor, lake migrate --dry-run): adopted later
    const identity: DataDirIdentity = { lakeId, backend: this.backend, database: db.location, recordedAt: new Date().toISOString() };
    const file = path.join(this.config.dataDir, IDENTITY_FILE);
    const temporary = `${file}.${randomUUID()}.tmp`;
    await writeFile(temporary, `${JSON.stringify(identity, null, 2)}\n`, { flush: true });
    try {
      await link(temporary, file);
      this.recorded = identity;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      this.recorded = await readIdentity(this.config.dataDir);
      await this.confirm(db);
    } finally {
      await rm(temporary, { force: true });
    }
  }
}

function mismatch(config: Config, recorded: DataDirIdentity, notTo: string): LakeError {
  return new LakeError(
    'DATA_DIR_MISMATCH',
    `data directory ${config.dataDir} belongs to the ${recorded.backend} database ${recorded.database} (lake ${recorded.lakeId}), ${notTo}: refusing to use them together; set LAKE_DATA_DIR and DATABASE_URL to a pair that belong together`,
    { details: { dataDir: config.dataDir, recorded } },
  );
}

export async function readIdentity(dataDir: string): Promise<DataDirIdentity | null> {
  const file = path.join(dataDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const identity = JSON.parse(text) as DataDirIdentity;
    if (typeof identity.lakeId === 'string' && (identity.backend === 'embedded' || identity.backend === 'server') && typeof identity.database === 'string') {
      return identity;
    }
  } catch {
    // reported below
  }
  throw new LakeError('DATA_DIR_MISMATCH', `${file} is not a data directory record (lakeId, backend, database): cannot tell which database ${dataDir} belongs to`);
}

/** A database copied from another (a template) is another lake: it gets an id of its own (migration 0019). */
export async function giveOwnIdentity(db: Queryable): Promise<void> {
  await db.query(`UPDATE lake.identity SET lake_id = gen_random_uuid(), created_at = now()`);
}

/** The database's lake id, or null before migration 0019. */
async function readLakeId(db: Database): Promise<string | null> {
  const present = await db.query<{ present: boolean }>(`SELECT to_regclass('lake.identity') IS NOT NULL AS present`);
  if (!present.rows[0]?.present) return null;
  const row = await db.query<{ lake_id: string }>(`SELECT lake_id::text AS lake_id FROM lake.identity`);
  return row.rows[0]?.lake_id ?? null;
}

/** Whether the embedded database's files are there (in embeddedDirectory, not imported for its weight). */
async function hasEmbeddedDatabase(config: Config): Promise<boolean> {
  return access(path.join(config.tiers.hot, 'pglite', 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}

async function hasBlobs(config: Config): Promise<boolean> {
  for await (const _ of new BlobStore(config.tiers.blobs).list()) return true;
  return false;
}
