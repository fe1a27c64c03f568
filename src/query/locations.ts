// Location points (timeseries.location_points) as GeoJSON features, oldest first, filtered by time
// range, bounding box and/or radius, optionally thinned to one point per time bucket so a year of
// points draws fast; pages keyed by (recorded_at, content_hash). The conditions on lat and lon are
// shared with places (places.ts), which have a position too.
import type { Queryable } from '../db/database.js';
import { cellCondition, cellRangesAround } from '../geo/cells.js';
import { isTimeHashPosition, SqlParams, utcMicros, type TimeHashPosition } from './sql.js';

/** Mean Earth radius (IUGG), for the distance formula used where PostGIS is absent. */
const EARTH_RADIUS_M = 6_371_008.8;
/** Half the Earth's circumference: every point is within this distance. */
export const MAX_RADIUS_M = 20_037_509;

/** minLon,minLat,maxLon,maxLat in degrees; minLon > maxLon crosses the antimeridian. */
export interface BoundingBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** The last point's key: its time (utcMicros) and its hex content hash. */
export type LocationPosition = TimeHashPosition;

export function isLocationPosition(value: unknown): value is LocationPosition {
  return isTimeHashPosition(value);
}

export interface LocationFilter {
  from: Date | null;
  to: Date | null;
  bbox: BoundingBox | null;
  near: { lat: number; lon: number; radiusM: number } | null;
}

/**
 * WHERE conditions for a location filter on a table with lat, lon (and geog with PostGIS). The
 * radius uses ST_DWithin on the geography where PostGIS is installed (on the spheroid); elsewhere
 * the haversine distance on a sphere. `points`: the table is timeseries.location_points, whose
 * cells (migration 0015) find the candidates by index first, and which stores no geography
 * (migration 0017): it is built for those candidates only.
 */
export function locationConditions(filter: LocationFilter, params: SqlParams, useGeography: boolean, points = false): string[] {
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
    // The cells around the centre find the candidates by index (src/geo/cells.ts); the distance decides.
    const nearby = points ? cellCondition(cellRangesAround(filter.near.lat, filter.near.lon, filter.near.radiusM), (cell) => params.add(cell)) : null;
    if (nearby) where.push(nearby);
    const lat = `${params.add(filter.near.lat)}::float8`;
    const lon = `${params.add(filter.near.lon)}::float8`;
    const radius = `${params.add(filter.near.radiusM)}::float8`;
    where.push(
      useGeography
        ? `ST_DWithin(${points ? 'ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography' : 'geog'}, ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326)::geography, ${radius})`
        : `2 * ${EARTH_RADIUS_M} * asin(sqrt(power(sin(radians(lat - ${lat}) / 2), 2)
             + cos(radians(${lat})) * cos(radians(lat)) * power(sin(radians(lon - ${lon}) / 2), 2))) <= ${radius}`,
    );
  }
  return where;
}

/**
 * One row of the page as a GeoJSON Feature, written as JSON text by the database (keys in this
 * order): one concat(), which skips NULL arguments, so a property the point does not record
 * (`',"device":' || device` is NULL) is left out. Text rather than json_build_object: a third
 * less time and no spaces around the colons (a fifth of the bytes). Numbers print as
 * float8out/float4out do (shortest exact form), strings through to_json (escaped).
 */
const FEATURE_JSON = `concat('{"type":"Feature","geometry":{"type":"Point","coordinates":[', lon, ',', lat, ',' || altitude_m,
  ']},"properties":{"recorded_at":"', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), '"',
  ',"accuracy_m":' || accuracy_m, ',"velocity_mps":' || velocity_mps, ',"heading_deg":' || heading_deg,
  ',"activity":' || to_json(activity)::text, ',"device":' || to_json(device)::text, ',"source":', to_json(source)::text, '}}')`;

const HOUR_MS = 3_600_000;

/**
 * A simplified page for buckets of whole hours and no spatial filter, from the hourly summary
 * (timeseries.location_hours, migration 0014): the first point of a bucket is the first of its
 * hours' first points. Hours cut by the range's ends are read from the points themselves.
 */
