// The work of `lake backup …` and `lake restore` (definitions in backup.ts).
import path from 'node:path';
import { backupAndPrune, type BackupProgress } from '../backup/make-backup.js';
import { eraseFromBackups } from '../backup/erase-from-backups.js';
import { BackupRepository, type BackupManifest } from '../backup/repository.js';
import { restoreBackup, verifyBackup } from '../backup/restore.js';
import { pruneBackups } from '../backup/retention.js';
import type { Config } from '../config/config.js';
import { formatBytes } from '../ingest/report.js';
import { Lake } from '../lake.js';
import { printJson } from './output.js';

export async function backupCommand(settings: Config, options: { prune: boolean; full?: boolean; json?: boolean }): Promise<void> {
  const lake = await Lake.open(settings);
  const started = performance.now();
  try {
    const { manifest, pruned } = await backupAndPrune(lake, { prune: options.prune, full: options.full, onProgress: options.json ? undefined : progressLine() });
    if (options.json) return printJson({ ...manifest, seconds: round((performance.now() - started) / 1000), pruned });
    if (process.stderr.isTTY) process.stderr.write('\n');
    console.log(`backup ${manifest.id} made in ${((performance.now() - started) / 1000).toFixed(1)} s into ${settings.backupDir}${manifest.encrypted ? ' (encrypted)' : ''}`);
    console.log(describe(manifest));
    if (pruned && pruned.removed.length > 0) console.log(`pruned ${pruned.removed.length} older backup(s): ${pruned.removed.join(', ')}; ${pruned.blobsRemoved} blob copies only they held`);
  } finally {
    await lake.close();
  }
}

export async function listBackupsCommand(settings: Config, options: { json?: boolean }): Promise<void> {
  const repository = await BackupRepository.open(settings);
  const backups = await repository.list();
  if (options.json) return printJson(backups.map((b) => b.manifest));
  for (const { manifest } of backups) console.log(`${manifest.id}  ${describe(manifest)}`);
  if (backups.length === 0) console.log(`no complete backup in ${settings.backupDir}: lake backup makes one`);
}

export async function verifyBackupCommand(settings: Config, idOrPath: string, options: { json?: boolean }): Promise<void> {
  const repository = await repositoryFor(settings, idOrPath);
  const id = await repository.resolve(idOrPath);
  const started = performance.now();
  const result = await verifyBackup(repository, id, settings);
  const seconds = round((performance.now() - started) / 1000);
  if (options.json) return printJson({ ...result, ok: true, seconds });
  console.log(
    `backup ${id} is sound: ${result.tables} tables, ${result.rows} rows match the backup's record; ${result.blobs} blobs (${formatBytes(result.blobBytes)}) match their SHA-256 (${seconds} s)`,
  );
}

export async function pruneBackupsCommand(settings: Config, options: { dryRun?: boolean; json?: boolean }): Promise<void> {
  const repository = await BackupRepository.open(settings);
  const result = await repository.exclusive(() => pruneBackups(repository, settings, { dryRun: options.dryRun }));
  if (options.json) return printJson(result);
  const verb = options.dryRun ? 'would remove' : 'removed';
  console.log(`kept ${result.kept.length} backup(s); ${verb} ${result.removed.length}${result.removed.length ? `: ${result.removed.join(', ')}` : ''}`);
  if (!options.dryRun) console.log(`removed ${result.blobsRemoved} blob copies no kept backup lists`);
}

export async function eraseFromBackupsCommand(settings: Config, name: string, options: { json?: boolean }): Promise<void> {
  const repository = await BackupRepository.open(settings);
  const result = await repository.exclusive(() => eraseFromBackups(repository, name, settings));
  if (options.json) return printJson(result);
  for (const { id, rows } of result.rewritten) console.log(`${id}: rewritten without ${name} (${rows} rows removed), every table checked again`);
  if (result.without.length > 0) console.log(`${result.without.length} backup(s) did not hold ${name}`);
  for (const { id, reason } of result.notRewritable) console.log(`${id}: still holds ${name}: ${reason}`);
  console.log(`${result.blobCopiesRemoved} blob copies no backup lists any more removed`);
  if (result.notRewritable.length > 0) process.exitCode = 1;
}

