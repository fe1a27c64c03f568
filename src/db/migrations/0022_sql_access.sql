-- SQL access that keeps users apart (issue 17): every SQL client (psql, QGIS, Grafana, `lake sql`)
-- works as a login role of its own, one per lake user, and that role's identity is fixed by the
-- role, never by a setting it could change. The design is in src/query/sql-access.ts.
--
--   * lake_sql: a NOLOGIN group role. Each user's login role (made by `lake users sql-access`) is a
--     member of it and of nothing else; never of lake_app, so it cannot SET ROLE lake_app, where
--     the settable lake.user_id is trusted.
--   * lake.current_user_id() takes the identity from lake.user_id for lake_app only (the API's
--     transactions: the maintenance connection sets role and identity together, transaction-local).
--     For every other role it is the user whose login role current_user is, provided the session's
--     login (session_user) may act as that role: a login role's session_user is itself, which it
--     cannot change (SET SESSION AUTHORIZATION needs a superuser login), and it can SET ROLE to no
--     other user's role. set_config('lake.user_id', ...) by a login role changes nothing it sees.
--   * Statistics: pg_stats and pg_stats_ext already hide tables under row-level security from a
--     role that RLS applies to. TimescaleDB's chunks were the leak: they copy the hypertable's
--     table-level grants but not its policies (timescaledb#7830), so pg_stats showed every user's
--     most common titles and coordinates from the chunks to lake_app. On time-partitioned tables
--     SELECT, INSERT and UPDATE are now granted on columns, which chunks do not copy; grants the
--     chunks already had are revoked. Without a grant on a chunk, pg_stats shows none of its rows.
--   * Login roles may read (SELECT) what lake_app may read, no more: row-level security shows them
--     their own rows; they write nothing.

DO $$
BEGIN
  CREATE ROLE lake_sql NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;
GRANT USAGE ON SCHEMA lake, imports, user_data, timeseries, vectors, analytics, archive, audit TO lake_sql;

-- The login role of each user who has SQL access; unique, so a role is never two users.
-- Named lake_<first 8 hex digits of the lake id>_<user name>: roles belong to the whole server,
-- so two lakes on one server (or two databases of tests) never share one.
ALTER TABLE user_data.users ADD COLUMN sql_role text UNIQUE
  CHECK (sql_role ~ '^lake_[0-9a-f]{8}_[a-z0-9._-]+$' AND length(sql_role) <= 63);

-- The user whose login role `role` is, when this session's login may act as that role: a login
-- role's session may only as itself (its session_user is that role, a member of no other user's).
-- SECURITY DEFINER reads user_data.users past its row-level security (whose policy calls this
-- function through current_user_id): the owner is the maintenance role, which RLS does not bind.
CREATE FUNCTION lake.login_user_id(role name) RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT u.user_id FROM user_data.users u JOIN pg_roles r ON r.rolname = u.sql_role
         WHERE u.sql_role = role AND pg_has_role(session_user, r.oid, 'MEMBER') $$;
REVOKE EXECUTE ON FUNCTION lake.login_user_id(name) FROM PUBLIC;
-- lake_app needs it too: a function call in an expression is checked even where CASE skips it.
GRANT EXECUTE ON FUNCTION lake.login_user_id(name) TO lake_app, lake_sql;

CREATE OR REPLACE FUNCTION lake.current_user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN current_user = 'lake_app' THEN nullif(current_setting('lake.user_id', true), '')::uuid
                    ELSE lake.login_user_id(current_user) END $$;
GRANT EXECUTE ON FUNCTION lake.current_user_id() TO lake_sql;

-- Grant `privileges` (a GRANT list such as 'SELECT, UPDATE (display_name)') on a user table. On a
-- time-partitioned table SELECT, INSERT, UPDATE and REFERENCES go on every column instead of the
-- table, so TimescaleDB's chunks, which copy table-level grants, give no role a way into pg_stats.
CREATE FUNCTION lake.grant_on_user_table(target regclass, grantee name, privileges text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  columns text;
  privilege text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM lake.time_tables WHERE table_name::regclass = target) THEN
    EXECUTE format('GRANT %s ON %s TO %I', privileges, target, grantee);
    RETURN;
  END IF;
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
    FROM pg_attribute WHERE attrelid = target AND attnum > 0 AND NOT attisdropped;
  FOR privilege IN SELECT btrim(p) FROM regexp_split_to_table(privileges, ',(?![^(]*\))') AS p LOOP
    IF upper(privilege) IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') THEN
      EXECUTE format('GRANT %s (%s) ON %s TO %I', privilege, columns, target, grantee);
    ELSE
      EXECUTE format('GRANT %s ON %s TO %I', privilege, target, grantee);
    END IF;
  END LOOP;
END $$;

-- Tables isolated from now on get the same treatment, and SELECT for lake_sql.
CREATE OR REPLACE FUNCTION lake.isolate_by_user(target regclass, privileges text) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY user_isolation ON %s USING (user_id = (SELECT lake.current_user_id())) '
    'WITH CHECK (user_id = (SELECT lake.current_user_id()))', target);
  PERFORM lake.grant_on_user_table(target, 'lake_app', privileges);
  PERFORM lake.grant_on_user_table(target, 'lake_sql', 'SELECT');
END $$;

-- Time-partitioned tables: lake_app's table-level SELECT, INSERT, UPDATE become column grants.
DO $$
DECLARE
  t regclass;
  held text;
BEGIN
  FOR t IN SELECT table_name::regclass FROM lake.time_tables LOOP
    SELECT string_agg(a.privilege_type, ', ') INTO held
      FROM pg_class c, aclexplode(c.relacl) AS a
     WHERE c.oid = t AND a.grantee = 'lake_app'::regrole AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES');
    IF held IS NOT NULL THEN
      EXECUTE format('REVOKE %s ON %s FROM lake_app', held, t);
      PERFORM lake.grant_on_user_table(t, 'lake_app', held);
    END IF;
  END LOOP;
END $$;
-- Chunks are reached through their hypertable only, whose grants are the ones checked.
REVOKE ALL ON ALL TABLES IN SCHEMA lake_chunks FROM lake_app, PUBLIC;

-- lake_sql may read what lake_app may read.
DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('lake', 'imports', 'user_data', 'timeseries', 'vectors', 'analytics', 'archive', 'audit')
       AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
       AND has_any_column_privilege('lake_app', c.oid, 'SELECT')
  LOOP
    PERFORM lake.grant_on_user_table(t, 'lake_sql', 'SELECT');
  END LOOP;
END $$;