function hourlyPage(options: { where: string[]; params: SqlParams; columns: string; bucket: string; low: Date | null; high: Date | null; limit: number }): string {
  const { where, params, columns, bucket, low, high, limit } = options;
  const fullFrom = low ? new Date(Math.ceil(low.getTime() / HOUR_MS) * HOUR_MS) : null;
  const fullTo = high ? new Date(Math.floor(high.getTime() / HOUR_MS) * HOUR_MS) : null;
  const parts: string[] = [];
  const range = (column: string, from: Date | null, to: Date | null) =>
    [from ? `${column} >= ${params.add(from)}::timestamptz` : null, to ? `${column} < ${params.add(to)}::timestamptz` : null].filter(Boolean);
  if (fullFrom && fullTo && fullFrom.getTime() >= fullTo.getTime()) {
    // The whole range lies within an hour or two: its points.
    parts.push(`SELECT ${columns} FROM timeseries.location_points WHERE ${range('recorded_at', low, high).join(' AND ')}`);
  } else {
    const hours = range('hour', fullFrom, fullTo);
    parts.push(`SELECT ${columns} FROM timeseries.location_hours ${hours.length > 0 ? `WHERE ${hours.join(' AND ')}` : ''}`);
    if (low && fullFrom && low < fullFrom) parts.push(`SELECT ${columns} FROM timeseries.location_points WHERE ${range('recorded_at', low, fullFrom).join(' AND ')}`);
    if (high && fullTo && fullTo < high) parts.push(`SELECT ${columns} FROM timeseries.location_points WHERE ${range('recorded_at', fullTo, high).join(' AND ')}`);
  }
  return `SELECT DISTINCT ON (date_bin(${bucket}, recorded_at, timestamptz 'epoch')) *
            FROM (${parts.join(' UNION ALL ')}) heads
           ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} -- the time range and cursor again: already met, and they bind their parameters
           ORDER BY date_bin(${bucket}, recorded_at, timestamptz 'epoch'), recorded_at, content_hash
           LIMIT ${params.add(limit + 1)}`;
}

/** Above this many buckets in the range, simplification sorts the range instead of probing each bucket. */
export const MAX_BUCKET_PROBES = 50_000;

interface SimplifyOptions {
  filter: LocationFilter;
  where: string[];
  params: SqlParams;
  columns: string;
  bucketSeconds: number;
  after: LocationPosition | null;
  limit: number;
}

/**
 * The page of a simplified query: the first point of every bucket of `bucketSeconds` (aligned on
 * the epoch), from the bucket after the cursor on. Buckets are probed one by one, each with one
 * index range scan on (user_id, recorded_at) that stops at its first point (LIMIT 1 in a LATERAL
 * join over generate_series of the buckets): a year at one point an hour is 8,784 short probes,
 * several times faster than sorting every point of the year (measured with a million points on
 * the development server). Where the range holds more than MAX_BUCKET_PROBES buckets
 * (a long range at a fine bucket, mostly empty) one pass with DISTINCT ON over the sorted range is
 * cheaper, and used.
 */
async function simplifiedPage(tx: Queryable, options: SimplifyOptions): Promise<string> {
  const { filter, where, params, columns, bucketSeconds, after, limit } = options;
  const bucketMs = bucketSeconds * 1000;
  const bucket = `(${params.add(bucketSeconds)}::float8 * interval '1 second')`;
  // The bucket after the cursor's: every bucket appears on exactly one page.
  const resume = after ? new Date(Math.floor(Date.parse(after[0]) / bucketMs) * bucketMs + bucketMs) : null;
  if (after) where.push(`recorded_at >= date_bin(${bucket}, ${params.add(after[0])}::timestamptz, timestamptz 'epoch') + ${bucket}`);
  let low = resume && filter.from ? new Date(Math.max(resume.getTime(), filter.from.getTime())) : (resume ?? filter.from);
  if (bucketSeconds % 3600 === 0 && !filter.bbox && !filter.near) {
    return hourlyPage({ where, params, columns, bucket, low: low ?? null, high: filter.to ?? null, limit });
  }
  let high = filter.to;
  if (!low || !high) {
    const bounds = await tx.query<{ first: Date | null; last: Date | null }>(
      `SELECT min(recorded_at) AS first, max(recorded_at) AS last FROM timeseries.location_points`,
    );
    const { first, last } = bounds.rows[0]!;
    low ??= first;
    high ??= last ? new Date(last.getTime() + 1) : null;
  }
  const conditions = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  if (low && high && (high.getTime() - low.getTime()) / bucketMs <= MAX_BUCKET_PROBES) {
    const and = where.length > 0 ? `${conditions} AND` : 'WHERE';
    // Each bucket's end is a column of its own (OFFSET 0 keeps the subquery from being flattened):
    // under row-level security only leakproof comparisons become index conditions, and
    // `recorded_at < start + interval` would not (the addition is not leakproof), leaving every
    // probe to scan on past its bucket.
    return `SELECT p.* FROM (
              SELECT start, start + ${bucket} AS stop
                FROM generate_series(date_bin(${bucket}, ${params.add(low)}::timestamptz, timestamptz 'epoch'), ${params.add(high)}::timestamptz, ${bucket}) start
              OFFSET 0) b
            CROSS JOIN LATERAL (
              SELECT ${columns} FROM timeseries.location_points
               ${and} recorded_at >= b.start AND recorded_at < b.stop
               ORDER BY recorded_at, content_hash LIMIT 1) p
            LIMIT ${params.add(limit + 1)}`;
  }
  return `SELECT DISTINCT ON (date_bin(${bucket}, recorded_at, timestamptz 'epoch')) ${columns}
            FROM timeseries.location_points ${conditions}
           ORDER BY date_bin(${bucket}, recorded_at, timestamptz 'epoch'), recorded_at, content_hash
           LIMIT ${params.add(limit + 1)}`;
}

