// `lake backup prune --erase NAME`: a user erased from the backups that still hold them, where the
// format allows it. An embedded backup is rewritten: its database restored into a scratch
// directory, the user erased there as `lake users delete` erases them (every table, one audit
// entry that says nothing of whom), every table counted and checksummed again, the files stored
// anew (only those that changed become new copies in the pool) and the blob list cut to what is
// still referenced; the new lists get new names and the manifest, renamed over the old one, is the
// single moment the backup changes, so a rewrite cut short leaves the backup as it was (plus files
// no manifest names, removed by the next rewrite). Copies in the pool no backup lists any more
// (blobs, database files) are deleted at the end. A pgBackRest set is a physical copy of the whole
// cluster and its WAL: it cannot be rewritten, only expired; those are listed.
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { eraseUser, scrubErasedRows } from '../query/erase.js';
import { BlobStore } from '../store/blob-store.js';
import { writeBackupFile } from './backup-file.js';
import { linesOf, restoreTree, storeTree } from './file-tree.js';
import type { BackupManifest, BackupRepository } from './repository.js';
import { databaseListLines, listedBlobs } from './restore.js';
import { removeUnlistedBlobs } from './retention.js';
import { tableChecksums, withDatabaseCopy } from './table-checksums.js';

export interface BackupErasure {
  /** Backups rewritten without the user, with the rows removed from each. */
  rewritten: { id: string; rows: number }[];
  /** Backups that did not hold the user. */
  without: string[];
  /** Backups that hold the user and cannot be rewritten, and why. */
  notRewritable: { id: string; reason: string }[];
  blobCopiesRemoved: number;
}

type SessionConfig = Pick<Config, 'workMem' | 'maintenanceWorkMem' | 'statementTimeoutMs' | 'cacheDir'>;

export async function eraseFromBackups(repository: BackupRepository, name: string, config: SessionConfig): Promise<BackupErasure> {
  const result: BackupErasure = { rewritten: [], without: [], notRewritable: [], blobCopiesRemoved: 0 };
  for (const { id, manifest } of await repository.list()) {
    if (manifest.database.kind === 'pgbackrest') {
      result.notRewritable.push({
        id,
        reason: `pgBackRest set ${manifest.database.label} is a physical copy of the cluster and its WAL: it cannot be rewritten; expire it (pgbackrest --stanza=${manifest.database.stanza} expire --set=${manifest.database.label}) or let retention remove it`,
      });
      continue;
    }
    const rows = await rewriteWithout(repository, manifest, name, config);
    if (rows === null) result.without.push(id);
    else result.rewritten.push({ id, rows });
  }
  result.blobCopiesRemoved = await removeUnlistedBlobs(repository);
  return result;
}

/** Rewrite one embedded backup without user `name`; the rows removed, or null when it did not hold them. */
async function rewriteWithout(repository: BackupRepository, manifest: BackupManifest, name: string, config: SessionConfig): Promise<number | null> {
  if (manifest.database.kind !== 'pglite-files') throw new Error('rewriteWithout: not an embedded backup');
  const setDirectory = repository.setDirectory(manifest.id);
  const scratch = path.join(repository.root, `.erase-${manifest.id}-${process.pid}`);
  const files = path.join(scratch, 'pglite');
  await rm(scratch, { recursive: true, force: true });
  try {
    const source = `${manifest.id}/${manifest.database.file}`;
    await restoreTree(databaseListLines(repository, manifest), files, repository, source);
    const referenced = new Set<string>();
    const erasure = await withDatabaseCopy(files, config, async (db) => {
      const present = await db.query(`SELECT 1 FROM user_data.users WHERE name = $1`, [name]);
      if (present.rows.length === 0) return null;
      // The scratch store and upload directory are empty: the backup's blob copies are dealt with below.
      const erased = await eraseUser(db, new BlobStore(path.join(scratch, 'no-blobs')), path.join(scratch, 'no-uploads'), name, 'cli');
      // Their bytes out of the table files and the WAL too, not only out of sight.
      await scrubErasedRows(db, erased.rows);
      const tables = await tableChecksums(db);
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL row_security = off`);
        const { rows } = await tx.query<{ sha256: string }>(`SELECT DISTINCT encode(sha256, 'hex') AS sha256 FROM user_data.blob_refs`);
        for (const row of rows) referenced.add(row.sha256);
      });
      return { erasedRows: erased.rowsTotal, tables };
    });
    if (!erasure) return null;
    const { erasedRows, tables } = erasure;
    const stamp = Date.now().toString(36);
    const databaseFile = `database.${stamp}.dpk`;
    const blobsFile = `blobs.${stamp}.dpk`;
    // The files stored anew: those the erasure left as they were are in the pool already.
    const stored = await storeTree(files, repository);
    const databaseWritten = await writeBackupFile(path.join(setDirectory, databaseFile), linesOf(stored.lines), repository.key);
    const kept = { count: 0, bytes: 0 };
    const lines = async function* (): AsyncGenerator<Buffer> {
      for await (const blob of listedBlobs(repository, manifest)) {
        if (!referenced.has(blob.sha256)) continue;
        kept.count++;
        kept.bytes += blob.size;
        yield Buffer.from(`${blob.sha256} ${blob.size} ${blob.tier}\n`);
      }
    };
    const blobsWritten = await writeBackupFile(path.join(setDirectory, blobsFile), lines(), repository.key);
    const rewritten: BackupManifest = {
      ...manifest,
      database: { ...manifest.database, file: databaseFile, written: databaseWritten, files: stored.files, bytes: stored.bytes },
      tables,
      blobs: { ...manifest.blobs, file: blobsFile, count: kept.count, bytes: kept.bytes, written: blobsWritten },
      erasures: (manifest.erasures ?? 0) + 1,
    };
    const manifestFile = path.join(setDirectory, 'manifest.json');
    await writeFile(`${manifestFile}.partial`, `${JSON.stringify(rewritten, null, 2)}\n`);
    await rename(`${manifestFile}.partial`, manifestFile);
    // The old files, and any left by an earlier rewrite cut short: every .dpk the manifest does not name.
    for (const entry of await readdir(setDirectory)) {
      if ((entry.endsWith('.dpk') && entry !== databaseFile && entry !== blobsFile) || entry.endsWith('.partial')) await rm(path.join(setDirectory, entry), { force: true });
    }
    return erasedRows;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
