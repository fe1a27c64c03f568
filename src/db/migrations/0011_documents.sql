-- Documents: every file kept as a document (PDF, DOCX, CSV, JSON, text, and anything no dedicated
-- source reads), its bytes in the blob store (user_data.blob_refs holds the user's reference),
-- described here: where it was in the export, its MIME type from content and from name, its
-- extracted text (at most 1 MiB), metadata per kind and the personal data found in the text.
-- One row per file: the same content at two paths is two rows (and one blob). Not partitioned:
-- a user has thousands of documents, not millions.
CREATE TABLE user_data.documents (
  user_id uuid NOT NULL,
  -- SHA-256 of (type, source, content SHA-256, path): importing the same file again adds nothing.
  content_hash bytea NOT NULL,
  sha256 bytea NOT NULL CHECK (octet_length(sha256) = 32),
  path text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('pdf', 'docx', 'csv', 'json', 'text', 'other')),
  mime_type text,
  mime_from_name text,
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  title text,
  body text,
  language text,
  -- PDF: pages and info dictionary; DOCX: core properties; CSV: headers, delimiter, rows; JSON: shape.
  metadata jsonb NOT NULL DEFAULT '{}',
  -- Personal data found in the text: {"email": 2, "iban": 1}; {} none found; NULL no text scanned.
  pii jsonb,
  -- What became of the text: text, none (no text in it), encrypted, malformed, too_large.
  extraction text NOT NULL CHECK (extraction IN ('text', 'none', 'encrypted', 'malformed', 'too_large')),
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The first 256 Ki characters only: a tsvector is limited to 1 MB, which a whole 1 MiB text of
  -- varied words can pass.
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', left(coalesce(title, '') || ' ' || coalesce(body, ''), 262144))) STORED,
  PRIMARY KEY (user_id, content_hash)
);
CREATE INDEX documents_user_sha256_idx ON user_data.documents (user_id, sha256);
CREATE INDEX documents_user_kind_idx ON user_data.documents (user_id, kind, created_at);
CREATE INDEX documents_search_idx ON user_data.documents USING gin (search);
-- "Which documents hold an IBAN?": pii ? 'iban'.
CREATE INDEX documents_pii_idx ON user_data.documents USING gin (pii);
SELECT lake.isolate_by_user('user_data.documents', 'SELECT, INSERT, UPDATE, DELETE');
