-- Map cells counted over all time: period 'all' of timeseries.location_tiles (migration 0024), one
-- row per level and cell, start '-infinity'. A tile without a time range (the console's: its time
-- slider filters the loaded cells by their first and last times) reads one row per cell instead of
-- one per year, and a ten-year Location History is as cheap to draw as a one-year one.
--
-- The primary key is ordered by start before cell: a tile reads, for each day, month or year of
-- its range, one run of the index over its cells (0024's order, cell before start, read the
-- tile's cells for every day of every year to keep a few weeks' worth: 40 to 80 ms a tile of a
-- 10-million-point lake).
ALTER TABLE timeseries.location_tiles
  DROP CONSTRAINT location_tiles_pkey,
  ADD PRIMARY KEY (user_id, level, period, start, cell) INCLUDE (points, first_at, last_at),
  DROP CONSTRAINT location_tiles_period_check,
  DROP CONSTRAINT location_tiles_check,
  ADD CONSTRAINT location_tiles_period_check CHECK (period IN ('day', 'month', 'year', 'all')),
  ADD CONSTRAINT location_tiles_start_check CHECK (CASE WHEN period = 'all' THEN start = '-infinity' ELSE start = date_trunc(period, start, 'UTC') END);

-- As in 0024, and then the all-time rows of every cell whose days changed, summed from its years
-- (the cells of the days before and after the recount: a point moved away leaves a cell too). A
-- day's level-20 cells are counted from its points, each coarser level from the level below it
-- (0024 counted every level from the points: 1.9 of the 2.9 s a 200 MB import spent at its end).
CREATE OR REPLACE FUNCTION timeseries.refresh_location_tiles(instants timestamptz[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  me uuid := lake.current_user_id();
  days timestamptz[] := ARRAY(SELECT DISTINCT date_trunc('day', i, 'UTC') FROM unnest(instants) i WHERE i IS NOT NULL);
  months timestamptz[] := ARRAY(SELECT DISTINCT date_trunc('month', d, 'UTC') FROM unnest(days) d);
  years timestamptz[] := ARRAY(SELECT DISTINCT date_trunc('year', d, 'UTC') FROM unnest(days) d);
  coarser smallint;
  -- The changed cells as cell * 32 + level.
  gone bigint[];
  made bigint[];
  touched bigint[];
  all_years timestamptz[];
BEGIN
  IF me IS NULL OR cardinality(days) = 0 THEN
    RETURN;
  END IF;
  WITH deleted AS (DELETE FROM timeseries.location_tiles WHERE user_id = me AND period = 'day' AND start = ANY (days) RETURNING cell * 32 + level AS key)
  SELECT array_agg(key) INTO gone FROM deleted;
  -- Each day's end is a column of its own (OFFSET 0): under row-level security only leakproof
  -- comparisons become index conditions, and `start + interval` is not one.
  WITH inserted AS (
    INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
    SELECT me, 20, 'day', timeseries.tile_morton(p.x, p.y), d.start, p.points, p.first_at, p.last_at
      FROM (SELECT d AS start, d + interval '1 day' AS stop FROM unnest(days) d OFFSET 0) d
     CROSS JOIN LATERAL (
       SELECT timeseries.tile_x(lon) AS x, timeseries.tile_y(lat) AS y, count(*)::integer AS points,
              min(recorded_at) AS first_at, max(recorded_at) AS last_at
         FROM timeseries.location_points
        WHERE user_id = me AND recorded_at >= d.start AND recorded_at < d.stop
        GROUP BY 1, 2) p
    RETURNING cell * 32 + level AS key)
  SELECT array_agg(key) INTO made FROM inserted;
  FOREACH coarser IN ARRAY ARRAY[18, 16, 14, 12, 10, 8]::smallint[] LOOP
    WITH inserted AS (
      INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
      -- Two levels coarser: four bits of the Morton code fewer.
      SELECT me, coarser, 'day', cell >> 4, start, sum(points), min(first_at), max(last_at)
        FROM timeseries.location_tiles
       WHERE user_id = me AND level = coarser + 2 AND period = 'day' AND start = ANY (days)
       GROUP BY cell >> 4, start
      RETURNING cell * 32 + level AS key)
    SELECT made || array_agg(key) INTO made FROM inserted;
  END LOOP;
  -- Months from their days, years from their months.
  DELETE FROM timeseries.location_tiles WHERE user_id = me AND period = 'month' AND start = ANY (months);
  INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
  SELECT me, t.level, 'month', t.cell, m.start, sum(t.points), min(t.first_at), max(t.last_at)
    FROM (SELECT m AS start, m + interval '1 month' AS stop FROM unnest(months) m OFFSET 0) m
    JOIN timeseries.location_tiles t ON t.user_id = me AND t.period = 'day' AND t.start >= m.start AND t.start < m.stop
   GROUP BY t.level, t.cell, m.start;
  DELETE FROM timeseries.location_tiles WHERE user_id = me AND period = 'year' AND start = ANY (years);
  INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
  SELECT me, t.level, 'year', t.cell, y.start, sum(t.points), min(t.first_at), max(t.last_at)
    FROM (SELECT y AS start, y + interval '1 year' AS stop FROM unnest(years) y OFFSET 0) y
    JOIN timeseries.location_tiles t ON t.user_id = me AND t.period = 'month' AND t.start >= y.start AND t.start < y.stop
   GROUP BY t.level, t.cell, y.start;
  -- All time. Many changed cells (a whole import): every cell again, from all the years at once;
  -- a few (a day's points): those cells, each found by the primary key.
  IF coalesce(cardinality(gone), 0) + coalesce(cardinality(made), 0) > 50000 THEN
    DELETE FROM timeseries.location_tiles WHERE user_id = me AND period = 'all';
    INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
    SELECT me, level, 'all', cell, '-infinity', sum(points), min(first_at), max(last_at)
      FROM timeseries.location_tiles WHERE user_id = me AND period = 'year'
     GROUP BY level, cell;
  ELSE
    touched := ARRAY(SELECT DISTINCT k FROM unnest(coalesce(gone, '{}') || coalesce(made, '{}')) k);
    -- The user's years, each found in the index (start comes before cell in the primary key).
    WITH RECURSIVE found (start) AS (
      SELECT min(start) FROM timeseries.location_tiles WHERE user_id = me AND period = 'year'
      UNION ALL
      SELECT (SELECT min(start) FROM timeseries.location_tiles WHERE user_id = me AND period = 'year' AND start > found.start)
        FROM found WHERE found.start IS NOT NULL)
    SELECT array_agg(start) INTO all_years FROM found WHERE start IS NOT NULL;
    DELETE FROM timeseries.location_tiles t
     USING (SELECT (k % 32)::smallint AS level, k / 32 AS cell FROM unnest(touched) k) c
     WHERE t.user_id = me AND t.level = c.level AND t.period = 'all' AND t.start = '-infinity' AND t.cell = c.cell;
    INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
    SELECT me, t.level, 'all', t.cell, '-infinity', sum(t.points), min(t.first_at), max(t.last_at)
      FROM (SELECT (k % 32)::smallint AS level, k / 32 AS cell FROM unnest(touched) k) c
      JOIN timeseries.location_tiles t
        ON t.user_id = me AND t.level = c.level AND t.period = 'year' AND t.start = ANY (all_years) AND t.cell = c.cell
     GROUP BY t.level, t.cell;
  END IF;
END $$;

-- The all-time rows of the cells already counted.
INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
SELECT user_id, level, 'all', cell, '-infinity', sum(points), min(first_at), max(last_at)
  FROM timeseries.location_tiles WHERE period = 'year'
 GROUP BY user_id, level, cell;
-- Statistics that know of the new rows: without them the planner reads a tile's cells through the
-- (user, period, start) index, all of the user's all-time rows, not the primary key's cell range.
ANALYZE timeseries.location_tiles;
