-- What a login role (lake users sql-access) may call, narrowed after a probe of `lake serve
-- --pg-port`, where every login role's query runs in the embedded database's one session: what one
-- role leaves in that session (a lock, a prepared statement, a temporary object) is there for the
-- lake's own requests and for the next role. The port itself also clears the session after each
-- statement (src/query/sql-port.ts); these grants make the rest unreachable, on the server as well.
--
--   * Advisory locks: a session-level lock outlives the port's rolled-back transaction, and
--     enough of them fill the lock table ("out of shared memory") for every user. No role but the
--     maintenance connection (migrate.ts's pg_advisory_xact_lock) takes one.
--   * pg_sleep*: PGlite ignores statement_timeout and runs every query on the server's one thread;
--     a sleep stalls every user's API. The lake never sleeps in SQL.
--   * The lake's DDL helpers (create_time_table, isolate_by_user, grant_on_user_table,
--     ensure_*_partitions) are the maintenance connection's; PUBLIC could run them, and
--     create_time_table ran its body (a column list) as SQL text. current_user_id and
--     login_user_id stay: row-level security and the user views call them.
--   * TEMPORARY on the database: only lake_app (staging tables, src/db/bulk.ts) and the maintenance
--     connection (media reconcile, partition moves) make temporary tables.
--   * login_user_id: the user of a login role when the caller is that role (current_user), without
--     SECURITY DEFINER. It read session_user, which on the embedded port is PGlite's superuser and
--     answered any role's user to anyone.
-- Every statement is safe to run again, on PGlite and on a server.

DO $$
DECLARE
  f regprocedure;
  superuser boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'pg_catalog'::regnamespace
       AND (p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$' OR p.proname IN ('pg_sleep', 'pg_sleep_for', 'pg_sleep_until'))
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
  -- migrate.ts serializes migrations on pg_advisory_xact_lock(bigint): a maintenance role that is
  -- not a superuser keeps it.
  IF NOT superuser THEN
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_xact_lock(bigint) TO CURRENT_USER;
  END IF;
END $$;

-- Reject a body that is more than a column list, and quote every name.
CREATE OR REPLACE FUNCTION lake.create_time_table(schema_name text, table_name text, time_column text, body text)
  RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  qualified text := format('%I.%I', schema_name, table_name);
  mode text;
BEGIN
  IF position(';' IN body) > 0 THEN
    RAISE EXCEPTION 'create_time_table: the body is one column list, without ";"' USING ERRCODE = '42601';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    EXECUTE format('CREATE TABLE %I.%I (%s)', schema_name, table_name, body);
    -- The Apache build of TimescaleDB has fixed-width chunks only (no calendar months): 30 days.
    EXECUTE format('SELECT create_hypertable(%L, %L, chunk_time_interval => interval ''30 days'', '
                   'create_default_indexes => false, associated_schema_name => ''lake_chunks'')',
                   qualified, time_column);
    mode := 'hypertable';
  ELSE
    EXECUTE format('CREATE TABLE %I.%I (%s) PARTITION BY RANGE (%I)', schema_name, table_name, body, time_column);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I DEFAULT', schema_name, table_name || '_default', schema_name, table_name);
    mode := 'native';
  END IF;
  INSERT INTO lake.time_tables VALUES (qualified, time_column, mode);
  RETURN mode;
END $$;

REVOKE EXECUTE ON FUNCTION lake.create_time_table(text, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lake.isolate_by_user(regclass, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lake.grant_on_user_table(regclass, name, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lake.ensure_month_partitions(text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lake.ensure_upcoming_partitions(integer) FROM PUBLIC;

DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO lake_app, CURRENT_USER', current_database());
END $$;

-- A login role's own user: the row of user_data.users whose sql_role is the caller. A view reads
-- the table as its owner (the maintenance role, which row-level security does not bind, as the
-- SECURITY DEFINER function did) while current_user stays the caller's; the role only ever sees
-- its own row.
CREATE OR REPLACE VIEW lake.sql_login WITH (security_barrier) AS
  SELECT u.user_id FROM user_data.users u WHERE u.sql_role IS NOT NULL AND u.sql_role = current_user;
REVOKE ALL ON lake.sql_login FROM PUBLIC;
GRANT SELECT ON lake.sql_login TO lake_app, lake_sql;

CREATE OR REPLACE FUNCTION lake.login_user_id(role name) RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT l.user_id FROM lake.sql_login l WHERE role = current_user $$;
REVOKE EXECUTE ON FUNCTION lake.login_user_id(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lake.login_user_id(name) TO lake_app, lake_sql;
