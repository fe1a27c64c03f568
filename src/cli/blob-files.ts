// `lake blobs move` and `lake blobs stats`: the blob store's files alone, no database.
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { formatBytes } from '../ingest/report.js';
import { assertSha256, BLOB_TIERS, BlobStore, type BlobStat, type BlobTier, type StoreSummary } from '../store/blob-store.js';
import { printJson } from './output.js';

const DAY_MS = 86_400_000;

export async function moveBlobCommand(settings: Config, sha256: string, options: { tier: BlobTier; json?: boolean }): Promise<void> {
  assertSha256(sha256);
  const moved = await new BlobStore(settings.tiers.blobs).move(sha256, options.tier);
  if (options.json) printJson(moved);
  else console.log(formatBlob(moved));
}

export async function moveOlderBlobsCommand(settings: Config, days: number, options: { tier: BlobTier; json?: boolean }): Promise<void> {
  const store = new BlobStore(settings.tiers.blobs);
  const result = await moveOlderThan(store, new Date(Date.now() - days * DAY_MS), options.tier);
  if (options.json) printJson(result);
  else {
    console.log(`moved ${result.moved} blobs to ${options.tier}: ${formatBytes(result.bytes)}, stored in ${formatBytes(result.storedBytesBefore)} before, ${formatBytes(result.storedBytesAfter)} now`);
    for (const failure of result.failed) console.error(`lake: ${failure.message} [${failure.code}]`);
  }
  if (result.failed.length > 0) process.exitCode = 1;
}

export async function statsCommand(settings: Config, options: { json?: boolean }): Promise<void> {
  const summary = await new BlobStore(settings.tiers.blobs).summarize();
  if (options.json) printJson(summary);
  else console.log(formatSummary(summary));
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
