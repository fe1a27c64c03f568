-- requires: postgis
-- The GiST index on location_points.geog gives way to the cell index of migration 0015. A
-- migration of its own, needing PostGIS like 0002: where PostGIS arrives later, 0002 runs late
-- and this one after it.
DROP INDEX IF EXISTS timeseries.location_points_geog_idx;
