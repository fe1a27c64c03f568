-- requires: postgis
-- Geography columns derived from lat/lon, so loaders write plain numbers (fast COPY) and the
-- server builds the point; spatial indexes for map and radius queries. Without PostGIS the lake
-- still stores lat/lon and these columns simply do not exist.

ALTER TABLE timeseries.location_points
  ADD COLUMN geog geography(Point, 4326)
  GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography) STORED;
CREATE INDEX location_points_geog_idx ON timeseries.location_points USING gist (geog);

ALTER TABLE user_data.items
  ADD COLUMN geog geography(Point, 4326)
  GENERATED ALWAYS AS (CASE WHEN lat IS NOT NULL AND lon IS NOT NULL
                            THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography END) STORED;
CREATE INDEX items_geog_idx ON user_data.items USING gist (geog) WHERE geog IS NOT NULL;

ALTER TABLE user_data.places
  ADD COLUMN geog geography(Point, 4326)
  GENERATED ALWAYS AS (CASE WHEN lat IS NOT NULL AND lon IS NOT NULL
                            THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography END) STORED;
CREATE INDEX places_geog_idx ON user_data.places USING gist (geog);

ALTER TABLE user_data.visits
  ADD COLUMN geog geography(Point, 4326)
  GENERATED ALWAYS AS (CASE WHEN lat IS NOT NULL AND lon IS NOT NULL
                            THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography END) STORED;
CREATE INDEX visits_geog_idx ON user_data.visits USING gist (geog);
