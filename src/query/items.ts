// The unified timeline: pages of user_data.items and, as kinds of their own, photos and videos,
// mail, documents and measurements from the typed tables beside it (TYPED_KINDS), filtered by time
// range, kinds, sources and words, in time order either way, keyed by (time, content hash): each
// table's primary key after user_id (a photo's SHA-256, a document's created_at aside), so pages
// are read in index order and a position holds nothing shared between users (migration 0018); and
// one item with the import file it came from.
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

/**
 * The kinds of user_data.items rows, as the sources write them (My Activity, Chrome, Play Store,
 * YouTube, Keep, Location History): the timeline's `kinds` takes these and TYPED_KINDS.
 */
export const ITEM_KINDS = [
  'activity', 'activity_detected', 'activity_segment', 'app_install', 'app_search', 'app_use', 'article_read', 'audio_listen', 'comment', 'dislike',
  'game_play', 'image_search', 'library_add', 'like', 'live_chat_message', 'location_device', 'location_settings', 'map_directions', 'map_search',
  'map_view', 'note', 'order', 'page_view', 'page_visit', 'playlist', 'playlist_item', 'product_search', 'purchase', 'search', 'share', 'subscribe',
  'subscription', 'trip', 'video_favorite', 'video_like', 'video_search', 'video_watch', 'voice_command',
] as const;

/**
 * Kinds the timeline reads from the typed tables beside user_data.items: photos and videos
 * (user_data.media, at taken_at; those without a time are not on the timeline), mail
 * (user_data.messages, at sent_at), documents (user_data.documents, at their import: a document
 * has no time of its own the lake trusts) and measurements (timeseries.measurements, one entry
 * per reading).
 */
export const TYPED_KINDS = ['photo', 'video', 'mail', 'document', 'measurement'] as const;
export type TypedKind = (typeof TYPED_KINDS)[number];

export const TIMELINE_KINDS: readonly string[] = [...ITEM_KINDS, ...TYPED_KINDS];

/** The `kinds` value for every kind, items and typed tables alike. */
export const ALL_KINDS = 'all';

/** Characters of a message's or document's text a timeline entry carries: the whole is at its link. */
export const TIMELINE_SNIPPET_CHARS = 240;

export interface TimelineFilter {
  from: Date | null;
  to: Date | null;
  /**
   * Only these kinds (search, page_visit, photo, mail, ...); null: every kind of user_data.items
   * (the timeline as it was before the typed kinds joined it); 'all': those and every typed kind.
   */
  kinds: readonly string[] | null | 'all';
  sources: readonly string[] | null;
  /** Words in the title or body, web search syntax ("phrase", -not, or). */
  words: string | null;
}

/** The last item's key: its time (utcMicros) and its hex content hash (a photo's: its SHA-256). */
export type TimelinePosition = TimeHashPosition;

export function isTimelinePosition(value: unknown): value is TimelinePosition {
  return isTimeHashPosition(value, /^[0-9a-f]{64}$/);
}

/** One table's part of the timeline: its rows as items, and the columns its filters apply to. */
interface TimelineTable {
  kinds: readonly string[];
  /** FROM and the columns of a TimelineItem, plus `sort_hash` (bytea). */
  select: string;
  time: string;
  hash: string;
  /** The tsvector the words are matched against; null: left out when words are given. */
  vector: string | null;
  /** A condition choosing among this table's kinds, or null when it has one. */
  kindCondition: ((kinds: readonly string[], params: SqlParams) => string) | null;
  /** Conditions always applied (rows without a time are not on the timeline). */
  always: string[];
}

