// Records into binary COPY rows as soon as they are validated, one writer per destination table.
// Holding a batch's records until it was full (tens of megabytes of objects) outlived V8's young
// generation: every record was promoted and then marked by the old generation's collector, a
// large share of a Records.json import's CPU. Encoded at once, a record dies young; the batch
// keeps only its bytes, where each row starts, and the file offset each came from: enough to
// split it by rows when the database refuses one (resilient.ts).
//
// The buffers of committed batches come back (recycle) and later batches write into them: a new
// megabyte-sized buffer per batch is memory outside the JavaScript heap, which V8 counts towards
// starting a full garbage collection; reusing them spares most of those collections.
import type { LakeRecord } from '../records.js';
import { COPY_HEADER_BYTES, CopyBinaryWriter, copyRowsEnd, MIN_BUFFER_BYTES, sliceCopyRows, uuidBytes } from './copy-binary.js';
import { DESTINATIONS, type Destination } from './tables.js';

/** One destination's rows of a batch, as binary COPY data. */
export interface EncodedTable {
  destination: Destination;
  data: Buffer;
  /** The byte where each row starts in `data`. */
  rows: number[];
  /** The byte offset in its file of the record behind each row (null where unknown). */
  offsets: (number | null)[];
  /** The rows' time range in Unix ms (±Infinity for tables without a time column). */
  from: number;
  to: number;
  /** Some row carries a revision (records.ts): it may replace a stored row. */
  revised: boolean;
  /** With Destination.deriveBucketMs: the earliest instant (Unix ms) of each bucket the rows fall in. */
  deriveAt?: number[];
}

interface OpenTable {
  writer: CopyBinaryWriter;
  rows: number[];
  offsets: (number | null)[];
  from: number;
  to: number;
  revised: boolean;
  /** Bucket → its earliest instant, with Destination.deriveBucketMs. */
  heads: Map<number, number> | null;
}

/** A first buffer for a destination not seen yet; later batches start at the size the last one reached. */
const FIRST_BUFFER_BYTES = 256 * 1024;
/** Buffers kept for reuse, at most: a batch or two per destination in flight. */
const MAX_SPARES = 8;

export class BatchEncoder {
  private readonly user: Buffer;
  private readonly file: Buffer | null;
  private readonly open = new Map<Destination, OpenTable>();
  private readonly lastSize = new Map<Destination, number>();
  private readonly spares: Buffer[] = [];
  private count = 0;

  constructor(target: { userId: string; fileId: string | null }) {
    this.user = uuidBytes(target.userId);
    this.file = target.fileId ? uuidBytes(target.fileId) : null;
  }

  /** Rows written since the last `finish`. */
  get rows(): number {
    return this.count;
  }

  add(record: LakeRecord, offset: number | null = null): void {
    const destination = DESTINATIONS[record.type] as Destination;
    let table = this.open.get(destination);
    if (!table) {
      const writer = new CopyBinaryWriter(this.spares.pop() ?? this.lastSize.get(destination) ?? FIRST_BUFFER_BYTES);
      const heads = destination.deriveBucketMs ? new Map<number, number>() : null;
      this.open.set(destination, (table = { writer, rows: [], offsets: [], from: Infinity, to: -Infinity, revised: false, heads }));
    }
    table.rows.push(table.writer.length);
    table.offsets.push(offset);
    destination.write(table.writer, record as never, this.user, this.file);
    const time = destination.time(record as never)?.getTime();
    if (time !== undefined) {
      if (time < table.from) table.from = time;
      if (time > table.to) table.to = time;
      if (table.heads) {
        const bucket = Math.floor(time / destination.deriveBucketMs!);
        const earliest = table.heads.get(bucket);
        if (earliest === undefined || time < earliest) table.heads.set(bucket, time);
      }
    }
    if (record.revision != null) table.revised = true;
    this.count++;
  }

  /** The tables written since the last call, in the order their first rows came; the encoder starts afresh. */
  finish(): EncodedTable[] {
    const tables = [...this.open].map(([destination, { writer, heads, ...rest }]): EncodedTable => {
      const data = writer.finish();
      this.lastSize.set(destination, data.length + (data.length >>> 3));
      return heads ? { destination, data, ...rest, deriveAt: [...heads.values()] } : { destination, data, ...rest };
    });
    this.open.clear();
    this.count = 0;
    return tables;
  }

  /** The whole buffers behind committed tables' data, for later batches to write into. */
  recycle(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) {
      if (this.spares.length < MAX_SPARES && buffer.byteLength >= MIN_BUFFER_BYTES) this.spares.push(Buffer.from(buffer));
    }
  }
}

/** The whole buffers behind tables' COPY data: to transfer them between threads, or recycle them. */
export function buffersOf(tables: readonly { data: Buffer }[]): ArrayBuffer[] {
  return tables.map((table) => table.data.buffer as ArrayBuffer);
}

export function countRows(tables: readonly EncodedTable[]): number {
  let rows = 0;
  for (const table of tables) rows += table.rows.length;
  return rows;
}

/** The tables' first `count` rows (in table order) and the rest, each as tables of their own. */
export function splitRows(tables: readonly EncodedTable[], count: number): [EncodedTable[], EncodedTable[]] {
  const first: EncodedTable[] = [];
  const second: EncodedTable[] = [];
  let left = count;
  for (const table of tables) {
    const n = table.rows.length;
    if (left >= n) first.push(table);
    else if (left <= 0) second.push(table);
    else {
      first.push(sliceRows(table, 0, left));
      second.push(sliceRows(table, left, n));
    }
    left -= n;
  }
  return [first, second];
}

/**
 * Rows `from` to `to` (exclusive) of a table. Its time range and revision flag stay the whole
 * table's: wider, never wrong. Its derive instants do not (a bucket's earliest row may be in the
 * other part, or be the refused one): the part's derive reads all its rows.
 */
function sliceRows(table: EncodedTable, from: number, to: number): EncodedTable {
  const start = table.rows[from]!;
  const end = to < table.rows.length ? table.rows[to]! : copyRowsEnd(table.data);
  const { deriveAt: _, ...whole } = table;
  return {
    ...whole,
    data: sliceCopyRows(table.data, start, end),
    rows: table.rows.slice(from, to).map((row) => row - start + COPY_HEADER_BYTES),
    offsets: table.offsets.slice(from, to),
  };
}
