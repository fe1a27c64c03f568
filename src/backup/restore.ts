// `lake restore` and `lake backup verify`: a backup read back, every byte checked.
//
// A restore never writes into its target until everything is there and checked: it builds the
// new data directory beside the target (`<target>.restoring-<pid>`), writes the database's files
// (each from its copy in the repository, checked against its SHA-256), puts
// every blob (each checked against its name), opens the restored database and recomputes every
// table's rows and checksum against the manifest, writes the data directory's record, and only
// then renames it into place. Any failure removes what it built; the target is left as it was.
// Verify does the same into a scratch directory it removes, without copying the blobs (each
// blob copy is read and checked against its name instead).
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { IDENTITY_FILE, type DataDirIdentity } from '../data-dir-identity.js';
import { loadMigrations } from '../db/migrate.js';
import { diskFull, isNoSpace } from '../disk-space.js';
import { LakeError } from '../errors.js';
import { BlobStore, isBlobTier, type BlobTier } from '../store/blob-store.js';
import { readBackupFile, readBackupFileLines } from './backup-file.js';
import { restoreTree } from './file-tree.js';
import type { BackupManifest, BackupRepository } from './repository.js';
import { checksumDifferences, tableChecksums, withDatabaseCopy } from './table-checksums.js';

export interface ListedBlob {
  sha256: string;
  size: number;
  tier: BlobTier;
}

export interface RestoreResult {
  id: string;
  dataDir: string;
  tables: number;
  rows: number;
  blobs: number;
  blobBytes: number;
}

export interface VerifyResult {
  id: string;
  tables: number;
  rows: number;
  blobs: number;
  blobBytes: number;
  databaseBytes: number;
}

type SessionConfig = Pick<Config, 'workMem' | 'maintenanceWorkMem' | 'statementTimeoutMs' | 'cacheDir'>;

/** Refuse a backup whose schema this lake does not know (made by a newer lake). */
export async function assertKnownSchema(manifest: BackupManifest): Promise<void> {
  const known = Math.max(...(await loadMigrations()).map((m) => m.version));
  if (manifest.schemaVersion > known) {
    throw new LakeError(
      'SCHEMA_TOO_NEW',
      `backup ${manifest.id} has schema version ${manifest.schemaVersion}, and this lake knows versions up to ${known}: restore it with a newer lake`,
    );
  }
}

/** The blobs a backup's database references, from its list (checked as it is read). */
export async function* listedBlobs(repository: BackupRepository, manifest: BackupManifest): AsyncGenerator<ListedBlob> {
  const file = path.join(repository.setDirectory(manifest.id), manifest.blobs.file);
  const lines = readBackupFileLines(file, repository.key, `${manifest.id}/${manifest.blobs.file}`, manifest.blobs.written.sha256);
  for await (const line of lines) {
    if (!line) continue;
    const [sha256, size, tier] = line.split(' ');
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !isBlobTier(tier ?? '') || !Number.isSafeInteger(Number(size))) {
      throw new LakeError('BACKUP_CORRUPT', `backup ${manifest.id}: the blob list has a malformed line ${JSON.stringify(line.slice(0, 100))}`);
    }
    yield { sha256, size: Number(size), tier: tier as BlobTier };
  }
}

/** A blob copy's content, checked: decoded to its end record, and hashing to its name (the caller's put/hash checks that). */
function blobContent(repository: BackupRepository, blob: ListedBlob, id: string): AsyncGenerator<Buffer> {
  const file = repository.blobPath(blob.sha256);
  if (!existsSync(file)) {
    throw new LakeError('BACKUP_CORRUPT', `backup ${id}: blob ${blob.sha256} is referenced by the backup's database and missing from the repository (${file})`);
  }
  return readBackupFile(file, repository.key, `blobs/${blob.sha256.slice(0, 2)}/${blob.sha256}`, blob.sha256);
}

