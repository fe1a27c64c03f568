-- The lake's foundation: the six schemas of the architecture document plus an audit log, the
-- application role, per-user row-level security and monthly time partitioning.
--
-- Rules every table here follows (so the schema can be distributed by user_id on Citus):
--   * a table that holds user data has a user_id column that leads its primary key;
--   * every unique key includes user_id; no foreign key crosses users;
--   * it is isolated with lake.isolate_by_user(): RLS enabled and FORCEd, one policy, grants to
--     lake_app only for what the application does with it.

CREATE SCHEMA IF NOT EXISTS imports;
CREATE SCHEMA IF NOT EXISTS user_data;
CREATE SCHEMA IF NOT EXISTS timeseries;
CREATE SCHEMA IF NOT EXISTS vectors;
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE SCHEMA IF NOT EXISTS archive;
CREATE SCHEMA IF NOT EXISTS audit;
-- TimescaleDB chunks live here. Chunks copy their hypertable's grants but not its policies
-- (timescaledb#7830), so lake_app gets no USAGE on this schema: it reaches chunks only through
-- the hypertables, where row-level security applies.
CREATE SCHEMA IF NOT EXISTS lake_chunks;

-- The application role: owns nothing, cannot log in, is no superuser and cannot bypass RLS.
-- Every user-facing transaction runs `SET LOCAL ROLE lake_app`. Roles are cluster-wide, so a
-- second lake database on the same server (or a concurrent migration) finds it already there.
DO $$
BEGIN
  CREATE ROLE lake_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;
-- The migrating role must be a member to SET ROLE to it (implicit for superusers).
GRANT lake_app TO CURRENT_USER;

GRANT USAGE ON SCHEMA lake, imports, user_data, timeseries, vectors, analytics, archive, audit TO lake_app;

-- The identity of the transaction's user. Set only with set_config('lake.user_id', id, true), i.e.
-- transaction-local, which is also safe behind a pooler in transaction mode. Unset means NULL,
-- and NULL matches no row: no identity, no rows.
CREATE FUNCTION lake.current_user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('lake.user_id', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION lake.current_user_id() TO lake_app;

-- Isolate a table by user: RLS on and forced (so even the owner is subject to it unless it is a
-- superuser or BYPASSRLS, which only maintenance connections are), one policy for every command
-- (the subselect lets the planner evaluate the identity once and keep indexes usable), and the
-- given privileges for lake_app.
CREATE FUNCTION lake.isolate_by_user(target regclass, privileges text) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY user_isolation ON %s USING (user_id = (SELECT lake.current_user_id())) '
    'WITH CHECK (user_id = (SELECT lake.current_user_id()))', target);
  EXECUTE format('GRANT %s ON %s TO lake_app', privileges, target);
END $$;

-- Time-partitioned tables: which column partitions them and how.
CREATE TABLE lake.time_tables (
  table_name text PRIMARY KEY,
  time_column text NOT NULL,
  partitioning text NOT NULL CHECK (partitioning IN ('hypertable', 'native'))
);

-- Create a table partitioned by month on time_column: a TimescaleDB hypertable when the extension
-- is installed, otherwise native declarative range partitions with a DEFAULT partition so that no
-- row is ever refused for its date. The same DDL serves both, so the schema is one.
CREATE FUNCTION lake.create_time_table(schema_name text, table_name text, time_column text, body text)
  RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  qualified text := format('%I.%I', schema_name, table_name);
  mode text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    EXECUTE format('CREATE TABLE %s (%s)', qualified, body);
    -- The Apache build of TimescaleDB has fixed-width chunks only (no calendar months): 30 days.
    EXECUTE format('SELECT create_hypertable(%L, %L, chunk_time_interval => interval ''30 days'', '
                   'create_default_indexes => false, associated_schema_name => ''lake_chunks'')',
                   qualified, time_column);
    mode := 'hypertable';
  ELSE
    EXECUTE format('CREATE TABLE %s (%s) PARTITION BY RANGE (%I)', qualified, body, time_column);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', schema_name, table_name || '_default', qualified);
    mode := 'native';
  END IF;
  INSERT INTO lake.time_tables VALUES (qualified, time_column, mode);
  RETURN mode;
END $$;

-- Make sure a monthly partition exists for every month that [from_ts, to_ts) touches (UTC months).
-- Rows of those months already in the DEFAULT partition are moved into the new partition, so
-- creating partitions late never fails. Hypertables create their chunks themselves: no-op there.
-- Returns how many partitions were created. Needs the table owner (a maintenance connection).
CREATE FUNCTION lake.ensure_month_partitions(target text, from_ts timestamptz, to_ts timestamptz)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  spec lake.time_tables;
  schema_name text;
  base_name text;
  month_start timestamptz;
  month_end timestamptz;
  partition_name text;
  default_name text;
  insert_columns text;
  created integer := 0;
BEGIN
  SELECT * INTO spec FROM lake.time_tables WHERE table_name = target;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'lake.ensure_month_partitions: % is not a time-partitioned table', target;
  END IF;
  IF spec.partitioning <> 'native' THEN
    RETURN 0;
  END IF;
  SELECT n.nspname, c.relname INTO schema_name, base_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target::regclass;
  default_name := format('%I.%I', schema_name, base_name || '_default');
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO insert_columns
    FROM pg_attribute
   WHERE attrelid = target::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';

  month_start := date_trunc('month', from_ts, 'UTC');
  WHILE month_start < to_ts LOOP
    month_end := month_start + interval '1 month';
    partition_name := base_name || '_p' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM');
    IF to_regclass(format('%I.%I', schema_name, partition_name)) IS NULL THEN
      EXECUTE format('CREATE TEMP TABLE lake_moved_rows ON COMMIT DROP AS '
                     'WITH moved AS (DELETE FROM %s WHERE %I >= %L AND %I < %L RETURNING *) SELECT * FROM moved',
                     default_name, spec.time_column, month_start, spec.time_column, month_end);
      EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                     schema_name, partition_name, target, month_start, month_end);
      EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM lake_moved_rows', target, insert_columns, insert_columns);
      DROP TABLE lake_moved_rows;
      created := created + 1;
    END IF;
    month_start := month_end;
  END LOOP;
  RETURN created;
