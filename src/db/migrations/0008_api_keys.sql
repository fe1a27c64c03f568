-- API keys: how a program acts as a user over HTTP (`lake serve`). A key is shown once when it is
-- made, `lake_<prefix>_<secret>`; the table keeps the prefix (to find the key) and the SHA-256 of
-- the 32-byte random secret (to check it), never the secret itself.
--
-- The server looks a key up by prefix before it knows whose it is, on the maintenance connection;
-- everything after that runs as the key's user. The prefix is random (48 bits) but, like every
-- unique key here, uniqueness would have to include user_id, so it is only indexed: a lookup checks
-- every row with that prefix.
CREATE TABLE user_data.api_keys (
  user_id uuid NOT NULL REFERENCES user_data.users ON DELETE CASCADE,
  key_id uuid NOT NULL DEFAULT gen_random_uuid(),
  prefix text NOT NULL CHECK (prefix ~ '^[0-9a-f]{12}$'),
  secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  name text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  PRIMARY KEY (user_id, key_id)
);
CREATE INDEX api_keys_prefix_idx ON user_data.api_keys (prefix);
-- Keys are made and revoked as their user; the server records when each was last used.
SELECT lake.isolate_by_user('user_data.api_keys', 'SELECT, INSERT, UPDATE (last_used_at, revoked_at)');
