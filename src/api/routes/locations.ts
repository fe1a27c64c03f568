// GET /v1/locations: location points as a GeoJSON FeatureCollection, oldest first, filtered by
// time range, bounding box and/or radius, optionally thinned to one point per time bucket so a
// year of points draws fast. Paged with a cursor on (recorded_at, content_hash); the cursor rides
// along as the foreign member `next_cursor` (RFC 7946 section 6.1).
import { Type, type Static } from 'typebox';
import { decodeCursor, encodeCursor, isMicrosTimestamp, utcMicros } from '../cursor.js';
import type { ApiApp, ApiContext } from '../context.js';
import {
  BBOX_PATTERN,
  CursorParam,
  ErrorBody,
  invalid,
  NEAR_PATTERN,
  Nullable,
  parseBbox,
  parseNear,
  parseTimeRange,
  TimeRangeParams,
  type BoundingBox,
} from '../query-params.js';
import { SqlParams } from '../sql.js';

/** Mean Earth radius (IUGG), for the distance formula used where PostGIS is absent. */
const EARTH_RADIUS_M = 6_371_008.8;
/** Half the Earth's circumference: every point is within this distance. */
const MAX_RADIUS_M = 20_037_509;

const LocationsQuery = Type.Object(
  {
    ...TimeRangeParams,
    bbox: Type.Optional(Type.String({ pattern: BBOX_PATTERN, description: 'minLon,minLat,maxLon,maxLat in degrees (minLon > maxLon crosses the antimeridian)' })),
    near: Type.Optional(Type.String({ pattern: NEAR_PATTERN, description: 'lat,lon of a centre; needs radius' })),
    radius: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_RADIUS_M, description: 'metres around near' })),
    simplify: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 31_622_400, description: 'keep the first point of every bucket of this many seconds (e.g. 3600: one per hour)' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'features per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const PointFeature = Type.Object({
  type: Type.Literal('Feature'),
  geometry: Type.Object({ type: Type.Literal('Point'), coordinates: Type.Array(Type.Number(), { minItems: 2, maxItems: 3, description: '[lon, lat] or [lon, lat, altitude]' }) }),
  properties: Type.Object({
    recorded_at: Type.String({ format: 'date-time' }),
    accuracy_m: Nullable(Type.Number()),
    velocity_mps: Nullable(Type.Number()),
    heading_deg: Nullable(Type.Number()),
    activity: Nullable(Type.String()),
    device: Nullable(Type.String()),
    source: Type.String(),
  }),
});

