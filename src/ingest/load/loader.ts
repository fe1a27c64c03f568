// The load stage: one batch of validated records into their tables, with the file's checkpoint in
// the same transaction. A killed import therefore resumes exactly after the last committed batch:
// nothing lost, nothing doubled (and re-sent rows are absorbed by the content-hash keys anyway).
import type { Database } from '../../db/database.js';
import { bulkInsert } from '../../db/bulk.js';
import type { LakeRecord } from '../records.js';
import { copyLine } from './copy-text.js';
import { DESTINATIONS, type Destination } from './tables.js';

export interface Checkpoint {
  fileId: string;
  /** Records of the file handled so far (loaded, duplicate or quarantined), to skip on resume. */
  recordsDone: number;
  byteOffset: number | null;
  cursor?: Record<string, unknown>;
}

export interface LoadCounts {
  received: number;
  inserted: number;
  duplicates: number;
}

export async function loadBatch(
  db: Database,
  userId: string,
  records: readonly LakeRecord[],
  checkpoint: Checkpoint | null,
  importFileId: string | null = checkpoint?.fileId ?? null,
): Promise<LoadCounts> {
  const groups = groupByDestination(records);
  await ensurePartitions(db, groups);
  return db.asUser(userId, async (tx) => {
    const total: LoadCounts = { received: 0, inserted: 0, duplicates: 0 };
    for (const [destination, group] of groups) {
      let text = '';
      for (const record of group) text += copyLine([userId, ...destination.row(record as never, importFileId)]);
      const counts = await bulkInsert(tx, destination.table, destination.columns, text);
      total.received += counts.received;
      total.inserted += counts.inserted;
      total.duplicates += counts.duplicates;
    }
    if (checkpoint) {
      await tx.query(
        `INSERT INTO imports.checkpoints (user_id, file_id, records_done, byte_offset, cursor, updated_at)
         VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (user_id, file_id) DO UPDATE
           SET records_done = excluded.records_done, byte_offset = excluded.byte_offset, cursor = excluded.cursor, updated_at = now()`,
        [userId, checkpoint.fileId, checkpoint.recordsDone, checkpoint.byteOffset, checkpoint.cursor ?? {}],
      );
    }
    return total;
  });
}

function groupByDestination(records: readonly LakeRecord[]): Map<Destination, LakeRecord[]> {
  const groups = new Map<Destination, LakeRecord[]>();
  for (const record of records) {
    const destination = DESTINATIONS[record.type] as Destination;
    let group = groups.get(destination);
    if (!group) groups.set(destination, (group = []));
    group.push(record);
  }
  return groups;
}

/** Monthly partitions for the batch's time range exist before its rows arrive (a no-op on hypertables). */
async function ensurePartitions(db: Database, groups: Map<Destination, LakeRecord[]>): Promise<void> {
  for (const [destination, group] of groups) {
    if (!destination.timeColumn) continue;
    let min = Infinity;
    let max = -Infinity;
    for (const record of group) {
      const t = destination.time(record)?.getTime();
      if (t === undefined || Number.isNaN(t)) continue;
      if (t < min) min = t;
      if (t > max) max = t;
    }
    if (min === Infinity) continue;
    await db.transaction((tx) =>
      tx.query(`SELECT lake.ensure_month_partitions($1, $2, $3)`, [destination.table, new Date(min), new Date(max + 1)]),
    );
  }
}