END $$;

-- Partitions for the current month and months_ahead more, for every time-partitioned table.
CREATE FUNCTION lake.ensure_upcoming_partitions(months_ahead integer DEFAULT 3) RETURNS integer
  LANGUAGE sql AS $$
  SELECT coalesce(sum(lake.ensure_month_partitions(table_name, date_trunc('month', now(), 'UTC'),
                      date_trunc('month', now(), 'UTC') + make_interval(months => months_ahead + 1))), 0)::integer
    FROM lake.time_tables
$$;

------------------------------------------------------------------------------------------------
-- user_data: users, their settings, and the canonical records.

CREATE TABLE user_data.users (
  user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Unique across the lake: on Citus this table is a reference table, not distributed.
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  display_name text,
  created_at timestamptz NOT NULL DEFAULT now()
);
SELECT lake.isolate_by_user('user_data.users', 'SELECT, UPDATE (display_name)');

CREATE TABLE user_data.settings (
  user_id uuid NOT NULL REFERENCES user_data.users ON DELETE CASCADE,
  key text NOT NULL,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
SELECT lake.isolate_by_user('user_data.settings', 'SELECT, INSERT, UPDATE, DELETE');

-- The unified timeline (as Timelinize does it): one row per thing that happened. Typed tables
-- beside it hold kinds with real structure. content_hash is derived from the record's natural
-- key, so the primary key is also the dedup key: the same export imported twice adds nothing.
SELECT lake.create_time_table('user_data', 'items', 'occurred_at', $$
  user_id uuid NOT NULL,
  occurred_at timestamptz NOT NULL,
  content_hash bytea NOT NULL,
  item_id bigint GENERATED BY DEFAULT AS IDENTITY,
  utc_offset_minutes smallint,
  kind text NOT NULL,
  source text NOT NULL,
  title text,
  body text,
  url text,
  language text,
  lat double precision,
  lon double precision,
  attributes jsonb NOT NULL DEFAULT '{}',
  import_file_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- 'simple' keeps every language searchable without stemming for the wrong one.
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(body, ''))) STORED,
  PRIMARY KEY (user_id, occurred_at, content_hash)
$$);
CREATE INDEX items_user_item_idx ON user_data.items (user_id, item_id);
CREATE INDEX items_user_kind_time_idx ON user_data.items (user_id, kind, occurred_at);
CREATE INDEX items_user_source_time_idx ON user_data.items (user_id, source, occurred_at);
CREATE INDEX items_search_idx ON user_data.items USING gin (search);
SELECT lake.isolate_by_user('user_data.items', 'SELECT, INSERT, UPDATE, DELETE');

-- Places are keyed by the provider's place id; a later export may refresh name and address.
CREATE TABLE user_data.places (
  user_id uuid NOT NULL,
  place_id text NOT NULL,
  source text NOT NULL,
  name text,
  address text,
  lat double precision,
  lon double precision,
  attributes jsonb NOT NULL DEFAULT '{}',
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, place_id)
);
SELECT lake.isolate_by_user('user_data.places', 'SELECT, INSERT, UPDATE, DELETE');

