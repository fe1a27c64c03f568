// The step after an import that joins what several files said about one photo: media files and
// their Google Photos sidecars arrive in any order, in one import or in two, so they are joined
// here, in SQL, once the files are in (the runner calls a source's afterImport at the end of every
// import that used it). Only folders where something new arrived are looked at: new rows come
// with `reconciled = false` and are marked once joined, in the same transaction, so a kill before
// the commit leaves them for the next import, and running it again changes nothing.
//
//   1. pair each media file of those folders with its sidecar (names.ts: the pair name and
//      duplicate number, equal, or a prefix when the sidecar's name was cut by Google): the
//      file's own sidecar (named as the file is) first, then an exact pair name, then the longest
//      prefix; `media_files.sidecar_name` records the choice.
//   2. merge, per content (SHA-256), over every copy of it in every folder: taken_at = the
//      sidecar's photoTakenTime, else the file's own (EXIF with its offset, MP4 mvhd, EXIF wall
//      clock without offset last); lat/lon = sidecar geoData, else sidecar geoDataExif, else the
//      file's EXIF GPS / ©xyz; description and title from the first sidecar that has one (by
//      folder and name), people the union, favorited if any copy is, albums the titles of the
//      album folders it is in (metadata file title, else the folder's name; year folders and the
//      top folder are no albums).
//   3. a point on the map: every media row with a position and a time is one row of
//      timeseries.location_points, source `google.photos`, content hash = SHA-256 of
//      `google.photos:` and the media's SHA-256, attributes {media_sha256, geo_source, name};
//      re-made when the merge moves it (so the map endpoints show photos with everything else).
import type { Database } from '../../../../db/database.js';
import { PAIR_KEY_CHARS } from './names.js';

export const MEDIA_POINT_SOURCE = 'google.photos';

/**
 * The join key of a name: its first PAIR_KEY_CHARS characters counted as Google counts when it cuts
 * a sidecar's name, in UTF-16 units (a character past U+FFFF, an emoji, is two; SQL counts code
 * points, so such characters are written twice). A name Google counted in code points keeps even
 * more, so either way a cut sidecar keeps its whole key.
 */
function pairKey(column: string): string {
  return `left(regexp_replace(${column}, '([\\U00010000-\\U0010FFFF])', '\\1\\1', 'g'), ${PAIR_KEY_CHARS})`;
}
/** A media file's pair name without its extension: `1234.jpg` → `1234` (sidecars named `1234.supplemental-metadata.json`). */
const PAIR_STEM = `regexp_replace(f.pair_name, '\\.[^.]*$', '')`;

export interface ReconcileOutcome {
  /** Media rows whose merged view was recomputed. */
  media: number;
  /** Copies (in the folders looked at) that found a sidecar. */
  paired: number;
  points: number;
  /** For the report: new sidecars whose photo is not there, new photos without a sidecar. */
  notes: { path: string; note: string }[];
}

export const NO_PHOTO_NOTE = 'photo not in this export: no media file in its folder matches this sidecar (kept; it pairs when the photo is imported)';
export const NO_SIDECAR_NOTE = 'no Google Photos sidecar found: time and place from the file itself';

export async function reconcileMedia(db: Database, userId: string): Promise<{ path: string; note: string }[]> {
  return (await reconcileMediaCounted(db, userId)).notes;
}

