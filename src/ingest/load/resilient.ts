// Loading that survives the database: transient failures (connection lost, serialization, the
// server restarting) are retried with exponential backoff; a batch the database refuses for its
// data is split in halves until the refused records are alone, and those are quarantined with
// the database's reason while the rest loads. A full disk stops the import with a clear error.
import type { Database } from '../../db/database.js';
import { retryTransient as withRetries, isDataError } from '../../db/retry.js';
import type { LakeRecord, QuarantineCategory } from '../records.js';
import { loadBatch, loadPrepared, type Batch, type LoadCounts, type LoadTarget, type PreparedBatch, type QuarantineEntry } from './loader.js';

export interface ResilientBatch extends Batch {
  /** Byte offset of each record in its file, for quarantine entries. */
  offsets?: readonly number[];
  /** The batch already turned into COPY text (prepareBatch), for the first attempt. */
  prepared?: PreparedBatch;
  /** The file's path inside the export, for quarantine entries of records the database refuses. */
  entry?: string;
  /** Where the records are when `records` is empty but `prepared` is not (a parse worker keeps them). */
  loadRecords?: () => Promise<{ records: LakeRecord[]; offsets: number[] }>;
}

export interface ResilientCounts extends LoadCounts {
  quarantinedByDatabase: Partial<Record<QuarantineCategory, number>>;
}

export function loadResilient(db: Database, target: LoadTarget, batch: ResilientBatch): Promise<ResilientCounts> {
  return withRetries(() => loadOrSplit(db, target, batch));
}

async function loadOrSplit(db: Database, target: LoadTarget, batch: ResilientBatch): Promise<ResilientCounts> {
  try {
    const prepared = batch.prepared;
    const load = () => (prepared ? loadPrepared(db, target, prepared) : loadBatch(db, target, batch));
    return { ...(await withRetries(load)), quarantinedByDatabase: {} };
  } catch (error) {
    if (!isDataError(error)) throw error;
    if (batch.loadRecords) {
      const { loadRecords, prepared: _, ...rest } = batch;
      return loadOrSplit(db, target, { ...rest, ...(await loadRecords()) });
    }
    const { records } = batch;
    if (records.length === 0) throw error;
    if (records.length === 1) {
      const refused: QuarantineEntry = {
        entry: batch.entry ?? records[0]!.source,
        category: 'invalid',
        reason: `refused by the database: ${(error as Error).message}`,
        byteOffset: batch.offsets?.[0] ?? null,
        excerpt: excerpt(records[0]!),
      };
      const counts = await withRetries(() =>
        loadBatch(db, target, { records: [], quarantine: [...(batch.quarantine ?? []), refused], checkpoint: batch.checkpoint }),
      );
      return { ...counts, quarantinedByDatabase: { invalid: 1 } };
    }
    // The first half commits without the checkpoint, the second with it: a kill in between
    // resumes before the first half, whose rows then count as duplicates.
    const middle = Math.ceil(records.length / 2);
    const first = await loadOrSplit(db, target, { records: records.slice(0, middle), offsets: batch.offsets?.slice(0, middle), entry: batch.entry });
    const second = await loadOrSplit(db, target, {
      entry: batch.entry,
      records: records.slice(middle),
      offsets: batch.offsets?.slice(middle),
      quarantine: batch.quarantine,
      checkpoint: batch.checkpoint,
    });
    return {
      received: first.received + second.received,
      inserted: first.inserted + second.inserted,
      updated: first.updated + second.updated,
      duplicates: first.duplicates + second.duplicates,
      quarantinedByDatabase: { invalid: (first.quarantinedByDatabase.invalid ?? 0) + (second.quarantinedByDatabase.invalid ?? 0) || undefined },
    };
  }
}

function excerpt(record: LakeRecord): string {
  const text = JSON.stringify(record);
  return text.length > 240 ? `${text.slice(0, 240)}…` : text;
}