CREATE TABLE user_data.visits (
  user_id uuid NOT NULL,
  started_at timestamptz NOT NULL,
  content_hash bytea NOT NULL,
  ended_at timestamptz NOT NULL,
  place_id text,
  source text NOT NULL,
  lat double precision,
  lon double precision,
  confidence real,
  attributes jsonb NOT NULL DEFAULT '{}',
  import_file_id uuid,
  PRIMARY KEY (user_id, started_at, content_hash),
  CHECK (ended_at >= started_at)
);
CREATE INDEX visits_user_place_idx ON user_data.visits (user_id, place_id, started_at);
SELECT lake.isolate_by_user('user_data.visits', 'SELECT, INSERT, UPDATE, DELETE');

------------------------------------------------------------------------------------------------
-- timeseries: location points and numeric measurements, partitioned by month.

SELECT lake.create_time_table('timeseries', 'location_points', 'recorded_at', $$
  user_id uuid NOT NULL,
  recorded_at timestamptz NOT NULL,
  content_hash bytea NOT NULL,
  lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
  lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
  accuracy_m real,
  altitude_m real,
  velocity_mps real,
  heading_deg real,
  activity text,
  activity_confidence smallint,
  device text,
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  PRIMARY KEY (user_id, recorded_at, content_hash)
$$);
SELECT lake.isolate_by_user('timeseries.location_points', 'SELECT, INSERT, UPDATE, DELETE');

SELECT lake.create_time_table('timeseries', 'measurements', 'measured_at', $$
  user_id uuid NOT NULL,
  measured_at timestamptz NOT NULL,
  content_hash bytea NOT NULL,
  metric text NOT NULL,
  value double precision NOT NULL,
  unit text NOT NULL,
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  PRIMARY KEY (user_id, measured_at, content_hash)
$$);
CREATE INDEX measurements_user_metric_time_idx ON timeseries.measurements (user_id, metric, measured_at);
SELECT lake.isolate_by_user('timeseries.measurements', 'SELECT, INSERT, UPDATE, DELETE');

------------------------------------------------------------------------------------------------
-- imports: jobs, files, resumable checkpoints, errors, quarantine.

CREATE TABLE imports.jobs (
  user_id uuid NOT NULL,
  job_id uuid NOT NULL DEFAULT gen_random_uuid(),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'running', 'done', 'partial', 'failed', 'cancelled')),
  inputs jsonb NOT NULL DEFAULT '[]',
  options jsonb NOT NULL DEFAULT '{}',
  totals jsonb NOT NULL DEFAULT '{}',
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (user_id, job_id)
);
SELECT lake.isolate_by_user('imports.jobs', 'SELECT, INSERT, UPDATE, DELETE');

CREATE TABLE imports.files (
  user_id uuid NOT NULL,
  file_id uuid NOT NULL DEFAULT gen_random_uuid(),
  job_id uuid NOT NULL,
  path text NOT NULL,
  archive text,
  sha256 bytea,
  size_bytes bigint,
  mime_type text,
  mime_from_name text,
  detected_format text,
  scan_status text NOT NULL DEFAULT 'not_scanned' CHECK (scan_status IN ('not_scanned', 'clean', 'infected', 'error')),
  -- loading: in progress (resumable from its checkpoint); done; partial: ended early (truncated),
  -- what was complete is kept; empty: readable but no records; skipped: no parser recognised it;
  -- refused: unsafe or encrypted archive entry; failed: could not be read at all.
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'loading', 'done', 'partial', 'empty', 'failed', 'skipped', 'refused')),
  -- SHA-256 of the first 64 KiB: with path and size, how a re-run finds the file to resume.
  head_sha256 bytea,
  note text,
  records_loaded bigint NOT NULL DEFAULT 0,
  duplicates bigint NOT NULL DEFAULT 0,
  quarantined bigint NOT NULL DEFAULT 0,
  -- Repairs made while normalizing text: invalid UTF-8, NUL characters.
  repairs jsonb NOT NULL DEFAULT '{}',
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (user_id, file_id),
  FOREIGN KEY (user_id, job_id) REFERENCES imports.jobs (user_id, job_id) ON DELETE CASCADE
);
CREATE INDEX files_user_job_idx ON imports.files (user_id, job_id);
CREATE INDEX files_user_sha256_idx ON imports.files (user_id, sha256);
CREATE INDEX files_user_resume_idx ON imports.files (user_id, path, size_bytes) WHERE status = 'loading';
SELECT lake.isolate_by_user('imports.files', 'SELECT, INSERT, UPDATE, DELETE');

-- Committed in the same transaction as the batch it describes: a killed import resumes here.
CREATE TABLE imports.checkpoints (
  user_id uuid NOT NULL,
  file_id uuid NOT NULL,
  records_done bigint NOT NULL,
  byte_offset bigint,
  cursor jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, file_id),
  FOREIGN KEY (user_id, file_id) REFERENCES imports.files (user_id, file_id) ON DELETE CASCADE
);
SELECT lake.isolate_by_user('imports.checkpoints', 'SELECT, INSERT, UPDATE, DELETE');

