// Loading that survives the database: transient failures (connection lost, serialization, the
// server restarting) are retried with exponential backoff; a batch the database refuses for its
// data is split in halves, by rows of its COPY data, until the refused rows are alone, and those
// are quarantined with the database's reason while the rest loads. A full disk stops the import
// with a clear error.
import { rowsAsJson } from '../../db/bulk.js';
import type { Database } from '../../db/database.js';
import { retryTransient as withRetries, isDataError } from '../../db/retry.js';
import type { QuarantineCategory } from '../records.js';
import { countRows, splitRows, type EncodedTable } from './encode.js';
import { addLoadCounts, loadPrepared, type LoadCounts, type LoadTarget, type PreparedBatch, type QuarantineEntry } from './loader.js';

export interface ResilientCounts extends LoadCounts {
  quarantinedByDatabase: Partial<Record<QuarantineCategory, number>>;
}

/** Characters of a refused row kept in its quarantine entry. */
const EXCERPT_CHARS = 240;

/** `entry`: the file's path inside the export, for the quarantine entries of rows the database refuses. */
export function loadResilient(db: Database, target: LoadTarget, batch: PreparedBatch, entry: string): Promise<ResilientCounts> {
  return withRetries(() => loadOrSplit(db, target, batch, entry));
}

async function loadOrSplit(db: Database, target: LoadTarget, batch: PreparedBatch, entry: string): Promise<ResilientCounts> {
  try {
    return { ...(await withRetries(() => loadPrepared(db, target, batch))), quarantinedByDatabase: {} };
  } catch (error) {
    if (!isDataError(error)) throw error;
    const rows = countRows(batch.tables);
    if (rows === 0) throw error;
    if (rows === 1) {
      const table = batch.tables.find((t) => t.rows.length === 1)!;
      const refused: QuarantineEntry = {
        entry,
        category: 'invalid',
        reason: `refused by the database: ${(error as Error).message}`,
        byteOffset: table.offsets[0] ?? null,
        excerpt: await excerpt(db, target.userId, table),
      };
      const counts = await withRetries(() =>
        loadPrepared(db, target, { tables: [], quarantine: [...batch.quarantine, refused], checkpoint: batch.checkpoint }),
      );
      return { ...counts, quarantinedByDatabase: { invalid: 1 } };
    }
    // The first half commits without the checkpoint, the second with it: a kill in between
    // resumes before the first half, whose rows then count as duplicates.
    const [firstRows, secondRows] = splitRows(batch.tables, Math.ceil(rows / 2));
    const first = await loadOrSplit(db, target, { tables: firstRows, quarantine: [], checkpoint: null }, entry);
    const second = await loadOrSplit(db, target, { tables: secondRows, quarantine: batch.quarantine, checkpoint: batch.checkpoint }, entry);
    return {
      ...addLoadCounts(first, second),
      quarantinedByDatabase: { invalid: (first.quarantinedByDatabase.invalid ?? 0) + (second.quarantinedByDatabase.invalid ?? 0) || undefined },
    };
  }
}

/** The refused row as the database reads it, shortened; null if it cannot read it at all. */
async function excerpt(db: Database, userId: string, table: EncodedTable): Promise<string | null> {
  const json = await db.asUser(userId, (tx) => rowsAsJson(tx, table.destination.table, table.destination.columns, table.data, 'binary'));
  const text = json?.[0];
  if (text === undefined) return null;
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}
