// `lake backup`: the database and the blobs it references, together, into the repository.
//
// Consistency between the two: the blob list is read from the same state the database part
// holds (embedded: inside the same pause as the file copy; server: after pgBackRest's backup
// ends, so it holds every reference of the backup's consistent point or later), and a blob is
// always in the store before any row references it (store/blob-refs.ts), so every blob the
// backup's database references is found and copied. A blob written during the backup without its
// reference is in neither. Blobs are copied after the database part, each once per repository.
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import type { Transaction, Queryable } from '../db/database.js';
import { diskFull, isNoSpace } from '../disk-space.js';
import { LakeError } from '../errors.js';
import type { Lake } from '../lake.js';
import { writeBackupFile } from './backup-file.js';
import { copyEntries, FILE_STATE_FILE, fileStateLines, type KnownFile, linesOf, listTree, markUnchanged, readFileState, storeEntries, type TreeFile } from './file-tree.js';
import { type BackupManifest, BackupRepository, MANIFEST_FORMAT } from './repository.js';
import { pruneBackups, type PruneResult } from './retention.js';
import { lakeTableFiles, tableChecksums, type TableChecksum, withDatabaseCopy } from './table-checksums.js';

export const DATABASE_FILE = 'database.dpk';
export const BLOB_LIST_FILE = 'blobs.dpk';
const REF_CHUNK = 10_000;
/**
 * Changed tables up to this size are checksummed in the pause, on the live database, and the
 * copy is not opened: reading 256 MiB costs PGlite about a second here, opening a copy about as much.
 */
const LIVE_CHECK_BYTES = 256 << 20;

/**
 * pause: the database's files are copied while it waits; check: the copy opened and every table
 * checksummed (the database serves again); database: the files hashed, those the repository
 * lacks compressed (and sealed) into it, and their list written; blobs: new blobs copied.
 */
export type BackupPhase = 'pause' | 'check' | 'database' | 'blobs' | 'done';

export interface BackupProgress {
  phase: BackupPhase;
  /** Bytes done in this phase, and the total when known. */
  bytes: number;
  totalBytes: number | null;
}

export interface BackupOptions {
  onProgress?: (progress: BackupProgress) => void;
  /** Server: a full pgBackRest backup whatever LAKE_BACKUP_FULL_EVERY_DAYS says. */
  full?: boolean;
  now?: Date;
}