export async function reconcileMediaCounted(db: Database, userId: string): Promise<ReconcileOutcome> {
  const outcome = await db.asUser(userId, async (tx) => {
    const q = (sql: string) => tx.query(sql, sql.includes('$1') ? [userId] : []);
    // What is new: the rows themselves (marked at the end) and the folders they are in.
    await q(`CREATE TEMP TABLE lake_media_new_files ON COMMIT DROP AS
               SELECT folder, file_name, sha256 FROM user_data.media_files WHERE user_id = $1 AND NOT reconciled`);
    await q(`CREATE TEMP TABLE lake_media_new_sidecars ON COMMIT DROP AS
               SELECT folder, sidecar_name FROM user_data.media_sidecars WHERE user_id = $1 AND NOT reconciled`);
    await q(`CREATE TEMP TABLE lake_media_new_albums ON COMMIT DROP AS
               SELECT folder FROM user_data.media_albums WHERE user_id = $1 AND NOT reconciled`);
    await q(`CREATE TEMP TABLE lake_media_folders ON COMMIT DROP AS
               SELECT folder FROM lake_media_new_files UNION SELECT folder FROM lake_media_new_sidecars
               UNION SELECT folder FROM lake_media_new_albums`);
    // (CREATE TABLE AS reports no row count on every backend: ask.)
    const folders = await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM lake_media_folders) AS any`);
    if (!folders.rows[0]!.any) return { media: 0, paired: 0, points: null, notes: [] };

    // 1. Pairing: two equality joins on the first PAIR_KEY_CHARS (40) characters (the file's name
    //    as it is, and its pair name), so no file is compared with every sidecar of its folder.
    //    Both sides are copied into analyzed temporary tables first: freshly loaded tables have
    //    no statistics yet (PGlite has no autovacuum), and without them the planner picks nested
    //    loops, which take orders of magnitude longer on a folder of many photos (measured on PGlite).
    await q(`CREATE TEMP TABLE lake_media_f ON COMMIT DROP AS
               SELECT f.folder, f.file_name, f.sha256, f.pair_name, f.pair_dup,
                      ${pairKey('f.file_name')} AS name_key, ${pairKey('f.pair_name')} AS pair_key,
                      ${PAIR_STEM} AS pair_stem, ${pairKey(PAIR_STEM)} AS stem_key
                 FROM user_data.media_files f JOIN lake_media_folders d ON d.folder = f.folder WHERE f.user_id = $1`);
    await q(`CREATE TEMP TABLE lake_media_s ON COMMIT DROP AS
               SELECT s.folder, s.sidecar_name, s.pair_name, s.pair_dup, s.truncated, ${pairKey('s.pair_name')} AS pair_key
                 FROM user_data.media_sidecars s JOIN lake_media_folders d ON d.folder = s.folder WHERE s.user_id = $1`);
    await q(`ANALYZE lake_media_f`);
    await q(`ANALYZE lake_media_s`);
    await q(`CREATE TEMP TABLE lake_media_pairs ON COMMIT DROP AS
      SELECT DISTINCT ON (folder, file_name, sha256) folder, file_name, sha256, sidecar_name
        FROM (
          SELECT f.folder, f.file_name, f.sha256, s.sidecar_name,
                 CASE WHEN s.pair_name = f.file_name THEN 0 ELSE 3 END AS rank, length(s.pair_name) AS kept
            FROM lake_media_f f JOIN lake_media_s s ON s.folder = f.folder AND s.pair_key = f.name_key
           WHERE s.pair_dup = 0 AND (s.pair_name = f.file_name OR (s.truncated AND starts_with(f.file_name, s.pair_name)))
          UNION ALL
          SELECT f.folder, f.file_name, f.sha256, s.sidecar_name,
                 CASE WHEN s.pair_name = f.pair_name THEN 1 ELSE 2 END, length(s.pair_name)
            FROM lake_media_f f JOIN lake_media_s s ON s.folder = f.folder AND s.pair_key = f.pair_key
           WHERE s.pair_dup = f.pair_dup AND (s.pair_name = f.pair_name OR (s.truncated AND starts_with(f.pair_name, s.pair_name)))
          UNION ALL
          SELECT f.folder, f.file_name, f.sha256, s.sidecar_name, 4, length(s.pair_name)
            FROM lake_media_f f JOIN lake_media_s s ON s.folder = f.folder AND s.pair_key = f.stem_key
           WHERE s.pair_dup = f.pair_dup AND s.pair_name = f.pair_stem
        ) candidates
       ORDER BY folder, file_name, sha256, rank, kept DESC, sidecar_name`);
    await q(`UPDATE user_data.media_files f SET sidecar_name = p.sidecar_name
               FROM (SELECT f2.folder, f2.file_name, f2.sha256, lp.sidecar_name
                       FROM user_data.media_files f2
                       JOIN lake_media_folders d ON d.folder = f2.folder
                       LEFT JOIN lake_media_pairs lp ON lp.folder = f2.folder AND lp.file_name = f2.file_name AND lp.sha256 = f2.sha256
                      WHERE f2.user_id = $1) p
              WHERE f.user_id = $1 AND f.folder = p.folder AND f.file_name = p.file_name AND f.sha256 = p.sha256
                AND f.sidecar_name IS DISTINCT FROM p.sidecar_name`);
    const paired = await q(`SELECT count(*)::int AS n FROM lake_media_pairs`);

    // 2. The merge, over every copy of each content found in those folders.
    await q(`CREATE TEMP TABLE lake_media_changed ON COMMIT DROP AS
               SELECT DISTINCT m.sha256, m.taken_at AS old_taken_at
                 FROM user_data.media_files f
                 JOIN lake_media_folders d ON d.folder = f.folder
                 JOIN user_data.media m ON m.user_id = f.user_id AND m.sha256 = f.sha256
                WHERE f.user_id = $1`);
    const merged = await q(`
      WITH copies AS (
        SELECT f.sha256, f.folder, f.file_name,
               s.taken_at AS s_taken, s.lat AS s_lat, s.lon AS s_lon, s.alt AS s_alt,
               s.exif_lat AS s_exif_lat, s.exif_lon AS s_exif_lon, s.exif_alt AS s_exif_alt,
               s.title AS s_title, s.description AS s_description, s.people AS s_people, s.favorited AS s_favorited,
               CASE WHEN al.folder IS NOT NULL OR f.folder_kind = 'album'
                    THEN coalesce(al.title, regexp_replace(f.folder, '^.*/', '')) END AS album
          FROM user_data.media_files f
          JOIN lake_media_changed c ON c.sha256 = f.sha256
          LEFT JOIN user_data.media_sidecars s ON s.user_id = f.user_id AND s.folder = f.folder AND s.sidecar_name = f.sidecar_name
          LEFT JOIN user_data.media_albums al ON al.user_id = f.user_id AND al.folder = f.folder
         WHERE f.user_id = $1
      ), merged AS (
        SELECT sha256,
               (array_agg(s_taken ORDER BY folder, file_name) FILTER (WHERE s_taken IS NOT NULL))[1] AS s_taken,
               (array_agg(s_lat ORDER BY folder, file_name) FILTER (WHERE s_lat IS NOT NULL))[1] AS s_lat,
               (array_agg(s_lon ORDER BY folder, file_name) FILTER (WHERE s_lat IS NOT NULL))[1] AS s_lon,
               (array_agg(s_alt ORDER BY folder, file_name) FILTER (WHERE s_lat IS NOT NULL))[1] AS s_alt,
               (array_agg(s_exif_lat ORDER BY folder, file_name) FILTER (WHERE s_exif_lat IS NOT NULL))[1] AS s_exif_lat,
               (array_agg(s_exif_lon ORDER BY folder, file_name) FILTER (WHERE s_exif_lat IS NOT NULL))[1] AS s_exif_lon,
               (array_agg(s_exif_alt ORDER BY folder, file_name) FILTER (WHERE s_exif_lat IS NOT NULL))[1] AS s_exif_alt,
               (array_agg(s_title ORDER BY folder, file_name) FILTER (WHERE s_title IS NOT NULL))[1] AS s_title,
               (array_agg(s_description ORDER BY folder, file_name) FILTER (WHERE s_description IS NOT NULL))[1] AS s_description,
               coalesce(bool_or(s_favorited), false) AS favorited,
               coalesce(array_agg(DISTINCT album ORDER BY album) FILTER (WHERE album IS NOT NULL), '{}') AS albums
          FROM copies GROUP BY sha256
      ), people AS (
        SELECT sha256, array_agg(DISTINCT person ORDER BY person) AS people
          FROM copies, unnest(s_people) AS person GROUP BY sha256
      )
      UPDATE user_data.media m SET
        taken_at = coalesce(g.s_taken, m.meta_taken_at),
        taken_at_source = CASE WHEN g.s_taken IS NOT NULL THEN 'sidecar'
                               WHEN m.meta_taken_at IS NULL THEN NULL
                               WHEN m.meta_utc_offset_minutes IS NULL THEN m.meta_source || '_wall_clock'
                               ELSE m.meta_source END,
        lat = CASE WHEN g.s_lat IS NOT NULL THEN g.s_lat WHEN g.s_exif_lat IS NOT NULL THEN g.s_exif_lat ELSE m.meta_lat END,
        lon = CASE WHEN g.s_lat IS NOT NULL THEN g.s_lon WHEN g.s_exif_lat IS NOT NULL THEN g.s_exif_lon ELSE m.meta_lon END,
        alt = CASE WHEN g.s_lat IS NOT NULL THEN g.s_alt WHEN g.s_exif_lat IS NOT NULL THEN g.s_exif_alt ELSE m.meta_alt END,
        geo_source = CASE WHEN g.s_lat IS NOT NULL THEN 'sidecar' WHEN g.s_exif_lat IS NOT NULL THEN 'sidecar_exif'
                          WHEN m.meta_lat IS NOT NULL THEN m.meta_source END,
        title = g.s_title,
        description = g.s_description,
        people = coalesce(p.people, '{}'),
        favorited = g.favorited,
        albums = g.albums,
        reconciled_at = now()
      FROM merged g LEFT JOIN people p ON p.sha256 = g.sha256
      WHERE m.user_id = $1 AND m.sha256 = g.sha256`);

    // 3. The map: the point of each changed media, moved where the merge put it.
    await q(`DELETE FROM timeseries.location_points p USING lake_media_changed c
              WHERE p.user_id = $1 AND p.recorded_at = c.old_taken_at AND p.source = '${MEDIA_POINT_SOURCE}'
                AND p.content_hash = sha256(convert_to('${MEDIA_POINT_SOURCE}:', 'UTF8') || c.sha256)`);
    const points = await tx.query<{ n: number; months: Date[] | null }>(
      `WITH inserted AS (
         INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, altitude_m, source, attributes, import_file_id)
         SELECT m.user_id, m.taken_at, sha256(convert_to('${MEDIA_POINT_SOURCE}:', 'UTF8') || m.sha256), m.lat, m.lon, m.alt::real,
                '${MEDIA_POINT_SOURCE}',
                jsonb_build_object('media_sha256', encode(m.sha256, 'hex'), 'geo_source', m.geo_source, 'name', m.original_name),
                m.import_file_id
           FROM user_data.media m JOIN lake_media_changed c ON c.sha256 = m.sha256
          WHERE m.user_id = $1 AND m.lat IS NOT NULL AND m.lon IS NOT NULL AND m.taken_at IS NOT NULL AND NOT (m.lat = 0 AND m.lon = 0)
         ON CONFLICT DO NOTHING
         RETURNING recorded_at)
       SELECT count(*)::int AS n, array_agg(DISTINCT date_trunc('month', recorded_at, 'UTC')) AS months FROM inserted`,
      [userId],
    );
    // The hours those points left or joined: their first points (timeseries.location_hours) again,
    // and their days' counts per map cell (timeseries.location_tiles).
    await q(`SELECT timeseries.refresh_location_hours(moved), timeseries.refresh_location_tiles(moved)
               FROM (SELECT ARRAY(
                       SELECT c.old_taken_at FROM lake_media_changed c WHERE c.old_taken_at IS NOT NULL
                       UNION
                       SELECT m.taken_at FROM user_data.media m JOIN lake_media_changed c ON c.sha256 = m.sha256
                        WHERE m.user_id = $1 AND m.taken_at IS NOT NULL) AS moved) AS instants`);

    // What stayed alone, among the new rows: noted on their import file and in the report.
    const notes = await tx.query<{ path: string; note: string }>(
      `WITH lonely AS (
         SELECT s.folder, s.sidecar_name AS name, s.import_file_id, '${NO_PHOTO_NOTE}' AS note
           FROM lake_media_new_sidecars n
           JOIN user_data.media_sidecars s ON s.user_id = $1 AND s.folder = n.folder AND s.sidecar_name = n.sidecar_name
          WHERE NOT EXISTS (SELECT 1 FROM user_data.media_files f
                             WHERE f.user_id = $1 AND f.folder = s.folder AND f.sidecar_name = s.sidecar_name)
         UNION ALL
         SELECT f.folder, f.file_name, f.import_file_id, '${NO_SIDECAR_NOTE}'
           FROM lake_media_new_files n
           JOIN user_data.media_files f ON f.user_id = $1 AND f.folder = n.folder AND f.file_name = n.file_name AND f.sha256 = n.sha256
          WHERE f.sidecar_name IS NULL
       ), noted AS (
         UPDATE imports.files fi SET note = CASE WHEN fi.note IS NULL OR fi.note = '' THEN l.note ELSE fi.note || '; ' || l.note END
           FROM lonely l
          WHERE fi.user_id = $1 AND fi.file_id = l.import_file_id AND (fi.note IS NULL OR position(l.note IN fi.note) = 0)
       )
       SELECT CASE WHEN folder = '' THEN name ELSE folder || '/' || name END AS path, note FROM lonely ORDER BY 1`,
      [userId],
    );

    // What was new is now joined.
    await q(`UPDATE user_data.media_files f SET reconciled = true FROM lake_media_new_files n
              WHERE f.user_id = $1 AND f.folder = n.folder AND f.file_name = n.file_name AND f.sha256 = n.sha256`);
    await q(`UPDATE user_data.media_sidecars s SET reconciled = true FROM lake_media_new_sidecars n
              WHERE s.user_id = $1 AND s.folder = n.folder AND s.sidecar_name = n.sidecar_name`);
    await q(`UPDATE user_data.media_albums a SET reconciled = true FROM lake_media_new_albums n
              WHERE a.user_id = $1 AND a.folder = n.folder`);
    const row = points.rows[0];
    return {
      media: merged.rowCount,
      paired: (paired.rows[0] as { n: number }).n,
      points: row && row.n > 0 ? { n: row.n, months: row.months! } : null,
      notes: notes.rows,
    };
  });
  // Points whose month had no partition yet went to the default partition: give them theirs
  // (the function moves them), as the loader does before its batches. Only the months that hold
  // points: photos of 1970 and of today make two partitions, not the 680 months between.
  if (outcome.points) {
    await db.transaction((tx) =>
      tx.query(
        `SELECT sum(lake.ensure_month_partitions('timeseries.location_points', m, m + interval '1 month')) FROM unnest($1::timestamptz[]) AS m`,
        [outcome.points!.months],
      ),
    );
  }
  return { media: outcome.media, paired: outcome.paired, points: outcome.points?.n ?? 0, notes: outcome.notes };
}
