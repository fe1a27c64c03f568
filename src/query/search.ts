// Search: one ranked list over the user's items, messages (mail), places, contacts, calendar
// events, documents, photos and videos, and measurements (by metric), found by full text and, for
// typos, by trigram similarity.
//
// How the two are merged: a row is a hit when its full-text vector matches
// websearch_to_tsquery('simple', q) (the `search` columns of items and messages, indexed; computed
// on the fly for the small tables), or when q is word-similar to its title (pg_trgm `<%`, i.e.
// word_similarity >= pg_trgm.word_similarity_threshold, 0.6 by default: "girafe" finds "giraffe").
// Its score is
//     (1 if the full text matched, else 0) + ts_rank_cd(vector, query, 32) + word_similarity(q, title)
// ts_rank_cd with normalization 32 lies in [0, 1), and so does a similarity short of an exact word,
// so a full-text hit ranks above a row found only by similarity, and within each group rows that
// match both ways and more densely come first. Ties: type, then id.
//
// Trigram matching is used where a trigram index makes it cheap or the table is small: item titles
// and place names (migration 0003), contact names, event summaries, photo titles and metric names
// (thousands of rows at most). Mail subjects are matched too, though they have no trigram index
// yet: the similarity is then computed on every message of the user, the price of finding
// "reciept" in "Your receipt" (a GIN gin_trgm_ops index on messages.subject would serve it, for a
// later migration). Without pg_trgm, full text only.
//
// Photos and videos are found by their title, description, people, album titles and the
// locations their albums' metadata names; measurements by metric name, one result per metric
// (its id the metric, its snippet the latest reading), listed by a loose index scan of
// (user_id, metric, measured_at), so a search does not read every reading.
//
// Pages: ranked results are paged by position (an offset, which the API's cursor holds), up to
// MAX_RESULTS deep: each table contributes its best offset + limit + 1 rows, the union is ranked,
// the page cut out.
// A time range (from, to) applies to items, messages and events; places and contacts have no time
// and are left out when one is given.
import type { Queryable } from '../db/database.js';
import { SqlParams, type TimeRange } from './sql.js';

/** Ranked results are paged this deep at most. */
export const MAX_RESULTS = 1000;
/** A result's snippet is the start of its body, this long at most. */
export const SNIPPET_CHARS = 240;

export const SEARCH_TYPES = ['items', 'messages', 'places', 'contacts', 'events', 'documents', 'photos', 'measurements'] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

export interface SearchResult {
  type: SearchType;
  id: string;
  at: Date | null;
  title: string | null;
  snippet: string | null;
  source: string;
  score: number;
  fulltext: boolean;
  similarity: number;
}

interface Searched {
  type: SearchType;
  table: string;
  id: string;
  /** The time column, or null for tables without one. */
  time: string | null;
  title: string;
  snippet: string;
  /** The tsvector: a stored, indexed column or an expression. */
  vector: string;
  /** The column trigram similarity is measured on, or null for none (see the module comment). */
  fuzzy: string | null;
}

const SEARCHED: Record<SearchType, Searched> = {
  items: { type: 'items', table: 'user_data.items', id: 'item_id::text', time: 'occurred_at', title: 'title', snippet: 'body', vector: 'search', fuzzy: 'title' },
  messages: {
    type: 'messages', table: 'user_data.messages', id: "encode(content_hash, 'hex')", time: 'sent_at', title: 'subject', snippet: 'body', vector: 'search', fuzzy: 'subject',
  },
  places: {
    type: 'places', table: 'user_data.places', id: 'place_id', time: null, title: 'name', snippet: 'address',
    vector: "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(address, ''))", fuzzy: 'name',
  },
  contacts: {
    type: 'contacts', table: 'user_data.contacts', id: "encode(content_hash, 'hex')", time: null, title: 'full_name', snippet: 'notes',
    vector: "to_tsvector('simple', coalesce(full_name, '') || ' ' || coalesce(organization, '') || ' ' || array_to_string(emails, ' ') || ' ' || coalesce(notes, ''))",
    fuzzy: 'full_name',
  },
  events: {
    type: 'events', table: 'user_data.calendar_events', id: "encode(content_hash, 'hex')", time: 'starts_at', title: 'summary', snippet: 'description',
    vector: "to_tsvector('simple', coalesce(summary, '') || ' ' || coalesce(location, '') || ' ' || coalesce(description, ''))", fuzzy: 'summary',
  },
  // Documents carry no time of their own (created_at is when they were imported): like places and contacts, a time range leaves them out.
  documents: {
    type: 'documents', table: 'user_data.documents', id: "encode(content_hash, 'hex')", time: null, title: 'coalesce(title, path)', snippet: 'body',
    vector: 'search', fuzzy: null,
  },
  // Photos and videos without a time are left out of a search with a time range, like places.
  photos: {
    type: 'photos', table: `(SELECT m.*, array_to_string(ARRAY(SELECT a.location FROM user_data.media_albums a WHERE a.title = ANY(m.albums) AND a.location <> ''), ' ') AS album_places
                               FROM user_data.media m) media`,
    id: "encode(sha256, 'hex')", time: 'taken_at', title: "coalesce(title, nullif(original_name, ''))", snippet: 'description',
    vector: `to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, '') || ' ' || array_to_string(people, ' ') || ' ' || array_to_string(albums, ' ')
             || ' ' || album_places || ' ' || coalesce(camera_model, ''))`,
    fuzzy: "(coalesce(title, '') || ' ' || coalesce(description, ''))",
  },
  measurements: {
    type: 'measurements',
    table: `(WITH RECURSIVE metrics(metric) AS (
               SELECT min(metric) FROM timeseries.measurements
               UNION ALL
               SELECT (SELECT min(metric) FROM timeseries.measurements WHERE metric > metrics.metric) FROM metrics WHERE metrics.metric IS NOT NULL)
             SELECT metrics.metric, latest.source, latest.value::text || ' ' || latest.unit || ' (latest)' AS reading
               FROM metrics, LATERAL (SELECT source, value, unit FROM timeseries.measurements r WHERE r.metric = metrics.metric ORDER BY measured_at DESC LIMIT 1) latest
              WHERE metrics.metric IS NOT NULL) metric_list`,
    id: 'metric', time: null, title: 'metric', snippet: 'reading',
    vector: "to_tsvector('simple', translate(metric, '._:', '   '))", fuzzy: 'metric',
  },
};

