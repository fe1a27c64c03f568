// Which backups the retention policy keeps (LAKE_BACKUP_KEEP_DAILY/WEEKLY/MONTHLY, the
// architecture's 7 daily, weekly for 30 days, monthly for 365), and pruning the rest: their sets,
// then every copy in the pool no kept backup lists (a blob, or a file of an embedded database). The newest backup is always kept. Days, weeks
// (ISO, Monday first) and months are counted in UTC, so the result does not move with the clock's zone.
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { BackupRepository, ListedBackup } from './repository.js';
import { parseTreeLine } from './file-tree.js';
import { databaseListLines, listedBlobs } from './restore.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export type RetentionPolicy = Pick<Config, 'backupKeepDaily' | 'backupKeepWeekly' | 'backupKeepMonthly'>;

export interface PruneResult {
  kept: string[];
  removed: string[];
  blobsRemoved: number;
  dryRun: boolean;
}

function dayOf(time: Date): string {
  return time.toISOString().slice(0, 10);
}

function weekOf(time: Date): string {
  // The Monday of the time's ISO week.
  const day = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate()));
  day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
  return dayOf(day);
}

function monthOf(time: Date): string {
  return time.toISOString().slice(0, 7);
}

/** The ids to keep among `backups` (oldest first) at `now`; each kept id with why. */
export function selectKept(backups: readonly ListedBackup[], policy: RetentionPolicy, now: Date): Map<string, string> {
  const kept = new Map<string, string>();
  const rules: [string, number, (time: Date) => string][] = [
    ['daily', policy.backupKeepDaily, dayOf],
    ['weekly', policy.backupKeepWeekly, weekOf],
    ['monthly', policy.backupKeepMonthly, monthOf],
  ];
  for (const [rule, days, bucketOf] of rules) {
    const since = now.getTime() - days * DAY_MS;
    const newestPerBucket = new Map<string, string>();
    for (const { id, manifest } of backups) {
      const time = new Date(manifest.startedAt);
      if (time.getTime() >= since) newestPerBucket.set(bucketOf(time), id); // oldest first: the last one wins
    }
    for (const id of newestPerBucket.values()) if (!kept.has(id)) kept.set(id, rule);
  }
  const newest = backups.at(-1);
  if (newest && !kept.has(newest.id)) kept.set(newest.id, 'newest');
  return kept;
}

/** Remove the backups the policy does not keep, then the blob copies no kept backup lists. */
export async function pruneBackups(repository: BackupRepository, policy: RetentionPolicy, options: { now?: Date; dryRun?: boolean } = {}): Promise<PruneResult> {
  const backups = await repository.list();
  const kept = selectKept(backups, policy, options.now ?? new Date());
  const removed = backups.filter((b) => !kept.has(b.id)).map((b) => b.id);
  const result: PruneResult = { kept: [...kept.keys()].sort(), removed, blobsRemoved: 0, dryRun: options.dryRun ?? false };
  if (options.dryRun) return result;
  for (const id of removed) {
    // Renamed first, so a prune cut short leaves no set that looks complete without its files.
    const directory = repository.setDirectory(id);
    await rm(`${directory}.partial`, { recursive: true, force: true });
    await rename(directory, `${directory}.partial`);
    await rm(`${directory}.partial`, { recursive: true, force: true });
  }
  result.blobsRemoved = await removeUnlistedBlobs(repository);
  return result;
}

/** Delete every copy in the pool that no complete backup lists: neither a blob of its blob list nor a file of its database list. */
export async function removeUnlistedBlobs(repository: BackupRepository): Promise<number> {
  const listed = new Set<string>();
  for (const { manifest } of await repository.list()) {
    for await (const blob of listedBlobs(repository, manifest)) listed.add(blob.sha256);
    if (manifest.database.kind === 'pglite-files') {
      const name = `${manifest.id}/${manifest.database.file}`;
      for await (const line of databaseListLines(repository, manifest)) {
        if (!line) continue;
        const entry = parseTreeLine(line, name);
        if (!entry.directory) listed.add(entry.sha256);
      }
    }
  }
  let removed = 0;
  const root = path.join(repository.root, 'blobs');
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(path.join(root, prefix)).catch(() => [] as string[])) {
      if (listed.has(name)) continue;
      await rm(path.join(root, prefix, name), { force: true });
      removed++;
    }
  }
  return removed;
}
