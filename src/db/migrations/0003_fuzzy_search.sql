-- requires: pg_trgm
-- Trigram indexes for fuzzy (typo-tolerant) search on titles and place names.

CREATE INDEX items_title_trgm_idx ON user_data.items USING gin (title gin_trgm_ops);
CREATE INDEX places_name_trgm_idx ON user_data.places USING gin (name gin_trgm_ops);
