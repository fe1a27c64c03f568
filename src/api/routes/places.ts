// GET /v1/places: the user's places (user_data.places), found by words in name or address, bounding
// box or radius, paged by place id; each with how often and when last it was visited.
// GET /v1/visits: time spent at places (user_data.visits), oldest first, overlapping a time range
// and/or at one place, each with its place's name and address; paged on (started_at, content_hash).
import { Type, type Static } from 'typebox';
import { decodeCursor, encodeCursor, isMicrosTimestamp, utcMicros } from '../cursor.js';
import type { ApiApp, ApiContext } from '../context.js';
import {
  BboxParam,
  CursorParam,
  ErrorBody,
  IntegerParam,
  invalid,
  NearParam,
  Nullable,
  NumberParam,
  parseBbox,
  parseNear,
  parseTimeRange,
  TimeRangeParams,
} from '../query-params.js';
import { SqlParams } from '../sql.js';
import { locationConditions, MAX_RADIUS_M } from './locations.js';

const PlacesQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'text found in the name or the address (case-insensitive)' })),
    bbox: Type.Optional(BboxParam),
    near: Type.Optional(NearParam),
    radius: Type.Optional(NumberParam({ exclusiveMinimum: 0, maximum: MAX_RADIUS_M, description: 'metres around near' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'places per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const Place = Type.Object({
  place_id: Type.String(),
  source: Type.String(),
  name: Nullable(Type.String()),
  address: Nullable(Type.String()),
  lat: Nullable(Type.Number()),
  lon: Nullable(Type.Number()),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  first_seen_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  visits: Type.Integer({ description: 'visits recorded at this place' }),
  last_visit_at: Nullable(Type.String({ format: 'date-time' })),
});

const PlacesPage = Type.Object({
  places: Type.Array(Place),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

const VisitsQuery = Type.Object(
  {
    ...TimeRangeParams,
    place_id: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'only visits to this place' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'visits per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const Visit = Type.Object({
  visit_id: Type.String({ description: 'hex content hash: with started_at, the visit’s key' }),
  started_at: Type.String({ format: 'date-time' }),
  ended_at: Type.String({ format: 'date-time' }),
  duration_s: Type.Number(),
  place_id: Nullable(Type.String()),
  place_name: Nullable(Type.String()),
  place_address: Nullable(Type.String()),
  source: Type.String(),
  lat: Nullable(Type.Number()),
  lon: Nullable(Type.Number()),
  confidence: Nullable(Type.Number()),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  import_file_id: Nullable(Type.String({ format: 'uuid' })),
});

const VisitsPage = Type.Object({
  visits: Type.Array(Visit),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

interface PlaceRow {
  place_id: string;
  source: string;
  name: string | null;
  address: string | null;
  lat: number | null;
  lon: number | null;
  attributes: Record<string, unknown>;
  first_seen_at: Date;
  updated_at: Date;
  visits: number;
  last_visit_at: Date | null;
}

interface VisitRow {
  visit_id: string;
  position_time: string;
  started_at: Date;
  ended_at: Date;
  place_id: string | null;
  place_name: string | null;
  place_address: string | null;
  source: string;
  lat: number | null;
  lon: number | null;
  confidence: number | null;
  attributes: Record<string, unknown>;
  import_file_id: string | null;
}

type PlacePosition = [placeId: string];
type VisitPosition = [time: string, contentHashHex: string];

function isPlacePosition(value: unknown): value is PlacePosition {
  return Array.isArray(value) && value.length === 1 && typeof value[0] === 'string';
}

function isVisitPosition(value: unknown): value is VisitPosition {
  return Array.isArray(value) && value.length === 2 && isMicrosTimestamp(value[0]) && typeof value[1] === 'string' && /^[0-9a-f]{2,128}$/.test(value[1]);
}

/** A LIKE pattern matching `text` anywhere, its wildcards taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function toPlace(row: PlaceRow): Static<typeof Place> {
  return {
    ...row,
    first_seen_at: row.first_seen_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    last_visit_at: row.last_visit_at?.toISOString() ?? null,
  };
}

function toVisit({ position_time: _, ...row }: VisitRow): Static<typeof Visit> {
  return {
    ...row,
    started_at: row.started_at.toISOString(),
    ended_at: row.ended_at.toISOString(),
    duration_s: (row.ended_at.getTime() - row.started_at.getTime()) / 1000,
  };
}

export function placeRoutes(app: ApiApp, context: ApiContext): void {
  const useGeography = context.lake.profile.features.geo.enabled;

  app.get(
    '/places',
    {
      schema: {
        summary: 'places: by words in name or address, bounding box or radius',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: PlacesQuery,
        response: { 200: PlacesPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      if ((query.near === undefined) !== (query.radius === undefined)) throw query.near === undefined ? invalid('near', 'is required with `radius`') : invalid('radius', 'is required with `near`');
      const near = query.near === undefined ? null : { ...parseNear(query.near), radiusM: query.radius! };
      const bbox = query.bbox === undefined ? null : parseBbox(query.bbox);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isPlacePosition);
      const limit = query.limit ?? 100;
      const params = new SqlParams();
      // Places have lat, lon and (with PostGIS) geog like location points: the same conditions.
      const where = locationConditions({ from: null, to: null, bbox, near }, params, useGeography);
      if (query.q !== undefined) {
        // ILIKE is served by the trigram index on name where pg_trgm is installed.
        const pattern = params.add(containsPattern(query.q));
        where.push(`(p.name ILIKE ${pattern} OR p.address ILIKE ${pattern})`);
      }
      if (after) where.push(`p.place_id > ${params.add(after[0])}`);
      const rows = await context.asUser(request, (tx) =>
        tx.query<PlaceRow>(
          `SELECT p.place_id, p.source, p.name, p.address, p.lat, p.lon, p.attributes, p.first_seen_at, p.updated_at,
                  coalesce(v.visits, 0)::int AS visits, v.last_visit_at
             FROM user_data.places p
             LEFT JOIN LATERAL (
               SELECT count(*) AS visits, max(started_at) AS last_visit_at
                 FROM user_data.visits WHERE user_id = p.user_id AND place_id = p.place_id) v ON true
            ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY p.place_id
            LIMIT ${params.add(limit + 1)}`,
          params.values,
        ),
      );
      const page = rows.rows.slice(0, limit);
      const last = page.at(-1);
      return {
        places: page.map(toPlace),
        next_cursor: rows.rows.length > limit && last ? encodeCursor([last.place_id] satisfies PlacePosition) : null,
      };
    },
  );

  app.get(
    '/visits',
    {
      schema: {
        summary: 'visits to places, oldest first, with the place’s name',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: VisitsQuery,
        response: { 200: VisitsPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isVisitPosition);
      const limit = query.limit ?? 100;
      const params = new SqlParams();
      const where: string[] = [];
      // A visit belongs to a range when the two overlap: one that began before `from` and was
      // still going on counts.
      if (range.from) where.push(`v.ended_at >= ${params.add(range.from)}`);
      if (range.to) where.push(`v.started_at < ${params.add(range.to)}`);
      if (query.place_id !== undefined) where.push(`v.place_id = ${params.add(query.place_id)}`);
      if (after) where.push(`(v.started_at, v.content_hash) > (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}, 'hex'))`);
      const rows = await context.asUser(request, (tx) =>
        tx.query<VisitRow>(
          `SELECT encode(v.content_hash, 'hex') AS visit_id, ${utcMicros('v.started_at')} AS position_time,
                  v.started_at, v.ended_at, v.place_id, p.name AS place_name, p.address AS place_address,
                  v.source, v.lat, v.lon, v.confidence, v.attributes, v.import_file_id
             FROM user_data.visits v
             LEFT JOIN user_data.places p ON p.user_id = v.user_id AND p.place_id = v.place_id
            ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY v.started_at, v.content_hash
            LIMIT ${params.add(limit + 1)}`,
          params.values,
        ),
      );
      const page = rows.rows.slice(0, limit);
      const last = page.at(-1);
      return {
        visits: page.map(toVisit),
        next_cursor: rows.rows.length > limit && last ? encodeCursor([last.position_time, last.visit_id] satisfies VisitPosition) : null,
      };
    },
  );
}
