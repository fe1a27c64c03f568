// `lake blobs`: the blob store from the command line. `move` and `stats` work on the files alone
// (no database, so they run beside an import), in blob-files.ts; `gc` asks the database who
// references what, in blob-gc.ts. Both are imported when a command runs.
import { Option, type Command } from 'commander';
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { BLOB_TIERS, type BlobTier, DEFAULT_GRACE_HOURS } from '../store/blob-settings.js';

/** Adds `blobs move`, `blobs stats` and `blobs gc` to the program; `config` reads the global options. */
export function registerBlobCommands(program: Command, config: () => Config): void {
  const blobs = program.command('blobs').description('the blob store: files kept as they are (photos, attachments, original exports)');

  blobs
    .command('move')
    .description('move blobs to another tier: hot (as is), warm (LZ4) or cold (zstd); each copy is verified before the old one goes')
    .argument('[sha256]', 'the blob to move')
    .option('--all-older-than <days>', 'every blob stored more than DAYS days ago instead of one')
    .addOption(new Option('--tier <tier>', 'the tier to move to').choices(BLOB_TIERS).makeOptionMandatory())
    .option('--json', 'print the result as JSON')
    .action(async (sha256: string | undefined, options: { allOlderThan?: string; tier: BlobTier; json?: boolean }) => {
      if ((sha256 === undefined) === (options.allOlderThan === undefined)) {
        throw new LakeError('USAGE', 'blobs move: give either a SHA-256 or --all-older-than DAYS');
      }
      const settings = config();
      if (sha256 !== undefined) {
        const { moveBlobCommand } = await import('./blob-files.js');
        return moveBlobCommand(settings, sha256, options);
      }
      const days = parseNumber('--all-older-than', options.allOlderThan!, 'a number of days >= 0');
      const { moveOlderBlobsCommand } = await import('./blob-files.js');
      await moveOlderBlobsCommand(settings, days, options);
    });

  blobs
    .command('stats')
    .description('blobs, content size and size on disk per tier')
    .option('--json', 'print the figures as JSON')
    .action(async (options: { json?: boolean }) => {
      const { statsCommand } = await import('./blob-files.js');
      await statsCommand(config(), options);
    });

  blobs
    .command('gc')
    .description('delete blobs that no user references, except those stored within the grace period')
    .option('--grace-hours <hours>', 'keep blobs stored or put again within this many hours', String(DEFAULT_GRACE_HOURS))
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--json', 'print the result as JSON')
    .action(async (options: { graceHours: string; dryRun?: boolean; json?: boolean }) => {
      const graceHours = parseNumber('--grace-hours', options.graceHours, 'a number of hours >= 0');
      const settings = config();
      const { gcCommand } = await import('./blob-gc.js');
      await gcCommand(settings, { graceHours, dryRun: options.dryRun, json: options.json });
    });
}

function parseNumber(option: string, raw: string, allowed: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) throw new LakeError('USAGE', `${option} ${raw} is not valid: expected ${allowed}`);
  return value;
}
