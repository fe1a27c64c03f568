// Where each record type goes: its table, its columns, and how a record becomes a binary COPY row.
// The content hash comes from the record's natural key, so the same record always gets the same hash.
import { hash } from 'node:crypto';
import type { LakeRecord } from '../records.js';
import type { Transaction } from '../../db/database.js';
import type { CopyBinaryWriter } from './copy-binary.js';
import { dropSameFixes, SAME_FIX_WITHIN_MS } from './same-fix.js';

export interface Destination<R extends LakeRecord = LakeRecord> {
  table: string;
  /** The time column of a time-partitioned table (partitions are ensured before loading). */
  timeColumn: string | null;
  columns: readonly string[];
  /**
   * Tables whose rows a newer revision of the same record replaces (records.ts, `revision`): the
   * unique key to meet on and the columns the newer row overwrites.
   */
  replace?: { conflict: readonly string[]; columns: readonly string[] };
  /**
   * A statement filling what stored rows lack (NULL columns, absent attribute keys) from a relation
   * of the batch's rows, for tables keyed by an identity that several records describe in part
   * (bulk.ts `merge`); the stored rows it changes count as updated, not as duplicates.
   */
  merge?: (batch: string) => string;
  /** A statement run on the batch's staged rows before they move in (bulk.ts `before`). */
  beforeInsert?: (batch: string) => string;
  /**
   * Drops from the staged batch (rows between `from` and `to`, Unix ms) the rows that are
   * duplicates of stored rows whose keys differ (same-fix.ts); `withinMs`: how far from the
   * batch's range such a stored row may lie, by which the fast path's look for stored rows widens.
   */
  dropDuplicates?: { withinMs: number; drop(tx: Transaction, staging: string, userId: string, from: number, to: number): Promise<void> };
  /** A statement keeping a table derived from this one current, given a relation of the batch's rows (bulk.ts). */
  derive?: (batch: string) => string;
  /**
   * When `derive` needs only the rows at the earliest instant of each bucket of this many
   * milliseconds of the time column (the first point of each hour): the encoder finds those
   * instants, and the derive reads just the rows at them instead of the whole batch.
   */
  deriveBucketMs?: number;
  /** The record as one row of binary COPY, its fields in column order and of the columns' types. */
  write(w: CopyBinaryWriter, record: R, userId: Buffer, importFileId: Buffer | null): void;
  time(record: R): Date | null;
}

/**
 * SHA-256 of the record's type, source and natural key, as a binary string (one character per
 * byte) for CopyBinaryWriter.latin1: a Buffer per record cost twice the hash itself.
 */
export function contentHash(record: LakeRecord): string {
  return hash('sha256', JSON.stringify([record.type, record.source, ...record.key]), 'binary');
}

type DestinationMap = { [T in LakeRecord['type']]: Destination<Extract<LakeRecord, { type: T }>> };