CREATE TABLE imports.errors (
  user_id uuid NOT NULL,
  error_id bigint GENERATED BY DEFAULT AS IDENTITY,
  job_id uuid NOT NULL,
  file_id uuid,
  category text NOT NULL,
  code text NOT NULL,
  message text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, error_id)
);
CREATE INDEX errors_user_job_idx ON imports.errors (user_id, job_id);
SELECT lake.isolate_by_user('imports.errors', 'SELECT, INSERT, DELETE');

-- What was refused, why, and where in which file; never silently dropped.
CREATE TABLE imports.quarantine (
  user_id uuid NOT NULL,
  quarantine_id bigint GENERATED BY DEFAULT AS IDENTITY,
  job_id uuid NOT NULL,
  file_id uuid,
  entry text NOT NULL,
  category text NOT NULL,
  reason text NOT NULL,
  byte_offset bigint,
  line integer,
  excerpt text,
  -- SHA-256 of (entry, offset, line, category, reason): the same problem found again (a re-run,
  -- a batch re-read after a kill) is recorded once.
  dedup_key bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, quarantine_id),
  UNIQUE (user_id, dedup_key)
);
CREATE INDEX quarantine_user_job_idx ON imports.quarantine (user_id, job_id);
SELECT lake.isolate_by_user('imports.quarantine', 'SELECT, INSERT, DELETE');

------------------------------------------------------------------------------------------------
-- vectors: which embedding models exist (reference data, no user rows). The embeddings table
-- needs pgvector and lives in its own migration.

CREATE TABLE vectors.models (
  model text NOT NULL,
  version text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('text', 'image', 'audio')),
  dimensions integer NOT NULL CHECK (dimensions > 0),
  description text,
  PRIMARY KEY (model, version)
);
GRANT SELECT ON vectors.models TO lake_app;

------------------------------------------------------------------------------------------------
-- analytics: aggregates users look at most, refreshed per user (tables, not materialized views,
-- because a materialized view cannot have row-level security).

CREATE TABLE analytics.daily_activity (
  user_id uuid NOT NULL,
  day date NOT NULL,
  source text NOT NULL,
  kind text NOT NULL,
  items bigint NOT NULL,
  PRIMARY KEY (user_id, day, source, kind)
);
SELECT lake.isolate_by_user('analytics.daily_activity', 'SELECT, INSERT, DELETE');

-- Recompute the calling user's daily activity (SECURITY INVOKER: RLS limits it to that user).
CREATE FUNCTION analytics.refresh_daily_activity() RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  uid uuid := lake.current_user_id();
  n bigint;
BEGIN
  IF uid IS NULL THEN
    RAISE EXCEPTION 'analytics.refresh_daily_activity: no user identity in this transaction';
  END IF;
  DELETE FROM analytics.daily_activity WHERE user_id = uid;
  INSERT INTO analytics.daily_activity (user_id, day, source, kind, items)
    SELECT user_id, (occurred_at AT TIME ZONE 'UTC')::date, source, kind, count(*)
      FROM user_data.items WHERE user_id = uid GROUP BY 1, 2, 3, 4;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
GRANT EXECUTE ON FUNCTION analytics.refresh_daily_activity() TO lake_app;

------------------------------------------------------------------------------------------------
-- archive: cold rows moved out of the hot tables, and the log of what was archived when and why.

CREATE TABLE archive.archived_rows (
  user_id uuid NOT NULL,
  archive_id bigint GENERATED BY DEFAULT AS IDENTITY,
  source_table text NOT NULL,
  original_key jsonb NOT NULL,
  row_data jsonb NOT NULL,
  reason text NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, archive_id)
);
SELECT lake.isolate_by_user('archive.archived_rows', 'SELECT, INSERT, DELETE');

CREATE TABLE archive.archive_log (
  user_id uuid NOT NULL,
  log_id bigint GENERATED BY DEFAULT AS IDENTITY,
  source_table text NOT NULL,
  rows_archived bigint NOT NULL,
  range_from timestamptz,
  range_to timestamptz,
  reason text NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, log_id)
);
SELECT lake.isolate_by_user('archive.archive_log', 'SELECT, INSERT');

------------------------------------------------------------------------------------------------
-- audit: who did what when. The application may add and read its own entries, never change them.

CREATE TABLE audit.events (
  user_id uuid NOT NULL,
  event_id bigint GENERATED BY DEFAULT AS IDENTITY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  object_type text,
  object_id text,
  details jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (user_id, event_id)
);
SELECT lake.isolate_by_user('audit.events', 'SELECT, INSERT');
