-- Contacts (vCard: Google Contacts .vcf) and calendar events (iCalendar: Google Calendar .ics).
-- Neither grows like the time series (thousands of rows, not millions), so neither is
-- partitioned. A recurring event is stored as one row per occurrence, keyed by the series UID
-- and the occurrence start; (user_id, uid) finds a whole series.

CREATE TABLE user_data.contacts (
  user_id uuid NOT NULL,
  content_hash bytea NOT NULL,
  uid text,
  full_name text,
  structured_name jsonb,
  emails text[] NOT NULL DEFAULT '{}',
  phones text[] NOT NULL DEFAULT '{}',
  organization text,
  title text,
  birthday date,
  addresses jsonb NOT NULL DEFAULT '[]',
  notes text,
  photo_uri text,
  categories text[] NOT NULL DEFAULT '{}',
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  PRIMARY KEY (user_id, content_hash)
);
CREATE INDEX contacts_user_uid_idx ON user_data.contacts (user_id, uid);
CREATE INDEX contacts_emails_idx ON user_data.contacts USING gin (emails);
SELECT lake.isolate_by_user('user_data.contacts', 'SELECT, INSERT, UPDATE, DELETE');

CREATE TABLE user_data.calendar_events (
  user_id uuid NOT NULL,
  starts_at timestamptz NOT NULL,
  content_hash bytea NOT NULL,
  uid text,
  recurrence_id timestamptz,
  summary text,
  description text,
  location text,
  ends_at timestamptz,
  all_day boolean NOT NULL DEFAULT false,
  time_zone text,
  status text,
  organizer text,
  attendees jsonb NOT NULL DEFAULT '[]',
  rrule text,
  calendar_name text,
  source text NOT NULL,
  attributes jsonb,
  import_file_id uuid,
  PRIMARY KEY (user_id, starts_at, content_hash),
  CHECK (ends_at IS NULL OR ends_at >= starts_at)
);
CREATE INDEX calendar_events_user_uid_idx ON user_data.calendar_events (user_id, uid);
SELECT lake.isolate_by_user('user_data.calendar_events', 'SELECT, INSERT, UPDATE, DELETE');
