// `lake blobs`: the blob store from the command line. `move` and `stats` work on the files alone
// (no database, so they run beside an import); `gc` asks the database who references what.
import { Option, type Command } from 'commander';
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { formatBytes } from '../ingest/report.js';
import { Lake } from '../lake.js';
import { collectUnreferenced, DEFAULT_GRACE_MS } from '../store/blob-refs.js';
import { assertSha256, BLOB_TIERS, BlobStore, type BlobStat, type BlobTier, type StoreSummary } from '../store/blob-store.js';
import { printJson } from './output.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

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
      const store = new BlobStore(config().tiers.blobs);
      if (sha256 !== undefined) {
        assertSha256(sha256);
        const moved = await store.move(sha256, options.tier);
        if (options.json) printJson(moved);
        else console.log(formatBlob(moved));
        return;
      }
      const days = parseNumber('--all-older-than', options.allOlderThan!, 'a number of days >= 0');
      const result = await moveOlderThan(store, new Date(Date.now() - days * DAY_MS), options.tier);
      if (options.json) printJson(result);
      else {
        console.log(`moved ${result.moved} blobs to ${options.tier}: ${formatBytes(result.bytes)}, stored in ${formatBytes(result.storedBytesBefore)} before, ${formatBytes(result.storedBytesAfter)} now`);
        for (const failure of result.failed) console.error(`lake: ${failure.message} [${failure.code}]`);
      }
      if (result.failed.length > 0) process.exitCode = 1;
    });

  blobs
    .command('stats')
    .description('blobs, content size and size on disk per tier')
    .option('--json', 'print the figures as JSON')
    .action(async (options: { json?: boolean }) => {
      const summary = await new BlobStore(config().tiers.blobs).summarize();
      if (options.json) printJson(summary);
      else console.log(formatSummary(summary));
    });

  blobs
    .command('gc')
    .description('delete blobs that no user references, except those stored within the grace period')
    .option('--grace-hours <hours>', 'keep blobs stored or put again within this many hours', String(DEFAULT_GRACE_MS / HOUR_MS))
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--json', 'print the result as JSON')
    .action(async (options: { graceHours: string; dryRun?: boolean; json?: boolean }) => {
      const graceHours = parseNumber('--grace-hours', options.graceHours, 'a number of hours >= 0');
      const settings = config();
      const lake = await Lake.open(settings);
      try {
        const result = await collectUnreferenced(lake.db, new BlobStore(settings.tiers.blobs), {
          graceMs: graceHours * HOUR_MS,
          dryRun: options.dryRun,
        });
        if (options.json) return printJson(result);
        console.log(
          `${options.dryRun ? 'would delete' : 'deleted'} ${result.deleted.length} unreferenced blobs (${formatBytes(result.bytesFreed)}); ` +
            `kept ${result.referenced} referenced and ${result.recent} recent; ${result.temporaryFilesRemoved} stale temporary files removed`,
        );
      } finally {
        await lake.close();
      }
    });
}

interface BulkMoveResult {
  moved: number;
  /** Content bytes moved. */
  bytes: number;
  storedBytesBefore: number;
  storedBytesAfter: number;
  failed: { sha256: string; code: string; message: string }[];
}

/**
 * Move every blob stored before `storedBefore` that is not in `tier` yet. One failure (a corrupt
 * blob) is reported and the others still move. Blobs moved into a tier not listed yet are seen
 * again there and skipped, being in `tier` already.
 */
async function moveOlderThan(store: BlobStore, storedBefore: Date, tier: BlobTier): Promise<BulkMoveResult> {
  const result: BulkMoveResult = { moved: 0, bytes: 0, storedBytesBefore: 0, storedBytesAfter: 0, failed: [] };
  for await (const blob of store.list()) {
    if (blob.tier === tier || blob.storedAt >= storedBefore) continue;
    try {
      const moved = await store.move(blob.sha256, tier);
      result.moved += 1;
      result.bytes += moved.size;
      result.storedBytesBefore += blob.storedSize;
      result.storedBytesAfter += moved.storedSize;
    } catch (error) {
      if (!(error instanceof LakeError) || (error.code !== 'BLOB_CORRUPT' && error.code !== 'BLOB_NOT_FOUND')) throw error;
      result.failed.push({ sha256: blob.sha256, code: error.code, message: error.message });
    }
  }
  return result;
}

function parseNumber(option: string, raw: string, allowed: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) throw new LakeError('USAGE', `${option} ${raw} is not valid: expected ${allowed}`);
  return value;
}

function formatBlob(blob: BlobStat): string {
  return `${blob.sha256} ${blob.tier} ${formatBytes(blob.size)} (stored in ${formatBytes(blob.storedSize)})`;
}

function formatSummary(summary: StoreSummary): string {
  const row = (name: string, t: { blobs: number; bytes: number; storedBytes: number }) =>
    `${name.padEnd(6)} ${String(t.blobs).padStart(9)} ${formatBytes(t.bytes).padStart(11)} ${formatBytes(t.storedBytes).padStart(11)} ${
      t.bytes > 0 ? `${((t.storedBytes / t.bytes) * 100).toFixed(0)}%`.padStart(7) : '      -'
    }`;
  return [
    `${'tier'.padEnd(6)} ${'blobs'.padStart(9)} ${'content'.padStart(11)} ${'on disk'.padStart(11)} ${'ratio'.padStart(7)}`,
    ...BLOB_TIERS.map((tier) => row(tier, summary.tiers[tier])),
    row('total', summary.total),
    ...(summary.damaged > 0 ? [`damaged: ${summary.damaged} blobs whose header cannot be read (content size unknown)`] : []),
    ...(summary.temporary.files > 0 ? [`temporary files: ${summary.temporary.files} (${formatBytes(summary.temporary.bytes)}), removed by \`lake blobs gc\` once stale`] : []),
  ].join('\n');
}
