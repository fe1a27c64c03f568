// Photos and videos (user_data.media, the merged view of file and sidecar) for the API: pages
// filtered by when they were taken, where (a bounding box), album and camera; one item with its
// copies in the export (media_files) and the sidecar paired with them (media_sidecars); and the
// user's reference to a blob (user_data.blob_refs), which is what lets a user read its bytes.
//
// Pages are newest first, keyed by (taken_at, sha256): items without a time come last (as
// -infinity), so the key stays total. The (user_id, taken_at) index serves the time range; the
// album filter uses the GIN index on albums; camera and bounding box are checked on the rows.
import type { Queryable } from '../db/database.js';
import { locationConditions, type BoundingBox } from './locations.js';
import { containsPattern } from './places.js';
import { isMicrosTimestamp, SqlParams, utcMicros, whereClause, type Page, type TimeRange } from './sql.js';

export interface MediaItem {
  sha256: string;
  mime_type: string;
  size_bytes: number;
  width: number | null;
  height: number | null;
  duration_s: number | null;
  camera_make: string | null;
  camera_model: string | null;
  taken_at: Date | null;
  taken_at_source: string | null;
  utc_offset_minutes: number | null;
  lat: number | null;
  lon: number | null;
  geo_source: string | null;
  title: string | null;
  description: string | null;
  people: string[];
  favorited: boolean;
  albums: string[];
  original_name: string;
  source: string;
}

export interface MediaCopy {
  folder: string;
  file_name: string;
  folder_kind: string;
  sidecar_name: string | null;
  source: string;
}

export interface MediaSidecar {
  folder: string;
  sidecar_name: string;
  title: string | null;
  description: string | null;
  taken_at: Date | null;
  created_at: Date | null;
  lat: number | null;
  lon: number | null;
  alt: number | null;
  people: string[];
  favorited: boolean | null;
  url: string | null;
  truncated: boolean;
  source: string;
}

export interface MediaFilter extends TimeRange {
  bbox: BoundingBox | null;
  /** Only media in this album (its title, as media.albums holds it). */
  album: string | null;
  /** Text found in "make model" of the camera (case-insensitive). */
  camera: string | null;
}

/** The last item's key: taken_at as utcMicros text (null for none) and the hex SHA-256. */
export type MediaPosition = [time: string | null, sha256: string];

export function isMediaPosition(value: unknown): value is MediaPosition {
  return Array.isArray(value) && value.length === 2 && (value[0] === null || isMicrosTimestamp(value[0])) && typeof value[1] === 'string' && /^[0-9a-f]{64}$/.test(value[1]);
}

export const SHA256_PATTERN = '^[0-9a-fA-F]{64}$';

const MEDIA_COLUMNS = `encode(sha256, 'hex') AS sha256, mime_type, size_bytes::float8 AS size_bytes, width::float8 AS width, height::float8 AS height, duration_s,
  camera_make, camera_model, taken_at, taken_at_source, meta_utc_offset_minutes::int AS utc_offset_minutes, lat, lon, geo_source, title, description, people,
  favorited, albums, original_name, source`;

const SORT_TIME = `coalesce(taken_at, '-infinity'::timestamptz)`;

export async function mediaPage(tx: Queryable, filter: MediaFilter, options: { after: MediaPosition | null; limit: number }): Promise<Page<MediaItem, MediaPosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where = locationConditions({ from: null, to: null, bbox: filter.bbox, near: null }, params, false);
  if (filter.from) where.push(`taken_at >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`taken_at < ${params.add(filter.to)}`);
  if (filter.album !== null) where.push(`albums @> ARRAY[${params.add(filter.album)}::text]`);
  if (filter.camera !== null) where.push(`(coalesce(camera_make, '') || ' ' || coalesce(camera_model, '')) ILIKE ${params.add(containsPattern(filter.camera))}`);
  if (after) {
    where.push(`(${SORT_TIME}, sha256) < (coalesce(${params.add(after[0])}::timestamptz, '-infinity'::timestamptz), decode(${params.add(after[1])}::text, 'hex'))`);
  }
  const rows = await tx.query<MediaItem & { position_time: string | null }>(
    `SELECT ${MEDIA_COLUMNS}, CASE WHEN taken_at IS NULL THEN NULL ELSE ${utcMicros('taken_at')} END AS position_time
       FROM user_data.media
      ${whereClause(where)}
      ORDER BY ${SORT_TIME} DESC, sha256 DESC
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _, ...item }) => item),
    next: rows.rows.length > limit && last ? [last.position_time, last.sha256] : null,
  };
}

/** One photo or video with its copies and the sidecar paired with the first copy that has one; null when the user has none. */
export async function mediaBySha256(tx: Queryable, sha256: string): Promise<{ item: MediaItem; copies: MediaCopy[]; sidecar: MediaSidecar | null } | null> {
  const hash = sha256.toLowerCase();
  const found = await tx.query<MediaItem>(`SELECT ${MEDIA_COLUMNS} FROM user_data.media WHERE sha256 = decode($1, 'hex')`, [hash]);
  const item = found.rows[0];
  if (!item) return null;
  const copies = await tx.query<MediaCopy>(
    `SELECT folder, file_name, folder_kind, sidecar_name, source FROM user_data.media_files
      WHERE sha256 = decode($1, 'hex') ORDER BY folder, file_name`,
    [hash],
  );
  const paired = copies.rows.find((copy) => copy.sidecar_name !== null);
  const sidecar = paired
    ? await tx.query<MediaSidecar>(
        `SELECT folder, sidecar_name, title, description, taken_at, created_at, lat, lon, alt, people, favorited, url, truncated, source
           FROM user_data.media_sidecars WHERE folder = $1 AND sidecar_name = $2`,
        [paired.folder, paired.sidecar_name],
      )
    : null;
  return { item, copies: copies.rows, sidecar: sidecar?.rows[0] ?? null };
}

/** What the user's reference to a blob says about it. */
export interface BlobReference {
  mime_type: string | null;
  size_bytes: number;
}

/**
 * The user's reference to a blob, null when the user has none (under row-level security, another
 * user's reference is not there either). A blob referenced several times (the same bytes under two
 * names) answers with the oldest reference that states a MIME type.
 */
export async function blobReference(tx: Queryable, sha256: string): Promise<BlobReference | null> {
  const found = await tx.query<BlobReference>(
    `SELECT mime_type, size_bytes::float8 AS size_bytes FROM user_data.blob_refs
      WHERE sha256 = decode($1, 'hex')
      ORDER BY mime_type IS NULL, created_at, source, original_name
      LIMIT 1`,
    [sha256.toLowerCase()],
  );
  return found.rows[0] ?? null;
}
