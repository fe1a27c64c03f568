// GET /v1/places: the user's places (user_data.places), found by words in name or address, bounding
// box or radius, paged by place id; each with how often and when last it was visited.
// GET /v1/visits: time spent at places (user_data.visits), oldest first, overlapping a time range
// and/or at one place, each with its place's name and address; paged on (started_at, content_hash).
// The queries: query/places.ts.
import { Type, type Static } from 'typebox';
import { MAX_RADIUS_M } from '../../query/locations.js';
import { isPlacePosition, isVisitPosition, placesPage, visitsPage, type Place, type Visit } from '../../query/places.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
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

const PlaceBody = Type.Object({
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
  places: Type.Array(PlaceBody),
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

const VisitBody = Type.Object({
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
  visits: Type.Array(VisitBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

function toPlace(place: Place): Static<typeof PlaceBody> {
  return {
    ...place,
    first_seen_at: place.first_seen_at.toISOString(),
    updated_at: place.updated_at.toISOString(),
    last_visit_at: place.last_visit_at?.toISOString() ?? null,
  };
}

function toVisit(visit: Visit): Static<typeof VisitBody> {
  return {
    ...visit,
    started_at: visit.started_at.toISOString(),
    ended_at: visit.ended_at.toISOString(),
    duration_s: (visit.ended_at.getTime() - visit.started_at.getTime()) / 1000,
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
      const page = await context.asUser(request, (tx) =>
        placesPage(tx, { words: query.q ?? null, bbox, near }, { after, limit: query.limit ?? 100, geography: useGeography }),
      );
      return { places: page.rows.map(toPlace), next_cursor: page.next && encodeCursor(page.next) };
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
      const page = await context.asUser(request, (tx) =>
        visitsPage(tx, { ...range, placeId: query.place_id ?? null }, { after, limit: query.limit ?? 100 }),
      );
      return { visits: page.rows.map(toVisit), next_cursor: page.next && encodeCursor(page.next) };
    },
  );
}
