-- requires: postgis
-- GIS tools read a column's geometry type and SRS from its type modifier: without one GDAL opened
-- timeseries.location_points_geography as `Geometry: Unknown (any)` with no SRS (issue 17). The
-- cast gives the view's geog column the type geography(Point,4326), as the table's column had
-- before migration 0017; QGIS, GDAL (ogrinfo) and others then see points in EPSG:4326.
DROP VIEW timeseries.location_points_geography;
CREATE VIEW timeseries.location_points_geography WITH (security_invoker = true) AS
  SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography(Point, 4326) AS geog FROM timeseries.location_points;
GRANT SELECT ON timeseries.location_points_geography TO lake_app, lake_sql;