/** The lines of an embedded backup's list of its database files (file-tree.ts), checked as they are read. */
export function databaseListLines(repository: BackupRepository, manifest: BackupManifest): AsyncIterable<string> {
  if (manifest.database.kind !== 'pglite-files') throw new Error('databaseListLines: not an embedded backup');
  if (typeof manifest.database.files !== 'number') {
    throw new LakeError('BACKUP_CORRUPT', `backup ${manifest.id} holds its database as a tar (made by an older lake): this lake reads only database file lists; restore it with the lake that made it`);
  }
  const name = `${manifest.id}/${manifest.database.file}`;
  const file = path.join(repository.setDirectory(manifest.id), manifest.database.file);
  return readBackupFileLines(file, repository.key, name, manifest.database.written.sha256);
}

/** Write the embedded database of `manifest` into `directory`, each file checked, and check every table against the manifest. */
async function restoreEmbeddedDatabase(repository: BackupRepository, manifest: BackupManifest, directory: string, config: SessionConfig): Promise<{ tables: number; rows: number; bytes: number }> {
  if (manifest.database.kind !== 'pglite-files') throw new Error('restoreEmbeddedDatabase: not an embedded backup');
  await mkdir(directory, { recursive: true });
  const restored = await restoreTree(databaseListLines(repository, manifest), directory, repository, `${manifest.id}/${manifest.database.file}`);
  if (restored.files !== manifest.database.files) {
    throw new LakeError('BACKUP_CORRUPT', `backup ${manifest.id}: its database list names ${restored.files} files, its manifest says ${manifest.database.files}`);
  }
  const actual = await withDatabaseCopy(directory, config, tableChecksums);
  const differences = checksumDifferences(manifest.tables, actual);
  if (differences.length > 0) {
    throw new LakeError('BACKUP_CORRUPT', `backup ${manifest.id}: the restored database does not hold what the backup recorded: ${differences.slice(0, 5).join('; ')}${differences.length > 5 ? ` (and ${differences.length - 5} more)` : ''}`);
  }
  return { tables: Object.keys(actual).length, rows: Object.values(actual).reduce((sum, t) => sum + t.rows, 0), bytes: restored.bytes };
}

export interface RestoreTarget {
  /** The new data directory (its blobs, and the embedded database): absent or empty. */
  dataDir: string;
  /** Server backups: the PostgreSQL data directory pgBackRest restores the cluster into (absent or empty). */
  pgData?: string;
  /** Server backups: point-in-time recovery to this moment from the archived WAL. */
  toTime?: Date;
  /** Server backups with toTime: let pgBackRest pick the newest set that ended before it (the id was `latest`). */
  anySet?: boolean;
}

type RestoreConfig = SessionConfig & Pick<Config, 'pgbackrest' | 'pgbackrestStanza'>;

