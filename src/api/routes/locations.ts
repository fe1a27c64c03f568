// GET /v1/locations: location points as a GeoJSON FeatureCollection, oldest first, filtered by
// time range, bounding box and/or radius, optionally thinned to one point per time bucket so a
// year of points draws fast (query/locations.ts). Paged with a cursor on (recorded_at,
// content_hash); the cursor rides along as the foreign member `next_cursor` (RFC 7946 section 6.1).
import { Type } from 'typebox';
import { isLocationPosition, locationFeaturesPage, MAX_RADIUS_M } from '../../query/locations.js';
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

const LocationsQuery = Type.Object(
  {
    ...TimeRangeParams,
    bbox: Type.Optional(BboxParam),
    near: Type.Optional(NearParam),
    radius: Type.Optional(NumberParam({ exclusiveMinimum: 0, maximum: MAX_RADIUS_M, description: 'metres around near' })),
    simplify: Type.Optional(
      IntegerParam({ minimum: 1, maximum: 31_622_400, description: 'keep the first point of every bucket of this many seconds (e.g. 3600: one per hour)' }),
    ),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 10_000, default: 1000, description: 'features per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const PointFeature = Type.Object({
  type: Type.Literal('Feature'),
  geometry: Type.Object({ type: Type.Literal('Point'), coordinates: Type.Array(Type.Number(), { minItems: 2, maxItems: 3, description: '[lon, lat] or [lon, lat, altitude]' }) }),
  // What the point does not record is left out rather than null: a quarter of a page's bytes.
  properties: Type.Object({
    recorded_at: Type.String({ format: 'date-time' }),
    accuracy_m: Type.Optional(Type.Number()),
    velocity_mps: Type.Optional(Type.Number()),
    heading_deg: Type.Optional(Type.Number()),
    activity: Type.Optional(Type.String()),
    device: Type.Optional(Type.String()),
    source: Type.String(),
  }),
});

const FeatureCollection = Type.Object({
  type: Type.Literal('FeatureCollection'),
  features: Type.Array(PointFeature),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

export function locationRoutes(app: ApiApp, context: ApiContext): void {
  const useGeography = context.lake.profile.features.geo.enabled;
  app.get(
    '/locations',
    {
      schema: {
        summary: 'location points as GeoJSON, filtered by time, bounding box or radius, optionally thinned',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: LocationsQuery,
        response: { 200: FeatureCollection, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request, reply) => {
      const query = request.query;
      if ((query.near === undefined) !== (query.radius === undefined)) throw query.near === undefined ? invalid('near', 'is required with `radius`') : invalid('radius', 'is required with `near`');
      const near = query.near === undefined ? null : { ...parseNear(query.near), radiusM: query.radius! };
      const filter = { ...parseTimeRange(query), bbox: query.bbox === undefined ? null : parseBbox(query.bbox), near };
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isLocationPosition);
      const { featuresJson, next } = await context.asUser(request, (tx) =>
        locationFeaturesPage(tx, filter, { simplifySeconds: query.simplify ?? null, after, limit: query.limit ?? 1000, geography: useGeography }),
      );
      const nextCursor = next && encodeCursor(next);
      // Sent as it is, bypassing the response schema (which stays for the OpenAPI document), and as
      // bytes: handed to the socket as a string, a page as large as a day's was encoded inside
      // writev, at a higher cost than Buffer.from's (measured under concurrent clients).
      const body = `{"type":"FeatureCollection","features":[${featuresJson}],"next_cursor":${JSON.stringify(nextCursor)}}`;
      return reply.type('application/json; charset=utf-8').send(Buffer.from(body) as never);
    },
  );
}
