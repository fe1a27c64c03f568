-- The first point of every hour of each user's track, beside timeseries.location_points, so a map
-- of months or years (GET /v1/locations?simplify=3600, or any whole number of hours) reads one row
-- an hour instead of probing the points once per hour (8,784 probes for a year, each across every
-- chunk of the range). "First" is the points' order: recorded_at, then content_hash.
--
-- Kept by the writers of location_points: the loader upserts the heads of each batch from its
-- staging table (load/tables.ts); whoever deletes or rewrites points calls
-- timeseries.refresh_location_hours with the hours touched. A test compares the table with the
-- points it summarizes after each kind of write.
CREATE TABLE timeseries.location_hours (
  user_id uuid NOT NULL,
  hour timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL,
  content_hash bytea NOT NULL,
  lat double precision NOT NULL,
  lon double precision NOT NULL,
  accuracy_m real,
  altitude_m real,
  velocity_mps real,
  heading_deg real,
  activity text,
  device text,
  source text NOT NULL,
  PRIMARY KEY (user_id, hour),
  CHECK (hour = date_bin(interval '1 hour', recorded_at, timestamptz 'epoch'))
);
SELECT lake.isolate_by_user('timeseries.location_hours', 'SELECT, INSERT, UPDATE, DELETE');

-- Recompute the heads of the given hours (any instant within them) for the current user, from the
-- points: after points were deleted or rewritten. Runs as its caller, under row-level security.
CREATE FUNCTION timeseries.refresh_location_hours(instants timestamptz[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  hours timestamptz[] := ARRAY(SELECT DISTINCT date_bin(interval '1 hour', i, timestamptz 'epoch') FROM unnest(instants) i);
BEGIN
  DELETE FROM timeseries.location_hours WHERE user_id = lake.current_user_id() AND hour = ANY (hours);
  -- The bucket end is a column of its own (OFFSET 0): under row-level security only leakproof
  -- comparisons become index conditions, and `start + interval` is not one.
  INSERT INTO timeseries.location_hours (user_id, hour, recorded_at, content_hash, lat, lon, accuracy_m, altitude_m, velocity_mps,
                                         heading_deg, activity, device, source)
  SELECT p.user_id, b.start, p.recorded_at, p.content_hash, p.lat, p.lon, p.accuracy_m, p.altitude_m, p.velocity_mps, p.heading_deg,
         p.activity, p.device, p.source
    FROM (SELECT h AS start, h + interval '1 hour' AS stop FROM unnest(hours) h OFFSET 0) b
   CROSS JOIN LATERAL (
     SELECT * FROM timeseries.location_points
      WHERE user_id = lake.current_user_id() AND recorded_at >= b.start AND recorded_at < b.stop
      ORDER BY recorded_at, content_hash LIMIT 1) p;
END $$;
GRANT EXECUTE ON FUNCTION timeseries.refresh_location_hours(timestamptz[]) TO lake_app;

-- Points already stored (a lake migrated with data): their heads, per user.
INSERT INTO timeseries.location_hours (user_id, hour, recorded_at, content_hash, lat, lon, accuracy_m, altitude_m, velocity_mps,
                                       heading_deg, activity, device, source)
SELECT DISTINCT ON (user_id, date_bin(interval '1 hour', recorded_at, timestamptz 'epoch'))
       user_id, date_bin(interval '1 hour', recorded_at, timestamptz 'epoch'), recorded_at, content_hash, lat, lon, accuracy_m, altitude_m,
       velocity_mps, heading_deg, activity, device, source
  FROM timeseries.location_points
 ORDER BY user_id, date_bin(interval '1 hour', recorded_at, timestamptz 'epoch'), recorded_at, content_hash;
