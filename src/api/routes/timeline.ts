// GET /v1/timeline: the unified timeline (user_data.items, and photos, videos, mail, documents and
// measurements as kinds of their own), newest first by default, filtered by time range, kinds,
// sources and words, paged with a cursor on (time, content hash) (query/items.ts). A kind the
// lake does not know is a 400 listing the ones it does.
import { Type, type Static } from 'typebox';
import { ALL_KINDS, isTimelinePosition, TIMELINE_KINDS, TIMELINE_SNIPPET_CHARS, timelinePage, TYPED_KINDS, type TimelineItem } from '../../query/items.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CursorParam, ErrorBody, IntegerParam, invalid, ListParam, Nullable, parseList, parseTimeRange, TimeRangeParams } from '../query-params.js';

const TimelineQuery = Type.Object(
  {
    ...TimeRangeParams,
    kinds: Type.Optional(
      ListParam(
        `only these kinds: ${TIMELINE_KINDS.join(', ')}; or ${ALL_KINDS} for every one of them. Without kinds: every kind of item, not ${TYPED_KINDS.join(', ')}`,
      ),
    ),
    sources: Type.Optional(ListParam('only these sources, e.g. google.chrome.history')),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'words in the title or body (web search syntax: "phrase", -not, or)' })),
    order: Type.Optional(Type.Enum(['desc', 'asc'], { default: 'desc', description: 'newest first (desc) or oldest first (asc)' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'items per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

export const TimelineItemBody = Type.Object({
  item_id: Type.String({
    description:
      'an item’s random UUID (says nothing about other items or users); a photo’s or video’s SHA-256; the hex content hash of a message, document or measurement',
  }),
  occurred_at: Type.String({ format: 'date-time' }),
  utc_offset_minutes: Nullable(Type.Integer()),
  kind: Type.String({ description: `one of ${TIMELINE_KINDS.join(', ')}` }),
  source: Type.String(),
  title: Nullable(Type.String({ description: 'mail: the subject; document: its title or path; measurement: the metric' })),
  body: Nullable(Type.String({ description: `mail and documents: the first ${TIMELINE_SNIPPET_CHARS} characters of the text; measurement: value and unit` })),
  url: Nullable(Type.String()),
  language: Nullable(Type.String()),
  lat: Nullable(Type.Number()),
  lon: Nullable(Type.Number()),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  import_file_id: Nullable(Type.String({ format: 'uuid' })),
  link: Nullable(Type.String({ description: 'where the whole of it is: /v1/items/{id}, /v1/media/{sha256}, /v1/messages/{id}, /v1/blobs/{sha256} for a document; null for a measurement' })),
});

const TimelinePage = Type.Object({
  items: Type.Array(TimelineItemBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

function linkOf(item: TimelineItem): string | null {
  switch (item.kind) {
    case 'photo':
    case 'video':
      return `/v1/media/${item.item_id}`;
    case 'mail':
      return `/v1/messages/${item.item_id}`;
    case 'document':
      return typeof item.attributes.sha256 === 'string' ? `/v1/blobs/${item.attributes.sha256}` : null;
    case 'measurement':
      return null;
    default:
      return `/v1/items/${item.item_id}`;
  }
}

/** An item as the API answers it: times as ISO 8601 text, and its link. */
export function toTimelineItem(item: TimelineItem): Static<typeof TimelineItemBody> {
  return { ...item, occurred_at: item.occurred_at.toISOString(), link: linkOf(item) };
}

/**
 * The kinds asked for, each one the timeline knows (else INVALID_REQUEST naming them all): null
 * when none were named (the items), 'all' for every kind.
 */
export function parseKinds(values: readonly string[] | undefined): string[] | null | typeof ALL_KINDS {
  const kinds = parseList(values);
  if (kinds?.includes(ALL_KINDS)) return ALL_KINDS;
  for (const kind of kinds ?? []) {
    if (!TIMELINE_KINDS.includes(kind)) throw invalid('kinds', `${JSON.stringify(kind)} is not a kind of the timeline: one of ${TIMELINE_KINDS.join(', ')}, or ${ALL_KINDS}`);
  }
  return kinds;
}

export function timelineRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/timeline',
    {
      schema: {
        summary: 'the timeline: everything that happened, filtered and paged',
        description:
          `Items of user_data.items and, as kinds of their own, ${TYPED_KINDS.join(', ')}: photos and videos at the time taken (those without one are not listed), ` +
          'mail at its sending, documents at their import, every measurement reading. The typed kinds are listed when named in `kinds` (or with `kinds=all`); ' +
          'without `kinds` the timeline holds the items, as it did before they joined it. With `q`, measurements are left out (they have no words).',
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
          { ...range, kinds: parseKinds(query.kinds), sources: parseList(query.sources), words: query.q ?? null },
          { order: query.order ?? 'desc', after, limit: query.limit ?? 100 },
        ),
      );
      return { items: page.rows.map(toTimelineItem), next_cursor: page.next && encodeCursor(page.next) };
    },
  );
}
