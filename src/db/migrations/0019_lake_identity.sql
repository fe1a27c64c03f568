-- Which lake this database is: a random id made once, written into the data directory the lake
-- uses (lake-identity.json, src/data-dir-identity.ts) so that a data directory is never used with
-- another lake's database, whose `lake blobs gc` would see the directory's blobs as unreferenced.
-- An id of its own rather than the server's system identifier: that one is shared by every
-- database of a cluster and changes with a dump and restore, which this row survives.
CREATE TABLE lake.identity (
  lake_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- One row only.
  single boolean NOT NULL DEFAULT true UNIQUE CHECK (single)
);
INSERT INTO lake.identity DEFAULT VALUES;
