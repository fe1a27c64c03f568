// Places (user_data.places), found by words in name or address, bounding box or radius, paged by
// place id, each with how often and when last it was visited; and visits to places
// (user_data.visits), oldest first, overlapping a time range and/or at one place, each with its
// place's name and address, paged on (started_at, content_hash).
import type { Queryable } from '../db/database.js';
import { locationConditions, type BoundingBox } from './locations.js';
import { isTimeHashPosition, SqlParams, utcMicros, whereClause, type Page, type TimeHashPosition, type TimeRange } from './sql.js';

export interface Place {
  place_id: string;
  source: string;
  name: string | null;
  address: string | null;
  lat: number | null;
  lon: number | null;
  attributes: Record<string, unknown>;
  first_seen_at: Date;
  updated_at: Date;
  /** Visits recorded at this place. */
  visits: number;
  last_visit_at: Date | null;
}

export interface Visit {
  /** Hex content hash: with started_at, the visit's key. */
  visit_id: string;
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

export interface PlaceFilter {
  /** Text found in the name or the address (case-insensitive). */
  words: string | null;
  bbox: BoundingBox | null;
  near: { lat: number; lon: number; radiusM: number } | null;
}

export interface VisitFilter extends TimeRange {
  /** Only visits to this place. */
  placeId: string | null;
}

export type PlacePosition = [placeId: string];
export type VisitPosition = TimeHashPosition;

export function isPlacePosition(value: unknown): value is PlacePosition {
  return Array.isArray(value) && value.length === 1 && typeof value[0] === 'string';
}

export function isVisitPosition(value: unknown): value is VisitPosition {
  return isTimeHashPosition(value);
}

/** A LIKE pattern matching `text` anywhere, its wildcards taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** `geography`: whether PostGIS is installed (Profile.features.geo), for the radius. */
export async function placesPage(
  tx: Queryable,
  filter: PlaceFilter,
  options: { after: PlacePosition | null; limit: number; geography: boolean },
): Promise<Page<Place, PlacePosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  // Places have lat, lon and (with PostGIS) geog like location points: the same conditions.
  const where = locationConditions({ from: null, to: null, bbox: filter.bbox, near: filter.near }, params, options.geography);
  if (filter.words !== null) {
    // ILIKE is served by the trigram index on name where pg_trgm is installed.
    const pattern = params.add(containsPattern(filter.words));
    where.push(`(p.name ILIKE ${pattern} OR p.address ILIKE ${pattern})`);
  }
  if (after) where.push(`p.place_id > ${params.add(after[0])}`);
  const rows = await tx.query<Place>(
    `SELECT p.place_id, p.source, p.name, p.address, p.lat, p.lon, p.attributes, p.first_seen_at, p.updated_at,
            coalesce(v.visits, 0)::int AS visits, v.last_visit_at
       FROM user_data.places p
       LEFT JOIN LATERAL (
         SELECT count(*) AS visits, max(started_at) AS last_visit_at
           FROM user_data.visits WHERE user_id = p.user_id AND place_id = p.place_id) v ON true
      ${whereClause(where)}
      ORDER BY p.place_id
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.rows.length > limit && last ? [last.place_id] : null };
}

export async function visitsPage(tx: Queryable, filter: VisitFilter, options: { after: VisitPosition | null; limit: number }): Promise<Page<Visit, VisitPosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where: string[] = [];
  // A visit belongs to a range when the two overlap: one that began before `from` and was
  // still going on counts.
  if (filter.from) where.push(`v.ended_at >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`v.started_at < ${params.add(filter.to)}`);
  if (filter.placeId !== null) where.push(`v.place_id = ${params.add(filter.placeId)}`);
  if (after) where.push(`(v.started_at, v.content_hash) > (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}, 'hex'))`);
  const rows = await tx.query<Visit & { position_time: string }>(
    `SELECT encode(v.content_hash, 'hex') AS visit_id, ${utcMicros('v.started_at')} AS position_time,
            v.started_at, v.ended_at, v.place_id, p.name AS place_name, p.address AS place_address,
            v.source, v.lat, v.lon, v.confidence, v.attributes, v.import_file_id
       FROM user_data.visits v
       LEFT JOIN user_data.places p ON p.user_id = v.user_id AND p.place_id = v.place_id
      ${whereClause(where)}
      ORDER BY v.started_at, v.content_hash
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _, ...visit }) => visit),
    next: rows.rows.length > limit && last ? [last.position_time, last.visit_id] : null,
  };
}