export async function makeBackup(lake: Lake, repository: BackupRepository, options: BackupOptions = {}): Promise<BackupManifest> {
  const startedAt = options.now ?? new Date();
  const { id, directory } = await repository.begin(startedAt);
  try {
    const blobListText = path.join(directory, 'blobs.txt');
    let database: BackupManifest['database'];
    let tables: Record<string, TableChecksum> = {};
    let schemaVersion: number;
    let lakeId: string;
    if (lake.db.backend === 'embedded') {
      const { withFilesAtRest } = await import('../db/adapters/embedded.js');
      const staging = path.join(directory, 'files.staging');
      const previous = await previousSnapshot(lake, repository);
      options.onProgress?.({ phase: 'pause', bytes: 0, totalBytes: null });
      let entries: TreeFile[] = [];
      let copied = 0;
      let checkInCopy: string[] = [];
      let liveFiles = '';
      // The pause: other requests wait while the files are listed and copied (a plain copy, a
      // reflink where the file system can) and the blob references read. The WAL segments before
      // the checkpoint's redo point and the recycled ones after the insert point are left out:
      // PGlite never removes them itself (6 GB of pg_wal after a 10-million-point load, one
      // segment needed). After a backup of this data directory, the files not written since are
      // not read at all (their content is stored), and the tables in them keep their checksums.
      ({ schemaVersion, lakeId } = await withFilesAtRest(lake.db, async (tx, files) => {
        liveFiles = files;
        const wal = await walInUse(tx);
        entries = await listTree(files, (relative) => !isWalSegment(relative) || (relative.slice(7) >= wal.from && relative.slice(7) <= wal.to));
        if (previous) markUnchanged(entries, previous.files, repository);
        const plan = planChecksums(await lakeTableFiles(tx), entries, previous?.manifest.tables ?? {});
        tables = plan.kept;
        if (previous && plan.changedBytes <= LIVE_CHECK_BYTES) {
          // A small change: the changed tables checksummed here, only the changed files copied.
          Object.assign(tables, await tableChecksums(tx, plan.changed));
          copied = await copyEntries(files, staging, entries.filter((e) => e.directory || !e.sha256));
        } else {
          // Everything copied, to be opened on its own after the pause (as a restore will have to).
          copied = await copyEntries(files, staging, entries.map((e) => ({ ...e, sha256: undefined })));
          checkInCopy = plan.changed;
        }
        await writeBlobList(tx, blobListText);
        return schemaAndIdentity(tx);
      }));
      options.onProgress?.({ phase: 'check', bytes: 0, totalBytes: null });
      if (checkInCopy.length > 0) Object.assign(tables, await withDatabaseCopy(staging, lake.config, (db) => tableChecksums(db, checkInCopy)));
      tables = Object.fromEntries(Object.entries(tables).sort(([a], [b]) => (a < b ? -1 : 1)));
      const postgresMajor = (await readFile(path.join(liveFiles, 'PG_VERSION'), 'utf8')).trim();
      // Each file stored like a blob (only those the repository lacks are written), then their list.
      const stored = await storeEntries(staging, entries, repository, (bytes) => options.onProgress?.({ phase: 'database', bytes, totalBytes: copied }));
      const written = await writeBackupFile(path.join(directory, DATABASE_FILE), linesOf(stored.lines), repository.key);
      await writeBackupFile(path.join(directory, FILE_STATE_FILE), fileStateLines(entries, stored.hashes), repository.key);
      await rm(staging, { recursive: true, force: true });
      database = { kind: 'pglite-files', file: DATABASE_FILE, postgresMajor, written, files: stored.files, bytes: stored.bytes, added: stored.added, addedBytes: stored.addedBytes };
    } else {
      // The cluster with pgBackRest (full when the last full one is older than
      // LAKE_BACKUP_FULL_EVERY_DAYS, else incremental); then the blob list, read after the set
      // ended, so it holds every reference of the set's consistent point (or newer ones).
      const { PgBackRest } = await import('./pgbackrest.js');
      const pgbackrest = new PgBackRest(lake.config);
      options.onProgress?.({ phase: 'database', bytes: 0, totalBytes: null });
      const type = options.full || (await needsFull(pgbackrest, lake.config.backupFullEveryDays, startedAt)) ? 'full' : 'incr';
      const set = await pgbackrest.backup(type);
      ({ schemaVersion, lakeId } = await lake.db.transaction(async (tx) => {
        await writeBlobList(tx, blobListText);
        return schemaAndIdentity(tx);
      }));
      database = {
        kind: 'pgbackrest',
        stanza: pgbackrest.stanza,
        label: set.label,
        type: set.type,
        prior: set.prior,
        databaseBytes: set.databaseBytes,
        repositoryBytes: set.repositoryDeltaBytes,
      };
    }
    const blobs = await copyBlobs(lake, repository, blobListText, options);
    const listWritten = await writeBackupFile(path.join(directory, BLOB_LIST_FILE), createReadStream(blobListText), repository.key);
    await rm(blobListText);
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      id,
      backend: lake.db.backend,
      schemaVersion,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      encrypted: repository.encrypted,
      identity: { lakeId, backend: lake.db.backend },
      database,
      tables,
      blobs: { file: BLOB_LIST_FILE, ...blobs, written: listWritten },
    };
    await repository.commit(directory, manifest);
    options.onProgress?.({ phase: 'done', bytes: 0, totalBytes: null });
    return manifest;
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    if (isNoSpace(error)) throw diskFull(repository.root, 'the backup repository', { cause: error });
    throw error;
  }
}

/** The newest backup of this embedded data directory with its file state, to build on; null when there is none. */
async function previousSnapshot(lake: Lake, repository: BackupRepository): Promise<{ manifest: BackupManifest; files: Map<string, KnownFile> } | null> {
  const { rows } = await lake.db.query<{ lake_id: string }>(`SELECT lake_id::text AS lake_id FROM lake.identity`);
  const lakeId = rows[0]?.lake_id;
  const newest = (await repository.list()).filter((b) => b.manifest.backend === 'embedded' && b.manifest.identity.lakeId === lakeId).at(-1);
  if (!newest) return null;
  // A state that cannot be read (an older backup without one, a damaged file) only costs reading every file.
  const files = await readFileState(path.join(repository.setDirectory(newest.id), FILE_STATE_FILE), repository).catch(() => null);
  return files ? { manifest: newest.manifest, files } : null;
}

/**
 * Which tables keep the checksum the previous backup recorded (none of their files written since)
 * and which are checksummed again, with the bytes of the latter's files.
 */
function planChecksums(
  tables: readonly { name: string; files: string[] }[],
  entries: readonly TreeFile[],
  recorded: Record<string, TableChecksum>,
): { kept: Record<string, TableChecksum>; changed: string[]; changedBytes: number } {
  // A relation's files: the file named by its path, its segments (.1, .2, ...) and forks (_fsm, _vm).
  const byRelation = new Map<string, TreeFile[]>();
  for (const entry of entries) {
    const relation = /^(.*\/\d+)(?:[._].*)?$/.exec(entry.relative)?.[1];
    if (entry.directory || !relation) continue;
    byRelation.set(relation, [...(byRelation.get(relation) ?? []), entry]);
  }
  const plan = { kept: {} as Record<string, TableChecksum>, changed: [] as string[], changedBytes: 0 };
  for (const table of tables) {
    const files = table.files.flatMap((relation) => byRelation.get(relation) ?? []);
    const was = recorded[table.name];
    if (was && files.every((f) => f.sha256)) plan.kept[table.name] = was;
    else {
      plan.changed.push(table.name);
      plan.changedBytes += files.reduce((sum, f) => sum + f.size, 0);
    }
  }
  return plan;
}

