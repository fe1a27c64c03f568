-- requires: postgis
-- Location points keep no stored geography: building it for every point loaded (ST_MakePoint,
-- then the cast to geography) was a sixth of the server's time per point, and since migration
-- 0016 no index uses it. Radius queries build it for the candidates the cell index finds
-- (src/api/routes/locations.ts); maps and SQL clients (QGIS...) read it from this view, which
-- runs as its caller, so row-level security still shows each user only their own points.
ALTER TABLE timeseries.location_points DROP COLUMN geog;
CREATE VIEW timeseries.location_points_geography WITH (security_invoker = true) AS
  SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS geog FROM timeseries.location_points;
GRANT SELECT ON timeseries.location_points_geography TO lake_app;
