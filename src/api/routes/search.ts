// GET /v1/search?q=...: one ranked list over the user's items, messages (mail), places, contacts,
// calendar events, documents, photos and videos, and measurements (by metric), found by full text and, for typos, by trigram similarity; how the two are
// merged and ranked, and how deep pages go: query/search.ts. The cursor holds the next page's
// offset.
import { Type, type Static } from 'typebox';
import { MAX_RESULTS, search, SEARCH_TYPES, SNIPPET_CHARS, type SearchResult, type SearchType } from '../../query/search.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CursorParam, ErrorBody, IntegerParam, invalid, ListParam, Nullable, parseList, parseTimeRange, TimeRangeParams } from '../query-params.js';

const SearchQuery = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: 500, description: 'what to find: words (web search syntax: "a phrase", -not, or), typos tolerated in titles and names' }),
    types: Type.Optional(ListParam(`only these kinds of result: ${SEARCH_TYPES.join(', ')} (messages are mail; photos include videos)`)),
    ...TimeRangeParams,
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 100, default: 20, description: 'results per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const SearchResultBody = Type.Object({
  type: Type.Enum([...SEARCH_TYPES]),
  id: Type.String({ description: 'item_id (a UUID) for items, place_id for places, the SHA-256 for photos, the metric for measurements, the hex content hash otherwise' }),
  at: Nullable(Type.String({ format: 'date-time', description: 'when it happened (none for places, contacts, documents and measurements, which a time range leaves out)' })),
  title: Nullable(Type.String()),
  snippet: Nullable(Type.String({ description: `the start of the body, at most ${SNIPPET_CHARS} characters` })),
  source: Type.String(),
  score: Type.Number({ description: '1 for a full-text match + its rank (0..1) + the trigram word similarity (0..1)' }),
  fulltext: Type.Boolean({ description: 'found by full text' }),
  similarity: Type.Number({ description: 'trigram word similarity of q to the title (0 without pg_trgm)' }),
});

const SearchPage = Type.Object({
  results: Type.Array(SearchResultBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

type Position = [offset: number];

function isPosition(value: unknown): value is Position {
  return Array.isArray(value) && value.length === 1 && Number.isSafeInteger(value[0]) && value[0] > 0 && value[0] < MAX_RESULTS;
}

function toResult(result: SearchResult): Static<typeof SearchResultBody> {
  return { ...result, at: result.at?.toISOString() ?? null };
}

export function searchRoutes(app: ApiApp, context: ApiContext): void {
  const fuzzy = context.lake.profile.features.fuzzy_search.enabled;
  app.get(
    '/search',
    {
      schema: {
        summary: 'search everything: full text and typo-tolerant similarity, one ranked list',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: SearchQuery,
        response: { 200: SearchPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const listed = parseList(query.types);
      for (const type of listed ?? []) {
        if (!(SEARCH_TYPES as readonly string[]).includes(type)) throw invalid('types', `${JSON.stringify(type)} is not one of ${SEARCH_TYPES.join(', ')}`);
      }
      const offset = query.cursor === undefined ? 0 : decodeCursor(query.cursor, isPosition)[0];
      const types = (listed ?? [...SEARCH_TYPES]) as SearchType[];
      const { results, nextOffset } = await context.asUser(request, (tx) =>
        search(tx, { words: query.q, types, range, fuzzy }, { offset, limit: query.limit ?? 20 }),
      );
      return { results: results.map(toResult), next_cursor: nextOffset === null ? null : encodeCursor([nextOffset] satisfies Position) };
    },
  );
}