/** Whether the next server backup is a full one: none yet, or the newest full one older than `days`. */
async function needsFull(pgbackrest: import('./pgbackrest.js').PgBackRest, days: number, now: Date): Promise<boolean> {
  const full = (await pgbackrest.list()).filter((set) => set.type === 'full').at(-1);
  return !full || now.getTime() - full.startedAt.getTime() >= days * 24 * 60 * 60 * 1000;
}

/** The WAL segments a copy taken now needs: from the last checkpoint's redo point to the insert point. */
async function walInUse(tx: Transaction): Promise<{ from: string; to: string }> {
  const { rows } = await tx.query<{ from: string; to: string }>(
    `SELECT pg_walfile_name(redo_lsn) AS "from", pg_walfile_name(pg_current_wal_insert_lsn()) AS "to" FROM pg_control_checkpoint()`,
  );
  return rows[0]!;
}

function isWalSegment(relative: string): boolean {
  return /^pg_wal\/[0-9A-F]{24}$/.test(relative);
}

async function schemaAndIdentity(db: Queryable): Promise<{ schemaVersion: number; lakeId: string }> {
  const { rows } = await db.query<{ version: number; lake_id: string }>(
    `SELECT (SELECT max(version) FROM lake.migrations WHERE status = 'applied')::int AS version, (SELECT lake_id::text FROM lake.identity) AS lake_id`,
  );
  return { schemaVersion: rows[0]!.version, lakeId: rows[0]!.lake_id };
}

/** Every blob some user references, "sha256 size" per line, in chunks (a million references stay out of memory). */
async function writeBlobList(tx: Transaction, file: string): Promise<void> {
  await tx.query(`SET LOCAL row_security = off`);
  const handle = await open(file, 'w');
  try {
    let after = '';
    for (;;) {
      // Paged on the sha256 index: the output is named hex, so ORDER BY means the column, not its text.
      const { rows } = await tx.query<{ hex: string; size: number }>(
        `SELECT encode(r.sha256, 'hex') AS hex, max(r.size_bytes)::bigint AS size FROM user_data.blob_refs r
          WHERE r.sha256 > decode($1, 'hex') GROUP BY r.sha256 ORDER BY r.sha256 LIMIT ${REF_CHUNK}`,
        [after],
      );
      if (rows.length === 0) break;
      await handle.write(rows.map((r) => `${r.hex} ${r.size}\n`).join(''));
      after = rows.at(-1)!.hex;
    }
  } finally {
    await handle.close();
  }
}

/** Copy into the repository each listed blob it does not hold yet; the list gets each blob's tier. */
async function copyBlobs(lake: Lake, repository: BackupRepository, listFile: string, options: BackupOptions): Promise<{ count: number; bytes: number; added: number; addedBytes: number }> {
  const totals = { count: 0, bytes: 0, added: 0, addedBytes: 0 };
  const withTiers = `${listFile}.tiers`;
  const out = await open(withTiers, 'w');
  try {
    const lines = readline.createInterface({ input: createReadStream(listFile), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line) continue;
      const [sha256, size] = line.split(' ') as [string, string];
      const stat = await lake.blobs.stat(sha256);
      if (!stat) {
        throw new LakeError('BLOB_NOT_FOUND', `blob ${sha256} is referenced by the database but not in the blob store (${lake.blobs.root}): the lake is missing it, so the backup would be too; lake blobs verify lists such blobs`);
      }
      totals.count++;
      totals.bytes += Number(size);
      if (!repository.hasBlob(sha256)) {
        await writeBackupFile(repository.blobPath(sha256), await lake.blobs.open(sha256), repository.key);
        totals.added++;
        totals.addedBytes += stat.size;
        options.onProgress?.({ phase: 'blobs', bytes: totals.addedBytes, totalBytes: null });
      }
      await out.write(`${sha256} ${stat.size} ${stat.tier}\n`);
    }
  } finally {
    await out.close();
  }
  await rename(withTiers, listFile);
  return totals;
}

/** A backup now, then the retention policy applied, as the repository's only writer (`lake backup`, the schedule). */
export async function backupAndPrune(lake: Lake, options: BackupOptions & { prune?: boolean } = {}): Promise<{ manifest: BackupManifest; pruned: PruneResult | null }> {
  const repository = await BackupRepository.open(lake.config, { create: true });
  return repository.exclusive(async () => {
    const manifest = await makeBackup(lake, repository, options);
    const pruned = options.prune === false ? null : await pruneBackups(repository, lake.config, { now: options.now });
    return { manifest, pruned };
  });
}