/** One table's best `take` hits, as a subquery of the union. `$1` is q, `tsq` the parsed query. */
function tableQuery(spec: Searched, fuzzy: boolean, range: TimeRange, params: SqlParams, take: string): string {
  const useFuzzy = fuzzy && spec.fuzzy !== null;
  const similarity = useFuzzy ? `word_similarity($1, coalesce(${spec.fuzzy}, ''))` : '0::real';
  const found = useFuzzy ? `(${spec.vector} @@ tsq OR $1 <% ${spec.fuzzy})` : `${spec.vector} @@ tsq`;
  const where = [found];
  if (spec.time && range.from) where.push(`${spec.time} >= ${params.add(range.from)}`);
  if (spec.time && range.to) where.push(`${spec.time} < ${params.add(range.to)}`);
  return `(SELECT '${spec.type}'::text AS type, ${spec.id} AS id, ${spec.time ?? 'NULL::timestamptz'} AS at,
                  ${spec.title} AS title, left(${spec.snippet}, ${SNIPPET_CHARS}) AS snippet, source,
                  (${spec.vector} @@ tsq) AS fulltext, ${similarity}::float8 AS similarity,
                  (CASE WHEN ${spec.vector} @@ tsq THEN 1 + ts_rank_cd(${spec.vector}, tsq, 32) ELSE 0 END + ${similarity})::float8 AS score
             FROM ${spec.table}, websearch_to_tsquery('simple', $1) tsq
            WHERE ${where.join(' AND ')}
            ORDER BY score DESC, id
            LIMIT ${take})`;
}

export interface SearchRequest {
  /** What to find: words in web search syntax ("a phrase", -not, or). */
  words: string;
  /** Only these; with a time range, those without a time are left out. */
  types: readonly SearchType[];
  range: TimeRange;
  /** Whether pg_trgm is installed (Profile.features.fuzzy_search): typo-tolerant titles and names. */
  fuzzy: boolean;
}

/**
 * Results from `offset` on, at most `limit` (and never past MAX_RESULTS), and the offset of the
 * next page when one follows.
 */
export async function search(tx: Queryable, request: SearchRequest, page: { offset: number; limit: number }): Promise<{ results: SearchResult[]; nextOffset: number | null }> {
  const { range } = request;
  const types = range.from || range.to ? request.types.filter((type) => SEARCHED[type].time !== null) : request.types;
  const { offset } = page;
  const limit = Math.min(page.limit, MAX_RESULTS - offset);
  if (types.length === 0) return { results: [], nextOffset: null };
  const params = new SqlParams();
  params.add(request.words);
  const take = params.add(offset + limit + 1);
  const union = types.map((type) => tableQuery(SEARCHED[type], request.fuzzy, range, params, take)).join('\nUNION ALL\n');
  const rows = await tx.query<SearchResult>(
    `SELECT * FROM (${union}) hits ORDER BY score DESC, type, id OFFSET ${params.add(offset)} LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const more = rows.rows.length > limit && offset + limit < MAX_RESULTS;
  return { results: rows.rows.slice(0, limit), nextOffset: more ? offset + limit : null };
}
