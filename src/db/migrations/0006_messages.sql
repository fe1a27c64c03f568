-- Email and other messages (Gmail .mbox and later chat exports), partitioned by month like the
-- other large tables. Threads are read back with (user_id, thread_id, sent_at); full-text search
-- over subject and body. Attachments are described here and kept in the blob store.

SELECT lake.create_time_table('user_data', 'messages', 'sent_at', $$
  user_id uuid NOT NULL,
  sent_at timestamptz NOT NULL,
  content_hash bytea NOT NULL,
  message_id text,
  thread_id text,
  in_reply_to text,
  from_address text,
  to_addresses text[] NOT NULL DEFAULT '{}',
  cc_addresses text[] NOT NULL DEFAULT '{}',
  subject text,
  body text,
  labels text[] NOT NULL DEFAULT '{}',
  attachments jsonb NOT NULL DEFAULT '[]',
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(subject, '') || ' ' || coalesce(body, ''))) STORED,
  PRIMARY KEY (user_id, sent_at, content_hash)
$$);
CREATE INDEX messages_user_thread_idx ON user_data.messages (user_id, thread_id, sent_at);
CREATE INDEX messages_user_message_id_idx ON user_data.messages (user_id, message_id);
CREATE INDEX messages_search_idx ON user_data.messages USING gin (search);
CREATE INDEX messages_labels_idx ON user_data.messages USING gin (labels);
SELECT lake.isolate_by_user('user_data.messages', 'SELECT, INSERT, UPDATE, DELETE');
