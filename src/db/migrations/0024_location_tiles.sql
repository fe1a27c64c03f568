-- Location points counted per map cell and per day, month and year, for the low zooms of the map
-- tiles (GET /v1/tiles/{z}/{x}/{y}.mvt, query/tiles.ts): a tile of the whole world, or of a
-- country over ten years, reads a few rows per cell it draws instead of every point.
--
-- Cells are those of the Web Mercator tile pyramid: at level L the world is 2^L × 2^L cells, and a
-- cell is named by its Morton code (the bits of its column and row interleaved), so the cells of
-- any tile of zoom z <= L are one range of codes, [code(x, y) << 2(L - z), (code(x, y) + 1) << 2(L - z)),
-- one index range scan; a cell at a coarser level c is code >> 2(L - c). Seven levels are stored
-- (8, 10, ... 20: cells of 156 km down to 38 m at the equator), each for three periods (a UTC
-- day, month and year starting at start): a tile draws 64 × 64 cells, at zoom z cells of level
-- z + 6, summed from the next stored level at or above it, and a time range is read as whole years,
-- then whole months, then whole days, then the points of the days cut by its ends, so a tile reads
-- a bounded number of rows whatever the range.
--
-- Kept by the writers of location_points, like location_hours (0014), but not row by row: the
-- loader marks the days each batch touches as stale (timeseries.location_tiles_stale, in the
-- batch's transaction, so a killed import leaves them marked), and the days are counted again from
-- the points in one go when the import ends (runner.ts) and before any tile is read (query/tiles.ts):
-- counting them per batch, up to 21 rows per point, doubled the database's work for each point
-- loaded. Whoever deletes or rewrites points calls timeseries.refresh_location_tiles with instants
-- of the days touched. A test compares the table with the points it summarizes after each kind of
-- write (test/location-tiles.test.ts).

-- A position's column and row at level 20 (Web Mercator, latitudes clamped to its ±85.0511°).
-- Single expressions, not STRICT (least and greatest are not): so PostgreSQL inlines them into
-- the queries that call them.
CREATE FUNCTION timeseries.tile_x(lon double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(greatest(floor((lon + 180) / 360 * 1048576), 0), 1048575)::integer;

CREATE FUNCTION timeseries.tile_y(lat double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(greatest(floor((1 - asinh(tan(radians(least(greatest(lat, -85.0511287798066), 85.0511287798066)))) / pi()) / 2 * 1048576), 0), 1048575)::integer;

-- The Morton code of a cell (x, y), each of up to 24 bits: x in the even bits, y in the odd ones,
-- spread by a table of the 256 bytes' spreads (three lookups per coordinate). One expression
-- without FROM, so that it is inlined where its arguments are columns: a call that is not costs
-- an executor start of its own (80 µs a point measured on the server with a FROM clause). Callers
-- group the points by tile_x and tile_y first and take this of the groups.
CREATE FUNCTION timeseries.tile_morton(x integer, y integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (('{0,1,4,5,16,17,20,21,64,65,68,69,80,81,84,85,256,257,260,261,272,273,276,277,320,321,324,325,336,337,340,341,1024,1025,1028,1029,1040,1041,1044,1045,1088,1089,1092,1093,1104,1105,1108,1109,1280,1281,1284,1285,1296,1297,1300,1301,1344,1345,1348,1349,1360,1361,1364,1365,4096,4097,4100,4101,4112,4113,4116,4117,4160,4161,4164,4165,4176,4177,4180,4181,4352,4353,4356,4357,4368,4369,4372,4373,4416,4417,4420,4421,4432,4433,4436,4437,5120,5121,5124,5125,5136,5137,5140,5141,5184,5185,5188,5189,5200,5201,5204,5205,5376,5377,5380,5381,5392,5393,5396,5397,5440,5441,5444,5445,5456,5457,5460,5461,16384,16385,16388,16389,16400,16401,16404,16405,16448,16449,16452,16453,16464,16465,16468,16469,16640,16641,16644,16645,16656,16657,16660,16661,16704,16705,16708,16709,16720,16721,16724,16725,17408,17409,17412,17413,17424,17425,17428,17429,17472,17473,17476,17477,17488,17489,17492,17493,17664,17665,17668,17669,17680,17681,17684,17685,17728,17729,17732,17733,17744,17745,17748,17749,20480,20481,20484,20485,20496,20497,20500,20501,20544,20545,20548,20549,20560,20561,20564,20565,20736,20737,20740,20741,20752,20753,20756,20757,20800,20801,20804,20805,20816,20817,20820,20821,21504,21505,21508,21509,21520,21521,21524,21525,21568,21569,21572,21573,21584,21585,21588,21589,21760,21761,21764,21765,21776,21777,21780,21781,21824,21825,21828,21829,21840,21841,21844,21845}'::bigint[])[(x & 255) + 1]
        | (('{0,1,4,5,16,17,20,21,64,65,68,69,80,81,84,85,256,257,260,261,272,273,276,277,320,321,324,325,336,337,340,341,1024,1025,1028,1029,1040,1041,1044,1045,1088,1089,1092,1093,1104,1105,1108,1109,1280,1281,1284,1285,1296,1297,1300,1301,1344,1345,1348,1349,1360,1361,1364,1365,4096,4097,4100,4101,4112,4113,4116,4117,4160,4161,4164,4165,4176,4177,4180,4181,4352,4353,4356,4357,4368,4369,4372,4373,4416,4417,4420,4421,4432,4433,4436,4437,5120,5121,5124,5125,5136,5137,5140,5141,5184,5185,5188,5189,5200,5201,5204,5205,5376,5377,5380,5381,5392,5393,5396,5397,5440,5441,5444,5445,5456,5457,5460,5461,16384,16385,16388,16389,16400,16401,16404,16405,16448,16449,16452,16453,16464,16465,16468,16469,16640,16641,16644,16645,16656,16657,16660,16661,16704,16705,16708,16709,16720,16721,16724,16725,17408,17409,17412,17413,17424,17425,17428,17429,17472,17473,17476,17477,17488,17489,17492,17493,17664,17665,17668,17669,17680,17681,17684,17685,17728,17729,17732,17733,17744,17745,17748,17749,20480,20481,20484,20485,20496,20497,20500,20501,20544,20545,20548,20549,20560,20561,20564,20565,20736,20737,20740,20741,20752,20753,20756,20757,20800,20801,20804,20805,20816,20817,20820,20821,21504,21505,21508,21509,21520,21521,21524,21525,21568,21569,21572,21573,21584,21585,21588,21589,21760,21761,21764,21765,21776,21777,21780,21781,21824,21825,21828,21829,21840,21841,21844,21845}'::bigint[])[((x >> 8) & 255) + 1] << 16)
        | (('{0,1,4,5,16,17,20,21,64,65,68,69,80,81,84,85,256,257,260,261,272,273,276,277,320,321,324,325,336,337,340,341,1024,1025,1028,1029,1040,1041,1044,1045,1088,1089,1092,1093,1104,1105,1108,1109,1280,1281,1284,1285,1296,1297,1300,1301,1344,1345,1348,1349,1360,1361,1364,1365,4096,4097,4100,4101,4112,4113,4116,4117,4160,4161,4164,4165,4176,4177,4180,4181,4352,4353,4356,4357,4368,4369,4372,4373,4416,4417,4420,4421,4432,4433,4436,4437,5120,5121,5124,5125,5136,5137,5140,5141,5184,5185,5188,5189,5200,5201,5204,5205,5376,5377,5380,5381,5392,5393,5396,5397,5440,5441,5444,5445,5456,5457,5460,5461,16384,16385,16388,16389,16400,16401,16404,16405,16448,16449,16452,16453,16464,16465,16468,16469,16640,16641,16644,16645,16656,16657,16660,16661,16704,16705,16708,16709,16720,16721,16724,16725,17408,17409,17412,17413,17424,17425,17428,17429,17472,17473,17476,17477,17488,17489,17492,17493,17664,17665,17668,17669,17680,17681,17684,17685,17728,17729,17732,17733,17744,17745,17748,17749,20480,20481,20484,20485,20496,20497,20500,20501,20544,20545,20548,20549,20560,20561,20564,20565,20736,20737,20740,20741,20752,20753,20756,20757,20800,20801,20804,20805,20816,20817,20820,20821,21504,21505,21508,21509,21520,21521,21524,21525,21568,21569,21572,21573,21584,21585,21588,21589,21760,21761,21764,21765,21776,21777,21780,21781,21824,21825,21828,21829,21840,21841,21844,21845}'::bigint[])[((x >> 16) & 255) + 1] << 32))
     | ((('{0,1,4,5,16,17,20,21,64,65,68,69,80,81,84,85,256,257,260,261,272,273,276,277,320,321,324,325,336,337,340,341,1024,1025,1028,1029,1040,1041,1044,1045,1088,1089,1092,1093,1104,1105,1108,1109,1280,1281,1284,1285,1296,1297,1300,1301,1344,1345,1348,1349,1360,1361,1364,1365,4096,4097,4100,4101,4112,4113,4116,4117,4160,4161,4164,4165,4176,4177,4180,4181,4352,4353,4356,4357,4368,4369,4372,4373,4416,4417,4420,4421,4432,4433,4436,4437,5120,5121,5124,5125,5136,5137,5140,5141,5184,5185,5188,5189,5200,5201,5204,5205,5376,5377,5380,5381,5392,5393,5396,5397,5440,5441,5444,5445,5456,5457,5460,5461,16384,16385,16388,16389,16400,16401,16404,16405,16448,16449,16452,16453,16464,16465,16468,16469,16640,16641,16644,16645,16656,16657,16660,16661,16704,16705,16708,16709,16720,16721,16724,16725,17408,17409,17412,17413,17424,17425,17428,17429,17472,17473,17476,17477,17488,17489,17492,17493,17664,17665,17668,17669,17680,17681,17684,17685,17728,17729,17732,17733,17744,17745,17748,17749,20480,20481,20484,20485,20496,20497,20500,20501,20544,20545,20548,20549,20560,20561,20564,20565,20736,20737,20740,20741,20752,20753,20756,20757,20800,20801,20804,20805,20816,20817,20820,20821,21504,21505,21508,21509,21520,21521,21524,21525,21568,21569,21572,21573,21584,21585,21588,21589,21760,21761,21764,21765,21776,21777,21780,21781,21824,21825,21828,21829,21840,21841,21844,21845}'::bigint[])[(y & 255) + 1]
        | (('{0,1,4,5,16,17,20,21,64,65,68,69,80,81,84,85,256,257,260,261,272,273,276,277,320,321,324,325,336,337,340,341,1024,1025,1028,1029,1040,1041,1044,1045,1088,1089,1092,1093,1104,1105,1108,1109,1280,1281,1284,1285,1296,1297,1300,1301,1344,1345,1348,1349,1360,1361,1364,1365,4096,4097,4100,4101,4112,4113,4116,4117,4160,4161,4164,4165,4176,4177,4180,4181,4352,4353,4356,4357,4368,4369,4372,4373,4416,4417,4420,4421,4432,4433,4436,4437,5120,5121,5124,5125,5136,5137,5140,5141,5184,5185,5188,5189,5200,5201,5204,5205,5376,5377,5380,5381,5392,5393,5396,5397,5440,5441,5444,5445,5456,5457,5460,5461,16384,16385,16388,16389,16400,16401,16404,16405,16448,16449,16452,16453,16464,16465,16468,16469,16640,16641,16644,16645,16656,16657,16660,16661,16704,16705,16708,16709,16720,16721,16724,16725,17408,17409,17412,17413,17424,17425,17428,17429,17472,17473,17476,17477,17488,17489,17492,17493,17664,17665,17668,17669,17680,17681,17684,17685,17728,17729,17732,17733,17744,17745,17748,17749,20480,20481,20484,20485,20496,20497,20500,20501,20544,20545,20548,20549,20560,20561,20564,20565,20736,20737,20740,20741,20752,20753,20756,20757,20800,20801,20804,20805,20816,20817,20820,20821,21504,21505,21508,21509,21520,21521,21524,21525,21568,21569,21572,21573,21584,21585,21588,21589,21760,21761,21764,21765,21776,21777,21780,21781,21824,21825,21828,21829,21840,21841,21844,21845}'::bigint[])[((y >> 8) & 255) + 1] << 16)
        | (('{0,1,4,5,16,17,20,21,64,65,68,69,80,81,84,85,256,257,260,261,272,273,276,277,320,321,324,325,336,337,340,341,1024,1025,1028,1029,1040,1041,1044,1045,1088,1089,1092,1093,1104,1105,1108,1109,1280,1281,1284,1285,1296,1297,1300,1301,1344,1345,1348,1349,1360,1361,1364,1365,4096,4097,4100,4101,4112,4113,4116,4117,4160,4161,4164,4165,4176,4177,4180,4181,4352,4353,4356,4357,4368,4369,4372,4373,4416,4417,4420,4421,4432,4433,4436,4437,5120,5121,5124,5125,5136,5137,5140,5141,5184,5185,5188,5189,5200,5201,5204,5205,5376,5377,5380,5381,5392,5393,5396,5397,5440,5441,5444,5445,5456,5457,5460,5461,16384,16385,16388,16389,16400,16401,16404,16405,16448,16449,16452,16453,16464,16465,16468,16469,16640,16641,16644,16645,16656,16657,16660,16661,16704,16705,16708,16709,16720,16721,16724,16725,17408,17409,17412,17413,17424,17425,17428,17429,17472,17473,17476,17477,17488,17489,17492,17493,17664,17665,17668,17669,17680,17681,17684,17685,17728,17729,17732,17733,17744,17745,17748,17749,20480,20481,20484,20485,20496,20497,20500,20501,20544,20545,20548,20549,20560,20561,20564,20565,20736,20737,20740,20741,20752,20753,20756,20757,20800,20801,20804,20805,20816,20817,20820,20821,21504,21505,21508,21509,21520,21521,21524,21525,21568,21569,21572,21573,21584,21585,21588,21589,21760,21761,21764,21765,21776,21777,21780,21781,21824,21825,21828,21829,21840,21841,21844,21845}'::bigint[])[((y >> 16) & 255) + 1] << 32)) << 1);

-- A position's cell at level 20: for single positions (the tile queries group first).
CREATE FUNCTION timeseries.location_tile_cell(lat double precision, lon double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN timeseries.tile_morton(timeseries.tile_x(lon), timeseries.tile_y(lat));

CREATE TABLE timeseries.location_tiles (
  user_id uuid NOT NULL,
  level smallint NOT NULL CHECK (level IN (8, 10, 12, 14, 16, 18, 20)),
  period text NOT NULL CHECK (period IN ('day', 'month', 'year')),
  cell bigint NOT NULL,
  start timestamptz NOT NULL,
  points integer NOT NULL CHECK (points > 0),
  first_at timestamptz NOT NULL,
  last_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, level, period, cell, start) INCLUDE (points, first_at, last_at),
  CHECK (start = date_trunc(period, start, 'UTC'))
);
-- For refresh_location_tiles, which redoes whole days, months and years.
-- The counts are in the primary key's index too (INCLUDE): a tile reads them by an index-only scan
-- where the pages are all-visible (after autovacuum), instead of a heap page per cell.
CREATE INDEX location_tiles_start_idx ON timeseries.location_tiles (user_id, period, start);
SELECT lake.isolate_by_user('timeseries.location_tiles', 'SELECT, INSERT, UPDATE, DELETE');

-- Recompute the rows of the given days (any instant within them), and of their months and years,
-- for the current user, from the points: after points were deleted or rewritten. Runs as its
-- caller, under row-level security.
CREATE FUNCTION timeseries.refresh_location_tiles(instants timestamptz[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  me uuid := lake.current_user_id();
  days timestamptz[] := ARRAY(SELECT DISTINCT date_trunc('day', i, 'UTC') FROM unnest(instants) i WHERE i IS NOT NULL);
  months timestamptz[] := ARRAY(SELECT DISTINCT date_trunc('month', d, 'UTC') FROM unnest(days) d);
  years timestamptz[] := ARRAY(SELECT DISTINCT date_trunc('year', d, 'UTC') FROM unnest(days) d);
BEGIN
  IF me IS NULL OR cardinality(days) = 0 THEN
    RETURN;
  END IF;
  DELETE FROM timeseries.location_tiles WHERE user_id = me AND period = 'day' AND start = ANY (days);
  -- Each day's end is a column of its own (OFFSET 0): under row-level security only leakproof
  -- comparisons become index conditions, and `start + interval` is not one.
  INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
  SELECT me, l.level, 'day', f.cell >> (2 * (20 - l.level)), f.start, sum(f.points), min(f.first_at), max(f.last_at)
    FROM (SELECT d.start, timeseries.tile_morton(p.x, p.y) AS cell, p.points, p.first_at, p.last_at
            FROM (SELECT d AS start, d + interval '1 day' AS stop FROM unnest(days) d OFFSET 0) d
           CROSS JOIN LATERAL (
             SELECT timeseries.tile_x(lon) AS x, timeseries.tile_y(lat) AS y, count(*)::integer AS points,
                    min(recorded_at) AS first_at, max(recorded_at) AS last_at
               FROM timeseries.location_points
              WHERE user_id = me AND recorded_at >= d.start AND recorded_at < d.stop
              GROUP BY 1, 2) p) f
   CROSS JOIN (VALUES (8), (10), (12), (14), (16), (18), (20)) l (level)
   GROUP BY l.level, f.cell >> (2 * (20 - l.level)), f.start;
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
END $$;
GRANT EXECUTE ON FUNCTION timeseries.refresh_location_tiles(timestamptz[]) TO lake_app;

-- Days whose points changed since their rows in location_tiles were counted.
CREATE TABLE timeseries.location_tiles_stale (
  user_id uuid NOT NULL,
  day timestamptz NOT NULL CHECK (day = date_trunc('day', day, 'UTC')),
  PRIMARY KEY (user_id, day)
);
SELECT lake.isolate_by_user('timeseries.location_tiles_stale', 'SELECT, INSERT, DELETE');

-- Count the current user's stale days again (and their months and years); returns how many.
CREATE FUNCTION timeseries.refresh_stale_location_tiles() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  days timestamptz[];
BEGIN
  WITH taken AS (DELETE FROM timeseries.location_tiles_stale WHERE user_id = lake.current_user_id() RETURNING day)
  SELECT array_agg(day) INTO days FROM taken;
  IF days IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM timeseries.refresh_location_tiles(days);
  RETURN cardinality(days);
END $$;
GRANT EXECUTE ON FUNCTION timeseries.refresh_stale_location_tiles() TO lake_app;

-- Points already stored (a lake migrated with data): counted per user, level-20 cell and day first,
-- then summed to the coarser levels and periods.
CREATE TEMP TABLE lake_tiles_backfill ON COMMIT DROP AS
SELECT user_id, timeseries.tile_x(lon) AS x, timeseries.tile_y(lat) AS y, date_trunc('day', recorded_at, 'UTC') AS start,
       count(*)::integer AS points, min(recorded_at) AS first_at, max(recorded_at) AS last_at
  FROM timeseries.location_points
 GROUP BY 1, 2, 3, 4;
INSERT INTO timeseries.location_tiles (user_id, level, period, cell, start, points, first_at, last_at)
SELECT b.user_id, l.level, p.period, timeseries.tile_morton(b.x, b.y) >> (2 * (20 - l.level)), date_trunc(p.period, b.start, 'UTC'),
       sum(b.points), min(b.first_at), max(b.last_at)
  FROM lake_tiles_backfill b
 CROSS JOIN (VALUES (8), (10), (12), (14), (16), (18), (20)) l (level)
 CROSS JOIN (VALUES ('day'), ('month'), ('year')) p (period)
 GROUP BY 1, 2, 3, 4, 5;