const FeatureCollection = Type.Object({
  type: Type.Literal('FeatureCollection'),
  features: Type.Array(PointFeature),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

interface PointRow {
  recorded_at: Date;
  position_time: string;
  position_hash: string;
  lat: number;
  lon: number;
  altitude_m: number | null;
  accuracy_m: number | null;
  velocity_mps: number | null;
  heading_deg: number | null;
  activity: string | null;
  device: string | null;
  source: string;
}

type Position = [time: string, contentHashHex: string];

function isPosition(value: unknown): value is Position {
  return Array.isArray(value) && value.length === 2 && isMicrosTimestamp(value[0]) && typeof value[1] === 'string' && /^[0-9a-f]{2,128}$/.test(value[1]);
}

export interface LocationFilter {
  from: Date | null;
  to: Date | null;
  bbox: BoundingBox | null;
  near: { lat: number; lon: number; radiusM: number } | null;
}

/**
 * WHERE conditions for a location filter. The radius uses ST_DWithin on the geography column where
 * PostGIS is installed (indexed, on the spheroid); elsewhere the haversine distance on a sphere.
 */
export function locationConditions(filter: LocationFilter, params: SqlParams, useGeography: boolean): string[] {
  const where: string[] = [];
  if (filter.from) where.push(`recorded_at >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`recorded_at < ${params.add(filter.to)}`);
  if (filter.bbox) {
    const { minLon, minLat, maxLon, maxLat } = filter.bbox;
    where.push(`lat BETWEEN ${params.add(minLat)}::float8 AND ${params.add(maxLat)}::float8`);
    const lon = minLon <= maxLon ? `lon BETWEEN ${params.add(minLon)}::float8 AND ${params.add(maxLon)}::float8` : `(lon >= ${params.add(minLon)}::float8 OR lon <= ${params.add(maxLon)}::float8)`;
    where.push(lon);
  }
  if (filter.near) {
    const lat = `${params.add(filter.near.lat)}::float8`;
    const lon = `${params.add(filter.near.lon)}::float8`;
    const radius = `${params.add(filter.near.radiusM)}::float8`;
    where.push(
      useGeography
        ? `ST_DWithin(geog, ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326)::geography, ${radius})`
        : `2 * ${EARTH_RADIUS_M} * asin(sqrt(power(sin(radians(lat - ${lat}) / 2), 2)
             + cos(radians(${lat})) * cos(radians(lat)) * power(sin(radians(lon - ${lon}) / 2), 2))) <= ${radius}`,
    );
  }
  return where;
}

function toFeature(row: PointRow): Static<typeof PointFeature> {
  return {
    type: 'Feature',
    geometry: { type: 'Point', coordinates: row.altitude_m === null ? [row.lon, row.lat] : [row.lon, row.lat, row.altitude_m] },
    properties: {
      recorded_at: row.recorded_at.toISOString(),
      accuracy_m: row.accuracy_m,
      velocity_mps: row.velocity_mps,
      heading_deg: row.heading_deg,
      activity: row.activity,
      device: row.device,
      source: row.source,
    },
  };
}

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
    async (request) => {
      const query = request.query;
      if ((query.near === undefined) !== (query.radius === undefined)) throw invalid(query.near === undefined ? 'near' : 'radius', 'near and radius go together');
      const near = query.near === undefined ? null : { ...parseNear(query.near), radiusM: query.radius! };
      const filter: LocationFilter = { ...parseTimeRange(query), bbox: query.bbox === undefined ? null : parseBbox(query.bbox), near };
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isPosition);
      const limit = query.limit ?? 1000;
      const params = new SqlParams();
      const where = locationConditions(filter, params, useGeography);
      const columns = `recorded_at, ${utcMicros('recorded_at')} AS position_time, encode(content_hash, 'hex') AS position_hash,
                       lat, lon, altitude_m, accuracy_m, velocity_mps, heading_deg, activity, device, source`;
      let sql: string;
      if (query.simplify === undefined) {
        if (after) where.push(`(recorded_at, content_hash) > (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}, 'hex'))`);
        sql = `SELECT ${columns} FROM timeseries.location_points
               ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
               ORDER BY recorded_at, content_hash LIMIT ${params.add(limit + 1)}`;
      } else {
        // Buckets are aligned on the epoch, not on the page, so the next page starts at the bucket
        // after the last one shown and every bucket appears exactly once across pages.
        const bucket = `(${params.add(query.simplify)}::float8 * interval '1 second')`;
        if (after) where.push(`recorded_at >= date_bin(${bucket}, ${params.add(after[0])}::timestamptz, timestamptz 'epoch') + ${bucket}`);
        sql = `SELECT DISTINCT ON (date_bin(${bucket}, recorded_at, timestamptz 'epoch')) ${columns}
                 FROM timeseries.location_points
                ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
                ORDER BY date_bin(${bucket}, recorded_at, timestamptz 'epoch'), recorded_at, content_hash
                LIMIT ${params.add(limit + 1)}`;
      }
      const rows = await context.asUser(request, (tx) => tx.query<PointRow>(sql, params.values));
      const page = rows.rows.slice(0, limit);
      const last = page.at(-1);
      return {
        type: 'FeatureCollection' as const,
        features: page.map(toFeature),
        next_cursor: rows.rows.length > limit && last ? encodeCursor([last.position_time, last.position_hash] satisfies Position) : null,
      };
    },
  );
}