export async function restoreCommand(settings: Config, idOrPath: string, options: { pgData?: string; toTime?: Date; json?: boolean }): Promise<void> {
  const repository = await repositoryFor(settings, idOrPath);
  // With a time and no particular backup, the backup is the newest that began before that time.
  const latestBefore = idOrPath === 'latest' && options.toTime ? (await repository.list()).filter((b) => new Date(b.manifest.startedAt) <= options.toTime!).at(-1) : undefined;
  const id = latestBefore?.id ?? (await repository.resolve(idOrPath));
  const started = performance.now();
  const result = await restoreBackup(repository, id, { dataDir: settings.dataDir, pgData: options.pgData, toTime: options.toTime, anySet: idOrPath === 'latest' }, settings);
  const seconds = round((performance.now() - started) / 1000);
  if (options.json) return printJson({ ...result, pgData: options.pgData ?? null, toTime: options.toTime?.toISOString() ?? null, seconds });
  const blobs = `${result.blobs} blobs (${formatBytes(result.blobBytes)})`;
  if (options.pgData) {
    console.log(`restored backup ${id} in ${seconds} s: the cluster into ${options.pgData}${options.toTime ? ` as of ${options.toTime.toISOString()}` : ''} (start PostgreSQL on it), ${blobs} into ${result.dataDir}`);
  } else {
    console.log(`restored backup ${id} into ${result.dataDir} in ${seconds} s: ${result.tables} tables, ${result.rows} rows (each table checked against the backup's record), ${blobs}`);
  }
}

/** A path to a backup's directory names its repository (…/sets/ID); an id is looked up in LAKE_BACKUP_DIR. */
async function repositoryFor(settings: Config, idOrPath: string): Promise<BackupRepository> {
  if (!idOrPath.includes('/')) return BackupRepository.open(settings);
  const root = path.dirname(path.dirname(path.resolve(idOrPath)));
  return BackupRepository.open({ ...settings, backupDir: root });
}

function describe(manifest: BackupManifest): string {
  const database =
    manifest.database.kind === 'pglite-files'
      ? `database ${formatBytes(manifest.database.bytes)} in ${manifest.database.files} files (${formatBytes(manifest.database.addedBytes)} new)`
      : `pgBackRest ${manifest.database.type} set ${manifest.database.label}`;
  const rows = Object.values(manifest.tables).reduce((sum, t) => sum + t.rows, 0);
  return `${manifest.startedAt}  ${manifest.backend}  ${database}, ${rows} rows; ${manifest.blobs.count} blobs (${formatBytes(manifest.blobs.bytes)}, ${manifest.blobs.added} new)${manifest.encrypted ? '  encrypted' : ''}`;
}

function progressLine(): (progress: BackupProgress) => void {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (progress) => {
    if (progress.phase === 'done') return;
    const now = performance.now();
    if (now - last < (tty ? 100 : 5000) && progress.bytes > 0) return;
    last = now;
    const text =
      progress.phase === 'pause'
        ? 'backup: copying the database files (the database waits)…'
        : progress.phase === 'check'
          ? 'backup: opening the copy, counting and checksumming every table…'
          : progress.phase === 'database'
          ? progress.bytes === 0 && !progress.totalBytes
            ? 'backup: the database…'
            : `backup: database ${formatBytes(progress.bytes)}${progress.totalBytes ? ` of ${formatBytes(progress.totalBytes)}` : ''}`
          : `backup: new blobs ${formatBytes(progress.bytes)}`;
    process.stderr.write(tty ? `\r${text.padEnd(60)}` : `${text}\n`);
  };
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}
