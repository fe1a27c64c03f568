// The unified timeline (user_data.items): pages of items filtered by time range, kinds, sources
// and words, in time order either way, keyed by (occurred_at, content_hash), the primary key after
// user_id, so pages are read in index order and a position holds nothing shared between users
// (migration 0018); and one item with the import file it came from.
import type { Queryable } from '../db/database.js';
import { isTimeHashPosition, SqlParams, utcMicros, whereClause, type Page, type TimeHashPosition } from './sql.js';

export interface TimelineItem {
  item_id: string;
  occurred_at: Date;
  utc_offset_minutes: number | null;
  kind: string;
  source: string;
  title: string | null;
  body: string | null;
  url: string | null;
  language: string | null;
  lat: number | null;
  lon: number | null;
  attributes: Record<string, unknown>;
  import_file_id: string | null;
}

/** The columns of a TimelineItem. */
export const ITEM_COLUMNS = 'item_id, occurred_at, utc_offset_minutes, kind, source, title, body, url, language, lat, lon, attributes, import_file_id';

export interface TimelineFilter {
  from: Date | null;
  to: Date | null;
  /** Only these kinds (search, page_visit, ...); null: all. */
  kinds: readonly string[] | null;
  sources: readonly string[] | null;
  /** Words in the title or body, web search syntax ("phrase", -not, or). */
  words: string | null;
}

/** The last item's key: its time (utcMicros) and its hex content hash. */
export type TimelinePosition = TimeHashPosition;

export function isTimelinePosition(value: unknown): value is TimelinePosition {
  return isTimeHashPosition(value, /^[0-9a-f]{64}$/);
}

export async function timelinePage(
  tx: Queryable,
  filter: TimelineFilter,
  options: { order: 'asc' | 'desc'; after: TimelinePosition | null; limit: number },
): Promise<Page<TimelineItem, TimelinePosition>> {
  const { after, limit } = options;
  const descending = options.order === 'desc';
  const params = new SqlParams();
  const where: string[] = [];
  if (filter.from) where.push(`occurred_at >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`occurred_at < ${params.add(filter.to)}`);
  if (filter.kinds) where.push(`kind = ANY(${params.add(filter.kinds)}::text[])`);
  if (filter.sources) where.push(`source = ANY(${params.add(filter.sources)}::text[])`);
  if (filter.words !== null) where.push(`search @@ websearch_to_tsquery('simple', ${params.add(filter.words)})`);
  if (after) where.push(`(occurred_at, content_hash) ${descending ? '<' : '>'} (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}::text, 'hex'))`);
  const direction = descending ? 'DESC' : 'ASC';
  // One row more than the page shows whether another page follows.
  const rows = await tx.query<TimelineItem & { position_time: string; position_hash: string }>(
    `SELECT ${ITEM_COLUMNS}, ${utcMicros('occurred_at')} AS position_time, encode(content_hash, 'hex') AS position_hash
       FROM user_data.items
      ${whereClause(where)}
      ORDER BY occurred_at ${direction}, content_hash ${direction}
      LIMIT ${params.add(limit + 1)}`,
    params.values,
    // Its text depends only on which filters are present: kept prepared per connection (QueryOptions).
    { prepare: true },
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _time, position_hash: _hash, ...item }) => item),
    next: rows.rows.length > limit && last ? [last.position_time, last.position_hash] : null,
  };
}

/** The imports.files row an item was loaded from: which job, which file of which archive. */
export interface ImportFile {
  file_id: string;
  job_id: string;
  path: string;
  archive: string | null;
  sha256: string | null;
  size_bytes: number | null;
  mime_type: string | null;
  detected_format: string | null;
  status: string;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Numbers handed out as item ids before migration 0018 (a shared sequence then), still answered for the rows that had them. */
export const LEGACY_ITEM_ID = '[1-9][0-9]{0,14}';

/**
 * One item by its id (a UUID, or the number it had before migration 0018) and the file it came
 * from (null for items not loaded from a file); null when the user has no such item.
 */
export async function itemWithProvenance(tx: Queryable, itemId: string): Promise<{ item: TimelineItem; file: ImportFile | null } | null> {
  const legacy = new RegExp(`^${LEGACY_ITEM_ID}$`).test(itemId);
  const found = await tx.query<TimelineItem>(
    `SELECT ${ITEM_COLUMNS} FROM user_data.items WHERE ${legacy ? 'legacy_item_id = $1::bigint' : 'item_id = $1::uuid'} LIMIT 1`,
    [itemId],
  );
  const item = found.rows[0];
  if (!item) return null;
  const file = item.import_file_id
    ? await tx.query<ImportFile>(
        `SELECT file_id, job_id, path, archive, encode(sha256, 'hex') AS sha256, size_bytes, mime_type, detected_format,
                status, started_at, finished_at
           FROM imports.files WHERE file_id = $1`,
        [item.import_file_id],
      )
    : null;
  return { item, file: file?.rows[0] ?? null };
}
