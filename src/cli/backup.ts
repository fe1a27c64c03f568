// `lake backup` (make one now, list, verify, prune) and `lake restore`. Definitions only: the work
// is in backup-run.ts, imported when a command runs.
import type { Command } from 'commander';
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { assertUserName } from '../query/users.js';

// The parent `backup` has --json too, and commander gives the flag to the parent wherever it is
// typed: each subcommand reads both.
export function registerBackupCommands(program: Command, config: () => Config): void {
  const backup = program
    .command('backup')
    .description('back up the database and the blobs it references into LAKE_BACKUP_DIR; with no subcommand, make one now')
    .option('--no-prune', 'do not apply the retention policy afterwards')
    .option('--full', 'server: a full pgBackRest backup now (default: full when the last full one is older than LAKE_BACKUP_FULL_EVERY_DAYS, else incremental)')
    .option('--json', 'print the new backup\'s manifest (its id first) as JSON')
    .action(async (options: { prune: boolean; full?: boolean; json?: boolean }) => {
      const { backupCommand } = await import('./backup-run.js');
      await backupCommand(config(), options);
    });

  backup
    .command('list')
    .description('the complete backups, oldest first: id, time, backend, database and blob sizes')
    .option('--json', 'print them as JSON')
    .action(async (options: { json?: boolean }) => {
      const { listBackupsCommand } = await import('./backup-run.js');
      await listBackupsCommand(config(), { json: options.json || backup.opts().json });
    });

  backup
    .command('verify')
    .description('restore a backup into a scratch place and check it: every file, every table\'s rows and checksum, every blob\'s SHA-256')
    .argument('[id]', 'the backup (default: the newest)', 'latest')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const { verifyBackupCommand } = await import('./backup-run.js');
      await verifyBackupCommand(config(), id, { json: options.json || backup.opts().json });
    });

  backup
    .command('prune')
    .description('remove the backups the retention policy does not keep (LAKE_BACKUP_KEEP_*), and the blob copies only they held')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .option('--erase <name>', 'instead: erase this user from every backup that can be rewritten (embedded ones), listing those that cannot (pgBackRest sets)')
    .option('--yes', 'with --erase: required, the erasure cannot be undone')
    .option('--json', 'print the result as JSON')
    .action(async (options: { dryRun?: boolean; erase?: string; yes?: boolean; json?: boolean }) => {
      const json = options.json || backup.opts().json;
      if (options.erase !== undefined) {
        assertUserName(options.erase, `--erase ${options.erase}`);
        if (!options.yes) throw new LakeError('USAGE', `backup prune --erase ${options.erase} rewrites every backup without that user and cannot be undone: add --yes`);
        const { eraseFromBackupsCommand } = await import('./backup-run.js');
        return eraseFromBackupsCommand(config(), options.erase, { json });
      }
      const { pruneBackupsCommand } = await import('./backup-run.js');
      await pruneBackupsCommand(config(), { dryRun: options.dryRun, json });
    });

  program
    .command('restore')
    .description('restore a backup into the configured data directory (LAKE_DATA_DIR), which must be new or empty; a server backup also into --pg-data')
    .argument('<backup>', 'a backup id from LAKE_BACKUP_DIR, "latest", or the path of a backup\'s directory (…/sets/ID)')
    .option('--pg-data <dir>', 'server backups: the new PostgreSQL data directory pgBackRest restores the cluster into (absent or empty; a path on the database host)')
    .option('--to-time <time>', 'server backups: point-in-time recovery to this moment (ISO 8601 with a zone, e.g. 2026-12-07T15:04:05Z) from the archived WAL')
    .option('--json', 'print the result as JSON')
    .action(async (backupRef: string, options: { pgData?: string; toTime?: string; json?: boolean }) => {
      let toTime: Date | undefined;
      if (options.toTime !== undefined) {
        toTime = new Date(options.toTime);
        if (!/(Z|[+-]\d\d:?\d\d)$/.test(options.toTime) || Number.isNaN(toTime.getTime())) {
          throw new LakeError('USAGE', `--to-time ${options.toTime} is not valid: expected an ISO 8601 time with its zone, e.g. 2026-12-07T15:04:05Z`);
        }
      }
      const { restoreCommand } = await import('./backup-run.js');
      await restoreCommand(config(), backupRef, { pgData: options.pgData, toTime, json: options.json });
    });
}
