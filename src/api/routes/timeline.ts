// GET /v1/timeline: the unified timeline (user_data.items), newest first by default, filtered by
// time range, kinds, sources and words, paged with a cursor on (occurred_at, content_hash)
// (query/items.ts).
import { Type, type Static } from 'typebox';
import { isTimelinePosition, timelinePage, type TimelineItem } from '../../query/items.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CursorParam, ErrorBody, IntegerParam, ListParam, Nullable, parseList, parseTimeRange, TimeRangeParams } from '../query-params.js';

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

export const TimelineItemBody = Type.Object({
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
  items: Type.Array(TimelineItemBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

/** An item as the API answers it: times as ISO 8601 text. */
export function toTimelineItem(item: TimelineItem): Static<typeof TimelineItemBody> {
  return { ...item, occurred_at: item.occurred_at.toISOString() };
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
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isTimelinePosition);
      const page = await context.asUser(request, (tx) =>
        timelinePage(
          tx,
          { ...range, kinds: parseList(query.kinds), sources: parseList(query.sources), words: query.q ?? null },
          { order: query.order ?? 'desc', after, limit: query.limit ?? 100 },
        ),
      );
      return { items: page.rows.map(toTimelineItem), next_cursor: page.next && encodeCursor(page.next) };
    },
  );
}
