// The load stage: one batch of validated records into their tables, with the file's checkpoint in
// the same transaction. A killed import therefore resumes exactly after the last committed batch:
// nothing lost, nothing doubled (and re-sent rows are absorbed by the content-hash keys anyway).
import type { Database } from '../../db/database.js';
import { bulkInsert } from '../../db/bulk.js';
import type { LakeRecord, Rejection } from '../records.js';
import { copyLine } from './copy-text.js';
import { DESTINATIONS, type Destination } from './tables.js';

/** Where a file stands once a batch is committed. */
export interface Checkpoint {
  /** Parse events of the file handled so far (records and rejections), to skip on resume. */
  recordsDone: number;
  byteOffset: number | null;
  cursor?: Record<string, unknown>;
}

/** Whose data this is and which import and file it came from. */
export interface LoadTarget {
  userId: string;
  jobId: string | null;
  fileId: string | null;
}

/** A refused record on its way to imports.quarantine. */
export interface QuarantineEntry extends Rejection {
  /** The file's path inside the export. */
  entry: string;
}

export interface Batch {
  records: readonly LakeRecord[];
  quarantine?: readonly QuarantineEntry[];
  checkpoint?: Checkpoint | null;
}

export interface LoadCounts {
  received: number;
  inserted: number;
  duplicates: number;
}

/** One transaction: the records, the quarantined input and the checkpoint, all or nothing. */
export async function loadBatch(db: Database, target: LoadTarget, batch: Batch): Promise<LoadCounts> {
  const { userId, fileId: importFileId } = target;
  const groups = groupByDestination(batch.records);
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
    const quarantine = batch.quarantine ?? [];
    if (quarantine.length > 0) {
      if (!target.jobId) throw new Error('quarantined input needs an import job');
      await tx.query(
        `INSERT INTO imports.quarantine (user_id, job_id, file_id, entry, category, reason, byte_offset, line, excerpt)
         SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::bigint[], $8::int[], $9::text[])`,
        [
          userId,
          target.jobId,
          importFileId,
          quarantine.map((q) => q.entry),
          quarantine.map((q) => q.category),
          quarantine.map((q) => q.reason),
          quarantine.map((q) => q.byteOffset ?? null),
          quarantine.map((q) => q.line ?? null),
          quarantine.map((q) => q.excerpt ?? null),
        ],
      );
    }
    if (importFileId) {
      await tx.query(
        `UPDATE imports.files SET records_loaded = records_loaded + $3, duplicates = duplicates + $4, quarantined = quarantined + $5
          WHERE user_id = $1 AND file_id = $2`,
        [userId, importFileId, total.inserted, total.duplicates, quarantine.length],
      );
    }
    const checkpoint = batch.checkpoint;
    if (checkpoint) {
      if (!importFileId) throw new Error('a checkpoint needs an import file');
      await tx.query(
        `INSERT INTO imports.checkpoints (user_id, file_id, records_done, byte_offset, cursor, updated_at)
         VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (user_id, file_id) DO UPDATE
           SET records_done = excluded.records_done, byte_offset = excluded.byte_offset, cursor = excluded.cursor, updated_at = now()`,
        [userId, importFileId, checkpoint.recordsDone, checkpoint.byteOffset, checkpoint.cursor ?? {}],
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
