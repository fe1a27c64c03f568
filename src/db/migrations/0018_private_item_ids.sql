-- Ids that say nothing about other users (issue 12, defect 9). item_id came from one identity
-- sequence for every user: a user whose first items were 19 and 20 learnt that others had made 18
-- before, and from the gaps between their own ids how much others imported since.
--
-- Chosen: a random UUID (gen_random_uuid(), built into PostgreSQL 13+, PGlite included) becomes
-- item_id; 122 random bits neither count nor order anything, and cost nothing to hand out.
-- Per-user counters were weighed and set aside: they would need a counter row updated in every
-- load transaction (a hot row the bulk loader and the ingest endpoint would queue on), and a
-- user's own numbers would still tell an observer of that user's ids how much the user imports.
--
-- The old numbers stay on the rows that had them, as legacy_item_id, and GET /v1/items/{id} still
-- answers them: ids stored by clients before this migration keep finding their item (whose answer
-- carries the new item_id), and the export lists both, the map from old ids to new. The sequence
-- itself is dropped (DROP IDENTITY): new rows get no number, so probing numbers can only ever find
-- the user's own rows of before, ids the user was already given.
--
-- The index (user_id, item_id) is not UNIQUE: on a hypertable or a partitioned table a unique
-- index must include the time column, and (user_id, item_id, occurred_at) would enforce nothing
-- that 122 random bits do not already make certain. The old numbers get a partial index (new rows,
-- with no number, cost no index entry there).
--
-- Keyset pages of the timeline now order by (occurred_at, content_hash), the primary key after
-- user_id, instead of (occurred_at, item_id): unique, in an index, and nothing shared in cursors.
-- The other shared sequences (quarantine, errors, audit events, archive, embeddings) stay internal
-- orderings: the API shows quarantine entries by their dedup key and the export leaves identity
-- columns out (src/api/routes/jobs.ts, export.ts), so no migration is needed for them.
ALTER TABLE user_data.items RENAME COLUMN item_id TO legacy_item_id;
ALTER TABLE user_data.items ALTER COLUMN legacy_item_id DROP IDENTITY;
ALTER TABLE user_data.items ALTER COLUMN legacy_item_id DROP NOT NULL;
DROP INDEX user_data.items_user_item_idx;
CREATE INDEX items_user_legacy_item_idx ON user_data.items (user_id, legacy_item_id) WHERE legacy_item_id IS NOT NULL;
-- Existing rows get their UUID as the column is added (a volatile default is evaluated per row).
ALTER TABLE user_data.items ADD COLUMN item_id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE INDEX items_user_item_idx ON user_data.items (user_id, item_id);
