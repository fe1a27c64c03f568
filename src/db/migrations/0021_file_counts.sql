-- What each imported file loaded as a person counts it (issue 13): rows inserted per destination
-- table ({"user_data.messages": 3, "user_data.blob_refs": 1}), added batch by batch in the same
-- statement as records_loaded. The API's job report turns them into kinds (messages, attachments...)
-- with the file's format, as `lake import` does (src/ingest/report.ts).
ALTER TABLE imports.files ADD COLUMN inserted_by_table jsonb NOT NULL DEFAULT '{}'::jsonb;
