-- Resumable uploads (tus 1.0 at /v1/uploads) and import jobs over HTTP (/v1/jobs).
--
-- An upload's bytes live in the upload directory (LAKE_UPLOAD_DIR, by default warm/uploads), named
-- by the server-made upload id; this row says whose it is, what the client declared (size, name,
-- SHA-256 of the whole file) and what became of it. Every request for an upload reads this row as
-- its user: another user's upload is not there.
CREATE TABLE imports.uploads (
  user_id uuid NOT NULL,
  upload_id uuid NOT NULL,
  filename text,
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  -- What the client declared in Upload-Metadata (`sha256`), checked against the stored file once
  -- its last byte is in.
  sha256_declared bytea NOT NULL CHECK (octet_length(sha256_declared) = 32),
  -- uploading: bytes still coming; verified: complete and its SHA-256 matches; refused: complete
  -- but the SHA-256 does not match (the file is deleted); expired: not finished in time (deleted);
  -- deleted: terminated by its owner.
  status text NOT NULL DEFAULT 'uploading' CHECK (status IN ('uploading', 'verified', 'refused', 'expired', 'deleted')),
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  finished_at timestamptz,
  PRIMARY KEY (user_id, upload_id)
);
CREATE INDEX uploads_expiry_idx ON imports.uploads (expires_at) WHERE status = 'uploading';
SELECT lake.isolate_by_user('imports.uploads', 'SELECT, INSERT, UPDATE');

-- A job made over HTTP is queued first and run by the server's job runner; a server stopped while
-- it runs leaves it queued, and the next start resumes it from its files' checkpoints.
ALTER TABLE imports.jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE imports.jobs ADD CONSTRAINT jobs_status_check
  CHECK (status IN ('pending', 'queued', 'running', 'done', 'partial', 'failed', 'cancelled'));
-- The upload it imports (null for `lake import`), and its live progress (bytes read, records),
-- written while it runs.
ALTER TABLE imports.jobs ADD COLUMN upload_id uuid;
ALTER TABLE imports.jobs ADD COLUMN progress jsonb NOT NULL DEFAULT '{}';
ALTER TABLE imports.jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0;
CREATE INDEX jobs_user_created_idx ON imports.jobs (user_id, created_at DESC, job_id DESC);
CREATE INDEX jobs_waiting_idx ON imports.jobs (status) WHERE status IN ('queued', 'running') AND upload_id IS NOT NULL;