const TYPED_TABLES: TimelineTable[] = [
  {
    kinds: ['photo', 'video'],
    select: `SELECT encode(sha256, 'hex') AS item_id, taken_at AS occurred_at, meta_utc_offset_minutes AS utc_offset_minutes,
                    CASE WHEN mime_type LIKE 'video/%' THEN 'video' ELSE 'photo' END AS kind, source,
                    coalesce(title, nullif(original_name, '')) AS title, description AS body, NULL::text AS url, NULL::text AS language, lat, lon,
                    jsonb_build_object('sha256', encode(sha256, 'hex'), 'mime_type', mime_type, 'albums', albums, 'people', people,
                      'camera_make', camera_make, 'camera_model', camera_model, 'width', width, 'height', height, 'duration_s', duration_s) AS attributes,
                    import_file_id, sha256 AS sort_hash
               FROM user_data.media`,
    time: 'taken_at',
    hash: 'sha256',
    vector: `to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, '') || ' ' || array_to_string(albums, ' ') || ' ' || array_to_string(people, ' '))`,
    kindCondition: (kinds, params) => `(CASE WHEN mime_type LIKE 'video/%' THEN 'video' ELSE 'photo' END) = ANY(${params.add(kinds)}::text[])`,
    always: ['taken_at IS NOT NULL'],
  },
  {
    kinds: ['mail'],
    select: `SELECT encode(content_hash, 'hex') AS item_id, sent_at AS occurred_at, NULL::smallint AS utc_offset_minutes, 'mail'::text AS kind, source,
                    subject AS title, left(body, ${TIMELINE_SNIPPET_CHARS}) AS body, NULL::text AS url, NULL::text AS language, NULL::float8 AS lat, NULL::float8 AS lon,
                    jsonb_build_object('from', from_address, 'to', to_addresses, 'labels', labels, 'thread_id', thread_id,
                      'attachment_count', jsonb_array_length(attachments)) AS attributes,
                    import_file_id, content_hash AS sort_hash
               FROM user_data.messages`,
    time: 'sent_at',
    hash: 'content_hash',
    vector: 'search',
    kindCondition: null,
    always: [],
  },
  {
    kinds: ['document'],
    select: `SELECT encode(content_hash, 'hex') AS item_id, created_at AS occurred_at, NULL::smallint AS utc_offset_minutes, 'document'::text AS kind, source,
                    coalesce(title, path) AS title, left(body, ${TIMELINE_SNIPPET_CHARS}) AS body, NULL::text AS url, language, NULL::float8 AS lat, NULL::float8 AS lon,
                    jsonb_build_object('sha256', encode(sha256, 'hex'), 'path', path, 'document_kind', kind, 'mime_type', mime_type, 'size_bytes', size_bytes) AS attributes,
                    import_file_id, content_hash AS sort_hash
               FROM user_data.documents`,
    time: 'created_at',
    hash: 'content_hash',
    vector: 'search',
    kindCondition: null,
    always: [],
  },
  {
    kinds: ['measurement'],
    select: `SELECT encode(content_hash, 'hex') AS item_id, measured_at AS occurred_at, NULL::smallint AS utc_offset_minutes, 'measurement'::text AS kind, source,
                    metric AS title, value::text || ' ' || unit AS body, NULL::text AS url, NULL::text AS language, NULL::float8 AS lat, NULL::float8 AS lon,
                    jsonb_build_object('metric', metric, 'value', value, 'unit', unit) || coalesce(attributes, '{}'::jsonb) AS attributes,
                    import_file_id, content_hash AS sort_hash
               FROM timeseries.measurements`,
    time: 'measured_at',
    hash: 'content_hash',
    // Readings have no words: left out of a search by words.
    vector: null,
    kindCondition: null,
    always: [],
  },
];

const ITEMS_TABLE: TimelineTable = {
  kinds: ITEM_KINDS,
  select: `SELECT item_id::text AS item_id, occurred_at, utc_offset_minutes, kind, source, title, body, url, language, lat, lon, attributes, import_file_id,
                  content_hash AS sort_hash
             FROM user_data.items`,
  time: 'occurred_at',
  hash: 'content_hash',
  vector: 'search',
  kindCondition: (kinds, params) => `kind = ANY(${params.add(kinds)}::text[])`,
  always: [],
};

/** One table's best `limit + 1` rows after the position, in timeline order, as a part of the union. */
function tablePart(table: TimelineTable, filter: Omit<TimelineFilter, 'kinds'>, kinds: readonly string[] | null, after: TimelinePosition | null, descending: boolean, params: SqlParams, take: string): string {
  const where = [...table.always];
  if (filter.from) where.push(`${table.time} >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`${table.time} < ${params.add(filter.to)}`);
  if (kinds && table.kindCondition) where.push(table.kindCondition(kinds, params));
  if (filter.sources) where.push(`source = ANY(${params.add(filter.sources)}::text[])`);
  if (filter.words !== null) where.push(`${table.vector} @@ websearch_to_tsquery('simple', ${params.add(filter.words)})`);
  if (after) where.push(`(${table.time}, ${table.hash}) ${descending ? '<' : '>'} (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}::text, 'hex'))`);
  const direction = descending ? 'DESC' : 'ASC';
  return `(${table.select}
      ${whereClause(where)}
      ORDER BY ${table.time} ${direction}, ${table.hash} ${direction}
      LIMIT ${take})`;
}

export async function timelinePage(
  tx: Queryable,
  filter: TimelineFilter,
  options: { order: 'asc' | 'desc'; after: TimelinePosition | null; limit: number },
): Promise<Page<TimelineItem, TimelinePosition>> {
  const { after, limit } = options;
  const descending = options.order === 'desc';
  const params = new SqlParams();
  const parts: string[] = [];
  const take = params.add(limit + 1);
  const asked = filter.kinds;
  for (const table of asked === null ? [ITEMS_TABLE] : [ITEMS_TABLE, ...TYPED_TABLES]) {
    const kinds = asked === null || asked === 'all' ? null : table.kinds.filter((kind) => asked.includes(kind));
    if (kinds !== null && kinds.length === 0) continue;
    if (filter.words !== null && table.vector === null) continue;
    // A condition on kinds only when it leaves some of the table's out.
    parts.push(tablePart(table, filter, kinds && kinds.length < table.kinds.length ? kinds : null, after, descending, params, take));
  }
  if (parts.length === 0) return { rows: [], next: null };
  const direction = descending ? 'DESC' : 'ASC';
  // Each table gives its first limit + 1 rows after the position in this order; the page is the
  // first limit of their union, one row more showing whether another page follows.
  const rows = await tx.query<TimelineItem & { position_time: string; position_hash: string }>(
    `SELECT item_id, occurred_at, utc_offset_minutes, kind, source, title, body, url, language, lat, lon, attributes, import_file_id,
            ${utcMicros('occurred_at')} AS position_time, encode(sort_hash, 'hex') AS position_hash
       FROM (${parts.join('\n      UNION ALL\n      ')}) timeline
      ORDER BY occurred_at ${direction}, sort_hash ${direction}
      LIMIT ${take}`,
    params.values,
    // Its text depends only on which filters and kinds are present: kept prepared per connection (QueryOptions).
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
