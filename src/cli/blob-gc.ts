// `lake blobs gc`: delete the blobs no user references, asking the database who references what.
import type { Config } from '../config/config.js';
import { formatBytes } from '../ingest/report.js';
import { Lake } from '../lake.js';
import { collectUnreferenced } from '../store/blob-refs.js';
import { BlobStore } from '../store/blob-store.js';
import { printJson } from './output.js';

const HOUR_MS = 3_600_000;

export async function gcCommand(settings: Config, options: { graceHours: number; dryRun?: boolean; json?: boolean }): Promise<void> {
  // Never beside a running server: a blob it is storing may not be referenced yet.
  const lake = await Lake.open(settings, { throughServer: false });
  try {
    const result = await collectUnreferenced(lake.db, new BlobStore(settings.tiers.blobs), {
      graceMs: options.graceHours * HOUR_MS,
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
}
