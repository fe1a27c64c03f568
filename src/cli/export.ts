// `lake export --user NAME --out FILE`: the user's portable archive (backup/user-archive.ts),
// written to FILE.partial, synced, then renamed to FILE: a killed export leaves no file that looks
// complete. The summary on stdout (--json for scripts), progress on stderr.
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { userArchive, type ManifestEntry } from '../backup/user-archive.js';
import type { Config } from '../config/config.js';
import { Lake } from '../lake.js';
import { consistentReads } from '../query/export.js';
import { userIdByName } from '../query/users.js';
import { printJson } from './output.js';

export interface ExportSummary {
  user: string;
  file: string;
  bytes: number;
  rows: Record<string, number>;
  rowsTotal: number;
  blobs: number;
  blobBytes: number;
  seconds: number;
}

export async function exportCommand(settings: Config, options: { user: string; out: string; json?: boolean }): Promise<void> {
  const target = path.resolve(options.out);
  const partial = `${target}.partial`;
  const started = performance.now();
  const lake = await Lake.open(settings);
  try {
    const userId = await userIdByName(lake.db, options.user);
    const rows: Record<string, number> = {};
    let blobs = 0;
    let blobBytes = 0;
    const tty = process.stderr.isTTY && !options.json;
    let lastTable = '';
    const onEntry = (entry: ManifestEntry) => {
      if (entry.name.startsWith('blobs/')) {
        blobs += 1;
        blobBytes += entry.size;
      } else if (entry.rows !== undefined) {
        const table = entry.name.split('/')[1]!;
        rows[table] = (rows[table] ?? 0) + entry.rows;
        if (!options.json && table !== lastTable) {
          if (lastTable) process.stderr.write(`${tty ? '\r\x1b[K' : ''}${lastTable}: ${rows[lastTable]} rows\n`);
          lastTable = table;
        }
      }
    };
    const file = await open(partial, 'w', 0o600);
    let bytes = 0;
    try {
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          file.write(chunk).then(() => callback(), callback);
        },
      });
      // On a server every read of the export is in one snapshot, held until the archive is written or fails.
      const reads = consistentReads(lake.db, (work, snapshot) => lake.db.asUser(userId, work, undefined, { snapshot }));
      try {
        await pipeline(userArchive({ db: lake.db, asUser: reads.asUser, blobs: lake.blobs, userName: options.user, onEntry }), sink);
      } finally {
        await reads.close();
      }
      await file.sync();
    } catch (error) {
      await file.close().catch(() => {});
      await rm(partial, { force: true });
      throw error;
    }
    await file.close();
    await rename(partial, target);
    if (lastTable && !options.json) process.stderr.write(`${lastTable}: ${rows[lastTable]} rows\n`);
    const summary: ExportSummary = {
      user: options.user,
      file: target,
      bytes,
      rows,
      rowsTotal: Object.values(rows).reduce((a, b) => a + b, 0),
      blobs,
      blobBytes,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    };
    if (options.json) printJson(summary);
    else {
      console.log(
        `exported user ${summary.user}: ${summary.rowsTotal} rows in ${Object.keys(rows).length} tables, ${blobs} blobs (${blobBytes} bytes), ` +
          `${bytes} bytes to ${target} in ${summary.seconds} s`,
      );
    }
  } finally {
    await lake.close();
  }
}