export async function restoreBackup(repository: BackupRepository, id: string, target: RestoreTarget, config: RestoreConfig): Promise<RestoreResult> {
  const manifest = await repository.readManifest(id);
  await assertKnownSchema(manifest);
  const server = manifest.database.kind === 'pgbackrest';
  if (!server && (target.pgData || target.toTime)) {
    throw new LakeError('USAGE', `backup ${id} is of the embedded database: it restores to the moment it was made, into LAKE_DATA_DIR (--pg-data and --to-time are for server backups)`);
  }
  if (server && !target.pgData) {
    throw new LakeError('USAGE', `backup ${id} is of a PostgreSQL server: give --pg-data DIR, the new data directory pgBackRest restores the cluster into`);
  }
  const dataDir = path.resolve(target.dataDir);
  await assertEmptyTarget(dataDir);
  const building = `${dataDir}.restoring-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  try {
    let tables = 0;
    let rows = 0;
    let database: string;
    const { embeddedDirectory } = await import('../db/adapters/embedded.js');
    if (!server) {
      ({ tables, rows } = await restoreEmbeddedDatabase(repository, manifest, embeddedDirectory(path.join(building, 'hot')), config));
      database = embeddedDirectory(path.join(dataDir, 'hot'));
    } else {
      database = `the cluster restored by pgBackRest into ${target.pgData}`;
    }
    // Point-in-time: the database may reference blobs stored after this backup, up to the next one.
    const lists = server && target.toTime ? await backupsAround(repository, manifest, target.toTime) : [manifest];
    const store = new BlobStore(path.join(building, 'blobs'));
    let blobs = 0;
    let blobBytes = 0;
    for (const listed of lists) {
      for await (const blob of listedBlobs(repository, listed)) {
        if (lists.length > 1 && (await store.has(blob.sha256))) continue;
        const put = await store.put(blobContent(repository, blob, listed.id), { tier: blob.tier });
        if (put.sha256 !== blob.sha256) {
          throw new LakeError('BACKUP_CORRUPT', `backup ${listed.id}: the copy of blob ${blob.sha256} holds content hashing to ${put.sha256}`);
        }
        blobs++;
        blobBytes += put.size;
      }
    }
    if (server && manifest.database.kind === 'pgbackrest') {
      // Last: pgBackRest checks the set and its WAL before it writes anything into pgData.
      const { PgBackRest } = await import('./pgbackrest.js');
      await new PgBackRest(config).restore({ label: target.anySet ? undefined : manifest.database.label, pgData: target.pgData!, toTime: target.toTime });
    }
    const identity: DataDirIdentity = { lakeId: manifest.identity.lakeId, backend: manifest.backend, database, recordedAt: new Date().toISOString() };
    await writeFile(path.join(building, IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`);
    if (existsSync(dataDir)) await rmdir(dataDir);
    await rename(building, dataDir);
    return { id, dataDir, tables, rows, blobs, blobBytes };
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    if (isNoSpace(error)) throw diskFull(path.dirname(dataDir), 'the restore target', { cause: error });
    throw error;
  }
}

/** The server backups of this lake that began before `toTime`, and the first one after it: their blob lists hold every blob the database can reference at `toTime`. */
async function backupsAround(repository: BackupRepository, manifest: BackupManifest, toTime: Date): Promise<BackupManifest[]> {
  const same = (await repository.list()).map((b) => b.manifest).filter((m) => m.backend === 'server' && m.identity.lakeId === manifest.identity.lakeId);
  const before = same.filter((m) => new Date(m.startedAt) <= toTime);
  const next = same.find((m) => new Date(m.startedAt) > toTime);
  return [...before, ...(next ? [next] : [])];
}

/** A restore goes only into a directory that does not exist or is empty. */
export async function assertEmptyTarget(dataDir: string): Promise<void> {
  const entries = await readdir(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  if (entries.length > 0) {
    throw new LakeError(
      'RESTORE_TARGET_NOT_EMPTY',
      `${dataDir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): a restore goes into a new or empty data directory, and nothing was changed`,
    );
  }
}

/** Restore into a scratch directory and check everything; nothing is kept. */
export async function verifyBackup(repository: BackupRepository, id: string, config: RestoreConfig): Promise<VerifyResult> {
  const manifest = await repository.readManifest(id);
  let databaseBytes = 0;
  let tables = 0;
  let rows = 0;
  await assertKnownSchema(manifest);
  if (manifest.database.kind === 'pgbackrest') {
    const { PgBackRest } = await import('./pgbackrest.js');
    await new PgBackRest(config).verify(manifest.database.label);
  } else {
    const scratch = path.join(repository.root, `.verify-${id}-${process.pid}`);
    await rm(scratch, { recursive: true, force: true });
    try {
      ({ tables, rows, bytes: databaseBytes } = await restoreEmbeddedDatabase(repository, manifest, path.join(scratch, 'pglite'), config));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  let blobs = 0;
  let blobBytes = 0;
  for await (const blob of listedBlobs(repository, manifest)) {
    // Read to its end: the copy's own record and the blob's name are both checked against its content.
    for await (const chunk of blobContent(repository, blob, id)) blobBytes += chunk.length;
    blobs++;
  }
  return { id, tables, rows, blobs, blobBytes, databaseBytes };
}

