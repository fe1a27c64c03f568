-- Who holds which blob. Blob content lives once in the content-addressed store (src/store/), shared
-- by everyone who has the same bytes; this table records each user's references to it, under
-- row-level security, so no user learns what another holds. A blob that no row references (after
-- the collector's grace period) is deleted from the store.
--
-- One row per file a user has: the same content under another name or from another source is
-- another reference; the same file imported again is the same row (ON CONFLICT DO NOTHING).
CREATE TABLE user_data.blob_refs (
  user_id uuid NOT NULL REFERENCES user_data.users ON DELETE CASCADE,
  sha256 bytea NOT NULL CHECK (octet_length(sha256) = 32),
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  mime_type text,
  -- The file's name or path in the export it came from; '' when it had none.
  original_name text NOT NULL DEFAULT '',
  source text NOT NULL,
  import_file_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, sha256, source, original_name)
);
-- The collector asks "does anyone reference this blob?" across users.
CREATE INDEX blob_refs_sha256_idx ON user_data.blob_refs (sha256);
-- A user's files, newest first.
CREATE INDEX blob_refs_user_created_idx ON user_data.blob_refs (user_id, created_at);
SELECT lake.isolate_by_user('user_data.blob_refs', 'SELECT, INSERT, DELETE');
