// The load stage: one batch of validated records into their tables, with the file's checkpoint in
// the same transaction. A killed import therefore resumes exactly after the last committed batch:
// nothing lost, nothing doubled (and re-sent rows are absorbed by the content-hash keys anyway).
import { hash } from 'node:crypto';
import type { Database, Transaction } from '../../db/database.js';
import { bulkInsert, copyDirect, type BulkInsertOptions, type BulkInsertResult } from '../../db/bulk.js';
import type { LakeRecord, Rejection } from '../records.js';
import { BatchEncoder, type EncodedTable } from './encode.js';
import type { Destination } from './tables.js';

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
  /** Stored rows replaced by a newer revision (records.ts, `revision`). */
  updated: number;
  duplicates: number;
  /** Rows inserted per destination table (user_data.messages...): what the report counts by kind. */
  insertedByTable: Record<string, number>;
}

/** The sum of two batches' counts (a batch split in halves). */
export function addLoadCounts(a: LoadCounts, b: LoadCounts): LoadCounts {
  const insertedByTable = { ...a.insertedByTable };
  for (const [table, n] of Object.entries(b.insertedByTable)) insertedByTable[table] = (insertedByTable[table] ?? 0) + n;
  return {
    received: a.received + b.received,
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    duplicates: a.duplicates + b.duplicates,
    insertedByTable,
  };
}

/** A batch turned into binary COPY data per destination table: the CPU work, done before the database is awaited. */
export interface PreparedBatch {
  tables: readonly EncodedTable[];
  quarantine: readonly QuarantineEntry[];
  checkpoint: Checkpoint | null;
}

export function prepareBatch(target: LoadTarget, batch: Batch, offsets?: readonly number[]): PreparedBatch {
  const encoder = new BatchEncoder(target);
  batch.records.forEach((record, i) => {
    encoder.add(record, offsets?.[i]);
  });
  return { tables: encoder.finish(), quarantine: batch.quarantine ?? [], checkpoint: batch.checkpoint ?? null };
}

/** One transaction: the records, the quarantined input and the checkpoint, all or nothing. */
export function loadBatch(db: Database, target: LoadTarget, batch: Batch): Promise<LoadCounts> {
  return loadPrepared(db, target, prepareBatch(target, batch));
}

export async function loadPrepared(db: Database, target: LoadTarget, batch: PreparedBatch): Promise<LoadCounts> {
  const { userId, fileId: importFileId } = target;
  // Before anything is written: a full disk stops the import here, between two committed batches.
  await db.assertRoomFor(batch.tables.reduce((bytes, table) => bytes + table.data.length, 0));
  await ensurePartitions(db, batch.tables);
  return db.loadAsUser(userId, (tx) => copyDirectWherePossible(tx, userId, batch.tables), async (tx, direct) => {
    const total: LoadCounts = { received: 0, inserted: 0, updated: 0, duplicates: 0, insertedByTable: {} };
    for (const [index, table] of batch.tables.entries()) {
      const { destination, data, revised } = table;
      const counts = direct[index] ?? await bulkInsert(tx, destination.table, destination.columns, data, {
        format: 'binary',
        replace: revised ? destination.replace : undefined,
        merge: destination.merge,
        before: beforeMove(destination, table, userId),
        derive: destination.derive,
        deriveAt: deriveAtOf(table),
      });
      total.received += counts.received;
      total.inserted += counts.inserted;
      total.updated += counts.updated;
      total.duplicates += counts.duplicates;
      if (counts.inserted) total.insertedByTable[destination.table] = (total.insertedByTable[destination.table] ?? 0) + counts.inserted;
    }
    const { quarantine, checkpoint } = batch;
    if (quarantine.length > 0) {
      if (!target.jobId) throw new Error('quarantined input needs an import job');
      await tx.query(
        `INSERT INTO imports.quarantine (user_id, job_id, file_id, entry, category, reason, byte_offset, line, excerpt, dedup_key)
         SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::bigint[], $8::int[], $9::text[], $10::bytea[])
         ON CONFLICT (user_id, dedup_key) DO NOTHING`,
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
          quarantine.map((q) => hash('sha256', JSON.stringify([q.entry, q.byteOffset ?? null, q.line ?? null, q.category, q.reason]), 'buffer')),
        ],
        { prepare: true },
      );
    }
    if (importFileId) {
      // The file's counts and its checkpoint in one statement (one round trip per batch less).
      await tx.query(
        `WITH counted AS (
           UPDATE imports.files SET records_loaded = records_loaded + $3, duplicates = duplicates + $4, quarantined = quarantined + $5,
                  inserted_by_table = CASE WHEN $9::jsonb = '{}' THEN inserted_by_table ELSE (
                    SELECT jsonb_object_agg(t, n) FROM (
                      SELECT t, sum(n)::bigint AS n
                        FROM (SELECT key, value::bigint FROM jsonb_each_text(inserted_by_table)
                              UNION ALL SELECT key, value::bigint FROM jsonb_each_text($9::jsonb)) added (t, n)
                       GROUP BY t) summed) END
            WHERE user_id = $1 AND file_id = $2)
         INSERT INTO imports.checkpoints (user_id, file_id, records_done, byte_offset, cursor, updated_at)
         SELECT $1, $2, $6, $7, $8, now() WHERE $6::bigint IS NOT NULL
         ON CONFLICT (user_id, file_id) DO UPDATE
           SET records_done = excluded.records_done, byte_offset = excluded.byte_offset, cursor = excluded.cursor, updated_at = now()`,
        [userId, importFileId, total.inserted, total.duplicates, quarantine.length,
          checkpoint?.recordsDone ?? null, checkpoint?.byteOffset ?? null, checkpoint?.cursor ?? {}, total.insertedByTable],
        { prepare: true },
      );
    } else if (checkpoint) {
      throw new Error('a checkpoint needs an import file');
    }
    return total;
  });
}