export const DESTINATIONS: DestinationMap = {
  blob_ref: {
    table: 'user_data.blob_refs',
    timeColumn: null,
    columns: ['user_id', 'sha256', 'size_bytes', 'mime_type', 'original_name', 'source', 'import_file_id'],
    write(w, r, user, file) {
      w.row(7);
      w.uuid(user);
      w.hex(r.sha256);
      w.int8(r.size);
      w.text(r.mimeType);
      w.text(r.originalName);
      w.text(r.source);
      w.uuid(file);
    },
    time: () => null,
  },
  document: {
    table: 'user_data.documents',
    timeColumn: null,
    columns: ['user_id', 'content_hash', 'sha256', 'path', 'kind', 'mime_type', 'mime_from_name', 'size_bytes', 'title', 'body', 'language',
      'metadata', 'pii', 'extraction', 'source', 'attributes', 'import_file_id'],
    write(w, r, user, file) {
      w.row(17);
      w.uuid(user);
      w.latin1(contentHash(r));
      w.hex(r.sha256);
      w.text(r.path);
      w.text(r.kind);
      w.text(r.mimeType);
      w.text(r.mimeFromName);
      w.int8(r.size);
      w.text(r.title);
      w.text(r.text);
      w.text(r.language);
      w.jsonb(r.metadata);
      w.jsonb(r.pii);
      w.text(r.extraction);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: () => null,
  },
  location_point: {
    table: 'timeseries.location_points',
    timeColumn: 'recorded_at',
    columns: ['user_id', 'recorded_at', 'content_hash', 'lat', 'lon', 'accuracy_m', 'altitude_m', 'velocity_mps', 'heading_deg',
      'activity', 'activity_confidence', 'device', 'source', 'attributes', 'import_file_id'],
    write(w, r, user, file) {
      w.row(15);
      w.uuid(user);
      w.timestamptz(r.recordedAt);
      w.latin1(contentHash(r));
      w.float8(r.lat);
      w.float8(r.lon);
      w.float4(r.accuracyM);
      w.float4(r.altitudeM);
      w.float4(r.velocityMps);
      w.float4(r.headingDeg);
      w.text(r.activity);
      w.int2(r.activityConfidence);
      w.text(r.device);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: (r) => r.recordedAt,
    // The same fix from another export: a duplicate though its key differs.
    dropDuplicates: { withinMs: SAME_FIX_WITHIN_MS, drop: dropSameFixes },
    deriveBucketMs: 3_600_000,
    // Each hour's first point (migration 0014), for maps of long ranges: the batch's heads replace
    // stored ones they precede. Rows of the batch that were duplicates are already stored as such.
    // A point heads its hour when the one before it (lag) is of another hour: read back in primary
    // key order after a direct COPY, that needs no sort (DISTINCT ON sorted every batch: 5% of a
    // PGlite import).
    derive: (batch) =>
      `INSERT INTO timeseries.location_hours AS stored (user_id, hour, recorded_at, content_hash, lat, lon, accuracy_m, altitude_m,
                                                       velocity_mps, heading_deg, activity, device, source)
       SELECT user_id, hour, recorded_at, content_hash, lat, lon, accuracy_m, altitude_m, velocity_mps, heading_deg, activity, device, source
         FROM (SELECT *, date_bin(interval '1 hour', recorded_at, timestamptz 'epoch') AS hour,
                      lag(date_bin(interval '1 hour', recorded_at, timestamptz 'epoch'))
                        OVER (PARTITION BY user_id ORDER BY recorded_at, content_hash) AS previous_hour
                 FROM ${batch}) AS ordered
        WHERE previous_hour IS DISTINCT FROM hour
       ON CONFLICT (user_id, hour) DO UPDATE
          SET recorded_at = excluded.recorded_at, content_hash = excluded.content_hash, lat = excluded.lat, lon = excluded.lon,
              accuracy_m = excluded.accuracy_m, altitude_m = excluded.altitude_m, velocity_mps = excluded.velocity_mps,
              heading_deg = excluded.heading_deg, activity = excluded.activity, device = excluded.device, source = excluded.source
        WHERE (excluded.recorded_at, excluded.content_hash) < (stored.recorded_at, stored.content_hash)`,
  },
  item: {
    table: 'user_data.items',
    timeColumn: 'occurred_at',
    columns: ['user_id', 'occurred_at', 'content_hash', 'utc_offset_minutes', 'kind', 'source', 'title', 'body', 'url', 'language',
      'lat', 'lon', 'attributes', 'import_file_id', 'revision', 'item_id'],
    replace: {
      conflict: ['user_id', 'occurred_at', 'content_hash'],
      columns: ['utc_offset_minutes', 'title', 'body', 'url', 'language', 'lat', 'lon', 'attributes', 'import_file_id', 'revision'],
    },
    // Items with microseconds (ItemRecord.occurredAtMicros) were stored cut to the millisecond
    // before those were kept: such a row, same hash, takes the exact instant, and the batch's row
    // then meets it as a duplicate instead of being stored a second time.
    beforeInsert: (batch) =>
      `UPDATE user_data.items AS stored SET occurred_at = exact.occurred_at
         FROM (SELECT user_id, occurred_at, content_hash FROM ${batch}
                WHERE occurred_at <> date_trunc('milliseconds', occurred_at)) AS exact
        WHERE stored.user_id = exact.user_id AND stored.occurred_at = date_trunc('milliseconds', exact.occurred_at)
          AND stored.content_hash = exact.content_hash`,
    write(w, r, user, file) {
      w.row(16);
      w.uuid(user);
      w.timestamptz(r.occurredAt, r.occurredAtMicros);
      w.latin1(contentHash(r));
      w.int2(r.utcOffsetMinutes);
      w.text(r.kind);
      w.text(r.source);
      w.text(r.title);
      w.text(r.text);
      w.text(r.url);
      w.text(r.language);
      w.float8(r.lat);
      w.float8(r.lon);
      w.jsonb(r.attributes ?? {});
      w.uuid(file);
      w.int8(r.revision);
      // A random id (migration 0018); a duplicate's is dropped with it, and a newer revision keeps the stored row's.
      w.randomUuid();
    },
    time: (r) => r.occurredAt,
  },
  place: {
    table: 'user_data.places',
    timeColumn: null,
    columns: ['user_id', 'place_id', 'source', 'name', 'address', 'lat', 'lon', 'attributes'],
    // A place is named by a visit and labelled by a profile (HOME, WORK), in either order, in one
    // file or several: each record adds what the stored row lacks and overwrites nothing, so a
    // re-import changes nothing. Rows of one batch sharing a place are folded first (an UPDATE
    // meets a row once); where they disagree, the stored value stays, and between rows of one
    // batch either may give it.
    merge: (batch) =>
      `UPDATE user_data.places AS stored
          SET name = coalesce(stored.name, incoming.name), address = coalesce(stored.address, incoming.address),
              lat = CASE WHEN stored.lat IS NULL OR stored.lon IS NULL THEN incoming.lat ELSE stored.lat END,
              lon = CASE WHEN stored.lat IS NULL OR stored.lon IS NULL THEN incoming.lon ELSE stored.lon END,
              attributes = incoming.attributes || stored.attributes, updated_at = now()
         FROM (SELECT b.user_id, b.place_id,
                      (array_agg(b.name) FILTER (WHERE b.name IS NOT NULL))[1] AS name,
                      (array_agg(b.address) FILTER (WHERE b.address IS NOT NULL))[1] AS address,
                      (array_agg(b.lat) FILTER (WHERE b.lat IS NOT NULL AND b.lon IS NOT NULL))[1] AS lat,
                      (array_agg(b.lon) FILTER (WHERE b.lat IS NOT NULL AND b.lon IS NOT NULL))[1] AS lon,
                      coalesce(jsonb_object_agg(field.key, field.value) FILTER (WHERE field.key IS NOT NULL), '{}') AS attributes
                 FROM ${batch} AS b LEFT JOIN LATERAL jsonb_each(b.attributes) AS field ON true
                GROUP BY b.user_id, b.place_id) AS incoming
        WHERE stored.user_id = incoming.user_id AND stored.place_id = incoming.place_id
          AND ((stored.name IS NULL AND incoming.name IS NOT NULL)
            OR (stored.address IS NULL AND incoming.address IS NOT NULL)
            OR ((stored.lat IS NULL OR stored.lon IS NULL) AND incoming.lat IS NOT NULL)
            OR incoming.attributes || stored.attributes <> stored.attributes)`,
    write(w, r, user) {
      w.row(8);
      w.uuid(user);
      w.text(r.placeId);
      w.text(r.source);
      w.text(r.name);
      w.text(r.address);
      w.float8(r.lat);
      w.float8(r.lon);
      w.jsonb(r.attributes ?? {});
    },
    time: () => null,
  },
  visit: {
    table: 'user_data.visits',
    timeColumn: null,
    columns: ['user_id', 'started_at', 'content_hash', 'ended_at', 'place_id', 'source', 'lat', 'lon', 'confidence', 'attributes',
      'import_file_id'],
    write(w, r, user, file) {
      w.row(11);
      w.uuid(user);
      w.timestamptz(r.startedAt);
      w.latin1(contentHash(r));
      w.timestamptz(r.endedAt);
      w.text(r.placeId);
      w.text(r.source);
      w.float8(r.lat);
      w.float8(r.lon);
      w.float4(r.confidence);
      w.jsonb(r.attributes ?? {});
      w.uuid(file);
    },
    time: () => null,
  },
  measurement: {
    table: 'timeseries.measurements',
    timeColumn: 'measured_at',
    columns: ['user_id', 'measured_at', 'content_hash', 'metric', 'value', 'unit', 'source', 'attributes', 'import_file_id', 'revision'],
    replace: { conflict: ['user_id', 'measured_at', 'content_hash'], columns: ['value', 'unit', 'attributes', 'import_file_id', 'revision'] },
    write(w, r, user, file) {
      w.row(10);
      w.uuid(user);
      w.timestamptz(r.measuredAt);
      w.latin1(contentHash(r));
      w.text(r.metric);
      w.float8(r.value);
      w.text(r.unit);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
      w.int8(r.revision);
    },
    time: (r) => r.measuredAt,
  },
  message: {
    table: 'user_data.messages',
    timeColumn: 'sent_at',
    columns: ['user_id', 'sent_at', 'content_hash', 'message_id', 'thread_id', 'in_reply_to', 'from_address', 'to_addresses',
      'cc_addresses', 'subject', 'body', 'labels', 'attachments', 'source', 'attributes', 'import_file_id'],
    write(w, r, user, file) {
      w.row(16);
      w.uuid(user);
      w.timestamptz(r.sentAt);
      w.latin1(contentHash(r));
      w.text(r.messageId);
      w.text(r.threadId);
      w.text(r.inReplyTo);
      w.text(r.from);
      w.textArray(r.to);
      w.textArray(r.cc);
      w.text(r.subject);
      w.text(r.body);
      w.textArray(r.labels);
      w.jsonb(r.attachments);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: (r) => r.sentAt,
  },
  contact: {
    table: 'user_data.contacts',
    timeColumn: null,
    columns: ['user_id', 'content_hash', 'uid', 'full_name', 'structured_name', 'emails', 'phones', 'organization', 'title', 'birthday',
      'addresses', 'notes', 'photo_uri', 'categories', 'source', 'attributes', 'import_file_id'],
    write(w, r, user, file) {
      w.row(17);
      w.uuid(user);
      w.latin1(contentHash(r));
      w.text(r.uid);
      w.text(r.fullName);
      w.jsonb(r.structuredName);
      w.textArray(r.emails);
      w.textArray(r.phones);
      w.text(r.organization);
      w.text(r.title);
      w.date(r.birthday);
      w.jsonb(r.addresses);
      w.text(r.notes);
      w.text(r.photoUri);
      w.textArray(r.categories);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: () => null,
  },
  calendar_event: {
    table: 'user_data.calendar_events',
    timeColumn: null,
    columns: ['user_id', 'starts_at', 'content_hash', 'uid', 'recurrence_id', 'summary', 'description', 'location', 'ends_at', 'all_day',
      'time_zone', 'status', 'organizer', 'attendees', 'rrule', 'calendar_name', 'source', 'attributes', 'import_file_id'],
    write(w, r, user, file) {
      w.row(19);
      w.uuid(user);
      w.timestamptz(r.startsAt);
      w.latin1(contentHash(r));
      w.text(r.uid);
      w.timestamptz(r.recurrenceId);
      w.text(r.summary);
      w.text(r.description);
      w.text(r.location);
      w.timestamptz(r.endsAt);
      w.bool(r.allDay);
      w.text(r.timeZone);
      w.text(r.status);
      w.text(r.organizer);
      w.jsonb(r.attendees);
      w.text(r.rrule);
      w.text(r.calendarName);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: () => null,
  },
  // Photos and videos (sources/formats/media/): keyed by content and by place in the export, not by a
  // content hash of the natural key; the merged columns of media are filled in after the import.
  media: {
    table: 'user_data.media',
    timeColumn: null,
    columns: ['user_id', 'sha256', 'mime_type', 'size_bytes', 'width', 'height', 'duration_s', 'camera_make', 'camera_model', 'orientation',
      'meta_taken_at', 'meta_utc_offset_minutes', 'meta_lat', 'meta_lon', 'meta_alt', 'meta_source', 'original_name', 'source', 'attributes',
      'import_file_id'],
    write(w, r, user, file) {
      w.row(20);
      w.uuid(user);
      w.hex(r.sha256);
      w.text(r.mimeType);
      w.int8(r.size);
      w.int8(r.width);
      w.int8(r.height);
      w.float8(r.durationS);
      w.text(r.cameraMake);
      w.text(r.cameraModel);
      w.int2(r.orientation);
      w.timestamptz(r.metaTakenAt);
      w.int2(r.metaUtcOffsetMinutes);
      w.float8(r.metaLat);
      w.float8(r.metaLon);
      w.float8(r.metaAlt);
      w.text(r.metaSource);
      w.text(r.originalName);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: () => null,
  },
  media_file: {
    table: 'user_data.media_files',
    timeColumn: null,
    columns: ['user_id', 'folder', 'file_name', 'sha256', 'pair_name', 'pair_dup', 'folder_kind', 'source', 'import_file_id'],
    write(w, r, user, file) {
      w.row(9);
      w.uuid(user);
      w.text(r.folder);
      w.text(r.fileName);
      w.hex(r.sha256);
      w.text(r.pairName);
      w.int2(r.pairDup);
      w.text(r.folderKind);
      w.text(r.source);
      w.uuid(file);
    },
    time: () => null,
  },
  media_sidecar: {
    table: 'user_data.media_sidecars',
    timeColumn: null,
    columns: ['user_id', 'folder', 'sidecar_name', 'pair_name', 'pair_dup', 'truncated', 'title', 'description', 'taken_at', 'created_at',
      'lat', 'lon', 'alt', 'exif_lat', 'exif_lon', 'exif_alt', 'people', 'favorited', 'url', 'source', 'attributes', 'import_file_id'],
    write(w, r, user, file) {
      w.row(22);
      w.uuid(user);
      w.text(r.folder);
      w.text(r.sidecarName);
      w.text(r.pairName);
      w.int2(r.pairDup);
      w.bool(r.truncated);
      w.text(r.title);
      w.text(r.description);
      w.timestamptz(r.takenAt);
      w.timestamptz(r.createdAt);
      w.float8(r.lat);
      w.float8(r.lon);
      w.float8(r.alt);
      w.float8(r.exifLat);
      w.float8(r.exifLon);
      w.float8(r.exifAlt);
      w.textArray(r.people);
      w.bool(r.favorited);
      w.text(r.url);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: () => null,
  },
  media_album: {
    table: 'user_data.media_albums',
    timeColumn: null,
    columns: ['user_id', 'folder', 'title', 'description', 'access', 'album_date', 'location', 'lat', 'lon', 'source', 'attributes',
      'import_file_id'],
    write(w, r, user, file) {
      w.row(12);
      w.uuid(user);
      w.text(r.folder);
      w.text(r.title);
      w.text(r.description);
      w.text(r.access);
      w.timestamptz(r.albumDate);
      w.text(r.location);
      w.float8(r.lat);
      w.float8(r.lon);
      w.text(r.source);
      w.jsonb(r.attributes, true);
      w.uuid(file);
    },
    time: () => null,
  },
};

/** The tables whose rows name the import file they came from. */
export const LOADED_TABLES: readonly string[] = Object.values(DESTINATIONS)
  .filter((d) => d.columns.includes('import_file_id'))
  .map((d) => d.table);