export interface LocationPageOptions {
  /** Keep the first point of every bucket of this many seconds; null: every point. */
  simplifySeconds: number | null;
  after: LocationPosition | null;
  limit: number;
  /** Whether PostGIS is installed (Profile.features.geo): radius on the spheroid, else haversine. */
  geography: boolean;
}

/**
 * A page of points as GeoJSON Feature objects in JSON text, joined by commas (the inside of a
 * FeatureCollection's `features` array), and the position after its last point when another page
 * follows.
 */
export async function locationFeaturesPage(tx: Queryable, filter: LocationFilter, options: LocationPageOptions): Promise<{ featuresJson: string; next: LocationPosition | null }> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where = locationConditions(filter, params, options.geography, true);
  const columns = `recorded_at, content_hash, lat, lon, altitude_m, accuracy_m, velocity_mps, heading_deg, activity, device, source`;
  let page: string;
  if (options.simplifySeconds === null) {
    if (after) where.push(`(recorded_at, content_hash) > (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}, 'hex'))`);
    page = `SELECT ${columns} FROM timeseries.location_points
            ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY recorded_at, content_hash LIMIT ${params.add(limit + 1)}`;
  } else {
    page = await simplifiedPage(tx, { filter, where, params, columns, bucketSeconds: options.simplifySeconds, after, limit });
  }
  // The features are built by the database as JSON text and sent as they come: parsing rows
  // into objects and serializing them again took most of the time of a large page. Ordered by
  // the page's own order, the aggregates need no sort of their own where the page comes from
  // the primary key (PostgreSQL 16+). The page holds one row more than the limit, to tell
  // whether another page follows; the features of all of them are made, and the extra one is
  // cut off here, which costs less than numbering the rows to leave it out (a quarter of the
  // database's time for a one-day page). The position is the key of the page's last row.
  const result = await tx.query<{ features: string; rows: number; last_time: string | null; last_hash: string | null }>(
    `SELECT features, rows, ${utcMicros('last.time')} AS last_time, encode(last.hash, 'hex') AS last_hash
       FROM (SELECT coalesce(string_agg(${FEATURE_JSON}, ',' ORDER BY recorded_at, content_hash), '') AS features,
                    count(*)::int AS rows,
                    (array_agg(recorded_at ORDER BY recorded_at, content_hash))[${params.add(limit)}] AS time,
                    (array_agg(content_hash ORDER BY recorded_at, content_hash))[${params.add(limit)}] AS hash
               FROM (${page}) AS page) AS last`,
    params.values,
    // Prepared per connection (QueryOptions) unless a radius makes the text vary (a pair of parameters per range of grid cells).
    { prepare: filter.near === null },
  );
  const { features, rows, last_time, last_hash } = result.rows[0]!;
  return {
    // The extra row's feature is the last: no feature's text holds `,{"type":"Feature",` (quotes inside strings are escaped).
    featuresJson: rows > limit ? features.slice(0, features.lastIndexOf(',{"type":"Feature",')) : features,
    next: rows > limit && last_time && last_hash ? [last_time, last_hash] : null,
  };
}
