-- Revisions: the same fact exported again in a newer state (a Keep note edited since, a Fit day
-- whose totals grew after a late sync). Such records keep their key (so their content hash) and
-- carry a revision (the note's edit time, the export's time; Unix ms); a stored row with a
-- lower or no revision is replaced by the newer one instead of the newer one counting as a
-- duplicate. NULL: the source has no notion of versions (the first row stays, as before).
ALTER TABLE user_data.items ADD COLUMN revision bigint;
ALTER TABLE timeseries.measurements ADD COLUMN revision bigint;