/** What runs on the staged rows before they move in: Destination.dropDuplicates, or its beforeInsert statement. */
function beforeMove(destination: Destination, table: EncodedTable, userId: string): BulkInsertOptions['before'] {
  const { dropDuplicates, beforeInsert } = destination;
  if (dropDuplicates) return (tx, staging) => dropDuplicates.drop(tx, staging, userId, table.from, table.to);
  if (beforeInsert) return (tx, staging) => tx.query(beforeInsert(staging), [], { prepare: true });
  return undefined;
}

/** The instants the table's derive needs (Destination.deriveBucketMs), as bulk.ts takes them. */
function deriveAtOf(table: EncodedTable): BulkInsertOptions['deriveAt'] {
  return table.deriveAt && table.destination.timeColumn
    ? { column: table.destination.timeColumn, instants: table.deriveAt.map((ms) => new Date(ms)) }
    : undefined;
}

/** Each table's counts where it loaded by copyDirect (bulk.ts); null where it must take bulkInsert. */
async function copyDirectWherePossible(tx: Transaction, userId: string, tables: PreparedBatch['tables']): Promise<(BulkInsertResult | null)[]> {
  const counts: (BulkInsertResult | null)[] = [];
  for (const table of tables) {
    const { destination, data, from, to, revised } = table;
    // Only time-partitioned tables have a range to check; rows with revisions may replace stored ones.
    const eligible = destination.timeColumn !== null && from !== Infinity && !revised;
    const margin = destination.dropDuplicates?.withinMs ?? 0;
    counts.push(eligible
      ? await copyDirect(tx, destination.table, destination.columns, data,
        { userId, column: destination.timeColumn!, from: new Date(from - margin), to: new Date(to + margin) },
        { format: 'binary', derive: destination.derive, deriveAt: deriveAtOf(table) })
      : null);
  }
  return counts;
}

/** Months known to have their partition, per database: most batches need no round trip. */
const knownMonths = new WeakMap<Database, Set<string>>();

/**
 * Monthly partitions exist for the months the batch's rows fall in, before the rows arrive (a
 * no-op on hypertables, whose chunks TimescaleDB makes for the rows inserted). Only those months:
 * never the months between, so two rows decades apart make two partitions, not hundreds.
 */
async function ensurePartitions(db: Database, tables: PreparedBatch['tables']): Promise<void> {
  let known = knownMonths.get(db);
  if (!known) knownMonths.set(db, (known = new Set()));
  for (const table of tables) {
    const { destination, from } = table;
    if (!destination.timeColumn || from === Infinity) continue;
    const months = monthsOfRows(table).filter((m) => !known.has(`${destination.table} ${m}`));
    if (months.length === 0) continue;
    await db.transaction((tx) =>
      tx.query(
        `SELECT sum(lake.ensure_month_partitions($1, m, m + interval '1 month')) FROM unnest($2::timestamptz[]) AS m`,
        [destination.table, months.map((m) => `${m}-01T00:00:00Z`)],
      ),
    );
    for (const m of months) known.add(`${destination.table} ${m}`);
  }
}

/** The UTC months (YYYY-MM) that hold rows of the table, in order. */
export function monthsOfRows(table: Pick<EncodedTable, 'destination' | 'data' | 'rows' | 'from' | 'to'>): string[] {
  const first = monthOf(table.from);
  const last = monthOf(table.to);
  // Rows in one month, or in two adjacent ones: every month from first to last holds a row.
  if (last.index - first.index <= 1) return first.index === last.index ? [first.name] : [first.name, last.name];
  // Wider: read each row's time from its COPY data (a field count, then per field its length and bytes).
  const column = table.destination.columns.indexOf(table.destination.timeColumn!);
  const { data } = table;
  const found = new Set<number>();
  let month = first;
  for (const start of table.rows) {
    let at = start + 2;
    for (let field = 0; field < column; field++) {
      const length = data.readInt32BE(at);
      at += 4 + Math.max(length, 0);
    }
    if (data.readInt32BE(at) !== 8) continue; // NULL: no month
    const micros = data.readBigInt64BE(at + 4);
    const ms = Number(micros / 1000n) - (micros % 1000n < 0n ? 1 : 0) + PG_EPOCH_MS;
    if (ms < month.start || ms >= month.end) month = monthOf(ms);
    found.add(month.index);
  }
  return [...found].sort((a, b) => a - b).map(monthName);
}

/** 2000-01-01 UTC, where PostgreSQL's binary timestamps count from, in Unix ms. */
const PG_EPOCH_MS = 946_684_800_000;

interface Month {
  /** Months since January of year 0. */
  index: number;
  name: string;
  start: number;
  end: number;
}

function monthOf(ms: number): Month {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  return { index: year * 12 + month, name: monthName(year * 12 + month), start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
}

function monthName(index: number): string {
  return `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;
}
