// GET /v1/timeline: the unified timeline (user_data.items), newest first by default, filtered by
// time range, kinds, sources and words, paged with a cursor on (occurred_at, content_hash): the
// primary key after user_id, so pages are read in index order and a cursor holds nothing shared
// between users (migration 0018).
import { Type, type Static } from 'typebox';
import { decodeCursor, encodeCursor, isMicrosTimestamp, utcMicros } from '../cursor.js';
import type { ApiApp, ApiContext } from '../context.js';
import { CursorParam, ErrorBody, IntegerParam, ListParam, Nullable, parseList, parseTimeRange, TimeRangeParams } from '../query-params.js';
import { SqlParams } from '../sql.js';

const TimelineQuery = Type.Object(
  {
    ...TimeRangeParams,
    kinds: Type.Optional(ListParam('only these kinds, e.g. search, page_visit, video_watch')),
    sources: Type.Optional(ListParam('only these sources, e.g. google.chrome.history')),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'words in the title or body (web search syntax: "phrase", -not, or)' })),
    order: Type.Optional(Type.Enum(['desc', 'asc'], { default: 'desc', description: 'newest first (desc) or oldest first (asc)' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'items per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

export const TimelineItem = Type.Object({
  item_id: Type.String({ format: 'uuid', description: 'random: says nothing about other items or users' }),
  occurred_at: Type.String({ format: 'date-time' }),
  utc_offset_minutes: Nullable(Type.Integer()),
  kind: Type.String(),
  source: Type.String(),
  title: Nullable(Type.String()),
  body: Nullable(Type.String()),
  url: Nullable(Type.String()),
  language: Nullable(Type.String()),
  lat: Nullable(Type.Number()),
  lon: Nullable(Type.Number()),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  import_file_id: Nullable(Type.String({ format: 'uuid' })),
});

const TimelinePage = Type.Object({
  items: Type.Array(TimelineItem),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

export interface ItemRow {
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

/** The columns of a TimelineItem, for every route that returns items. */
export const ITEM_COLUMNS = 'item_id, occurred_at, utc_offset_minutes, kind, source, title, body, url, language, lat, lon, attributes, import_file_id';

export function toTimelineItem(row: ItemRow): Static<typeof TimelineItem> {
  return { ...row, occurred_at: row.occurred_at.toISOString() };
}

/** The last row's key: its time and its hex content hash. */
type Position = [time: string, contentHash: string];

const HEX_HASH = /^[0-9a-f]{64}$/;

function isPosition(value: unknown): value is Position {
  return Array.isArray(value) && value.length === 2 && isMicrosTimestamp(value[0]) && typeof value[1] === 'string' && HEX_HASH.test(value[1]);
}

export function timelineRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/timeline',
    {
      schema: {
        summary: 'the timeline: everything that happened, filtered and paged',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: TimelineQuery,
        response: { 200: TimelinePage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isPosition);
      const descending = (query.order ?? 'desc') === 'desc';
      const limit = query.limit ?? 100;
      const params = new SqlParams();
      const where: string[] = [];
      if (range.from) where.push(`occurred_at >= ${params.add(range.from)}`);
      if (range.to) where.push(`occurred_at < ${params.add(range.to)}`);
      const kinds = parseList(query.kinds);
      if (kinds) where.push(`kind = ANY(${params.add(kinds)}::text[])`);
      const sources = parseList(query.sources);
      if (sources) where.push(`source = ANY(${params.add(sources)}::text[])`);
      if (query.q !== undefined) where.push(`search @@ websearch_to_tsquery('simple', ${params.add(query.q)})`);
      if (after) where.push(`(occurred_at, content_hash) ${descending ? '<' : '>'} (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}::text, 'hex'))`);
      const direction = descending ? 'DESC' : 'ASC';
      // One row more than the page shows whether another page follows.
      const rows = await context.asUser(request, (tx) =>
        tx.query<ItemRow & { position_time: string; position_hash: string }>(
          `SELECT ${ITEM_COLUMNS}, ${utcMicros('occurred_at')} AS position_time, encode(content_hash, 'hex') AS position_hash
             FROM user_data.items
            ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY occurred_at ${direction}, content_hash ${direction}
            LIMIT ${params.add(limit + 1)}`,
          params.values,
          // Its text depends only on which filters are present: kept prepared per connection (QueryOptions).
          { prepare: true },
        ),
      );
      const page = rows.rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map(({ position_time: _time, position_hash: _hash, ...row }) => toTimelineItem(row)),
        next_cursor: rows.rows.length > limit && last ? encodeCursor([last.position_time, last.position_hash] satisfies Position) : null,
      };
    },
  );
}
