-- Console links (`lake console-link`): a one-time link into the web console, `<base>/#link=<token>`,
-- which the console exchanges once, within 10 minutes, for a new API key of the user
-- (POST /v1/auth/link). The token is 32 random bytes; only its SHA-256 is kept here.
--
-- In the lake schema, not with the user's data: a link is a short-lived credential, never exported
-- in a user archive nor restored from one. Links are made and exchanged on the maintenance
-- connection (an exchange happens before anyone is authenticated, as an API key's lookup); the
-- application role may only read a user's own rows (hashes), isolated by row-level security as
-- every user table. The user's erasure takes them with the user (ON DELETE CASCADE).
CREATE TABLE lake.console_links (
  user_id uuid NOT NULL REFERENCES user_data.users ON DELETE CASCADE,
  link_id uuid NOT NULL DEFAULT gen_random_uuid(),
  token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  PRIMARY KEY (user_id, link_id)
);
-- Found by the first 8 bytes of the hash; the whole hash is then compared in constant time.
CREATE INDEX console_links_lookup_idx ON lake.console_links (substring(token_hash FROM 1 FOR 8));
SELECT lake.isolate_by_user('lake.console_links', 'SELECT');
