-- Photos and videos (Google Photos Takeout, or any image or video file): the file's bytes are in
-- the blob store (user_data.blob_refs); these tables hold what is known about them.
--
--   media          one row per content (user, SHA-256): what the file itself says (type, size,
--                  dimensions, duration, camera, EXIF or MP4 time and position), and the merged
--                  view filled in after each import from the sidecars (taken_at, lat/lon,
--                  description, people, favorited, albums). The same photo in three folders is
--                  one row.
--   media_files    where each copy sits in an export (folder, name), and the name a sidecar
--                  pairs on; the folder is the album (unless it is a year folder).
--   media_sidecars Google Photos' JSON sidecars, keyed by folder and sidecar name: sidecars and
--                  photos arrive in any order, in one import or several, so they are joined after
--                  each import (src/ingest/sources/media/reconcile.ts), not while loading.
--   media_albums   album metadata files (metadata.json, localized), keyed by folder.
--
-- `reconciled` marks rows the post-import step has already joined; new rows arrive with false,
-- so that step only looks at the folders where something changed (partial indexes below).
-- Widths and heights are bigint to match the loader's binary COPY types (a panorama can pass
-- smallint's 32767 pixels).

CREATE TABLE user_data.media (
  user_id uuid NOT NULL,
  sha256 bytea NOT NULL CHECK (octet_length(sha256) = 32),
  mime_type text NOT NULL,
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  width bigint,
  height bigint,
  duration_s double precision,
  camera_make text,
  camera_model text,
  orientation smallint,
  -- What the file itself says: EXIF DateTimeOriginal (with OffsetTimeOriginal when stated; without
  -- it, the wall clock read as UTC and meta_utc_offset_minutes NULL), or an MP4's mvhd time.
  meta_taken_at timestamptz,
  meta_utc_offset_minutes smallint,
  meta_lat double precision CHECK (meta_lat BETWEEN -90 AND 90),
  meta_lon double precision CHECK (meta_lon BETWEEN -180 AND 180),
  meta_alt double precision,
  meta_source text,
  original_name text NOT NULL DEFAULT '',
  -- The merged view (sidecar first, then the file's own metadata); see reconcile.ts.
  taken_at timestamptz,
  taken_at_source text,
  lat double precision CHECK (lat BETWEEN -90 AND 90),
  lon double precision CHECK (lon BETWEEN -180 AND 180),
  alt double precision,
  geo_source text,
  title text,
  description text,
  people text[] NOT NULL DEFAULT '{}',
  favorited boolean NOT NULL DEFAULT false,
  albums text[] NOT NULL DEFAULT '{}',
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  reconciled_at timestamptz,
  PRIMARY KEY (user_id, sha256)
);
CREATE INDEX media_user_taken_idx ON user_data.media (user_id, taken_at);
CREATE INDEX media_albums_idx ON user_data.media USING gin (albums);
SELECT lake.isolate_by_user('user_data.media', 'SELECT, INSERT, UPDATE, DELETE');

CREATE TABLE user_data.media_files (
  user_id uuid NOT NULL,
  folder text NOT NULL,
  file_name text NOT NULL,
  sha256 bytea NOT NULL CHECK (octet_length(sha256) = 32),
  pair_name text NOT NULL,
  pair_dup smallint NOT NULL DEFAULT 0,
  folder_kind text NOT NULL CHECK (folder_kind IN ('album', 'year', 'root')),
  -- The sidecar the post-import step paired this copy with (NULL: none found yet).
  sidecar_name text,
  source text NOT NULL,
  import_file_id uuid,
  reconciled boolean NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, folder, file_name, sha256)
);
CREATE INDEX media_files_sha256_idx ON user_data.media_files (user_id, sha256);
CREATE INDEX media_files_pending_idx ON user_data.media_files (user_id, folder) WHERE NOT reconciled;
SELECT lake.isolate_by_user('user_data.media_files', 'SELECT, INSERT, UPDATE, DELETE');

CREATE TABLE user_data.media_sidecars (
  user_id uuid NOT NULL,
  folder text NOT NULL,
  sidecar_name text NOT NULL,
  pair_name text NOT NULL,
  pair_dup smallint NOT NULL DEFAULT 0,
  truncated boolean NOT NULL DEFAULT false,
  title text,
  description text,
  taken_at timestamptz,
  created_at timestamptz,
  lat double precision CHECK (lat BETWEEN -90 AND 90),
  lon double precision CHECK (lon BETWEEN -180 AND 180),
  alt double precision,
  exif_lat double precision CHECK (exif_lat BETWEEN -90 AND 90),
  exif_lon double precision CHECK (exif_lon BETWEEN -180 AND 180),
  exif_alt double precision,
  people text[] NOT NULL DEFAULT '{}',
  favorited boolean,
  url text,
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  reconciled boolean NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, folder, sidecar_name)
);
CREATE INDEX media_sidecars_pending_idx ON user_data.media_sidecars (user_id, folder) WHERE NOT reconciled;
SELECT lake.isolate_by_user('user_data.media_sidecars', 'SELECT, INSERT, UPDATE, DELETE');

CREATE TABLE user_data.media_albums (
  user_id uuid NOT NULL,
  folder text NOT NULL,
  title text,
  description text,
  access text,
  album_date timestamptz,
  location text,
  lat double precision CHECK (lat BETWEEN -90 AND 90),
  lon double precision CHECK (lon BETWEEN -180 AND 180),
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  reconciled boolean NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, folder)
);
CREATE INDEX media_albums_pending_idx ON user_data.media_albums (user_id, folder) WHERE NOT reconciled;
SELECT lake.isolate_by_user('user_data.media_albums', 'SELECT, INSERT, UPDATE, DELETE');
