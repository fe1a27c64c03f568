// Where each record type goes: its table, its columns, and how a record becomes a binary COPY row.
// The content hash comes from the record's natural key, so the same record always gets the same hash.
//
// Each table is declared by one list of columns, each with how its value is written and from which
// field of the record; the column names COPY is given and the function writing a row are both
// made from that list, so their order and count cannot drift apart. The writer is generated once
// per table, as straight-line code (`w.text(r.title); ...`) like the hand-written ones it replaces:
// a loop over the list per row would make every field a call through a megamorphic site, on the
// path every record takes.
import { hash } from 'node:crypto';
import type { LakeRecord } from '../records.js';
import type { Transaction } from '../../db/database.js';
import type { CopyBinaryWriter } from './copy-binary.js';
import { dropSameFixes, SAME_FIX_WITHIN_MS } from './same-fix.js';

export interface Destination<R extends LakeRecord = LakeRecord> {
  table: string;
  /** The time column of a time-partitioned table (partitions are ensured before loading). */
  timeColumn: string | null;
  /** The columns of a row, in the order `write` writes them. */
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
 * byte) for CopyBinaryWriter.latin1: a Buffer per record cost more than the hash itself.
 */
export function contentHash(record: LakeRecord): string {
  return hash('sha256', JSON.stringify([record.type, record.source, ...record.key]), 'binary');
}

/** The fields of R whose values are V (or absent): what a column of V's type may be read from. */
type FieldOf<R, V> = { [K in keyof R]-?: R[K] extends V | null | undefined ? K : never }[keyof R] & string;

type Json = Record<string, unknown> | readonly unknown[];

/**
 * One column: its name, how its value is written (a CopyBinaryWriter method, which fixes the
 * column's type: `hex` is bytea from hex digits, `text[]` is textArray) and the record field it is
 * read from. A timestamptz may name a second field, its microseconds past the millisecond. A jsonb
 * may say `empty as NULL` (`{}` is stored as NULL) or `absent as {}` (NULL is stored as `{}`).
 * The rest are not the record's: the importing user, the import file, the content hash of the
 * record's natural key, a new random uuid.
 */
type Column<R> =
  | readonly [name: string, type: 'text' | 'hex' | 'date', field: FieldOf<R, string>]
  | readonly [name: string, type: 'int2' | 'int8' | 'float4' | 'float8', field: FieldOf<R, number>]
  | readonly [name: string, type: 'bool', field: FieldOf<R, boolean>]
  | readonly [name: string, type: 'timestamptz', field: FieldOf<R, Date>, micros?: FieldOf<R, number>]
  | readonly [name: string, type: 'text[]', field: FieldOf<R, readonly string[]>]
  | readonly [name: string, type: 'jsonb', field: FieldOf<R, Json>, stored?: 'empty as NULL' | 'absent as {}']
  | readonly [name: string, type: 'user' | 'import file' | 'content hash' | 'random uuid'];

/** A destination as declared: its columns as a list of Column, from which `columns` and `write` are made. */
type Declared<R extends LakeRecord> = Omit<Destination<R>, 'columns' | 'write'> & { columns: readonly Column<R>[] };

type DestinationMap = { [T in LakeRecord['type']]: Destination<Extract<LakeRecord, { type: T }>> };
type DeclaredMap = { [T in LakeRecord['type']]: Declared<Extract<LakeRecord, { type: T }>> };

const DECLARED: DeclaredMap = {
  blob_ref: {
    table: 'user_data.blob_refs',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['sha256', 'hex', 'sha256'],
      ['size_bytes', 'int8', 'size'],
      ['mime_type', 'text', 'mimeType'],
      ['original_name', 'text', 'originalName'],
      ['source', 'text', 'source'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  document: {
    table: 'user_data.documents',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['content_hash', 'content hash'],
      ['sha256', 'hex', 'sha256'],
      ['path', 'text', 'path'],
      ['kind', 'text', 'kind'],
      ['mime_type', 'text', 'mimeType'],
      ['mime_from_name', 'text', 'mimeFromName'],
      ['size_bytes', 'int8', 'size'],
      ['title', 'text', 'title'],
      ['body', 'text', 'text'],
      ['language', 'text', 'language'],
      ['metadata', 'jsonb', 'metadata'],
      ['pii', 'jsonb', 'pii'],
      ['extraction', 'text', 'extraction'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  location_point: {
    table: 'timeseries.location_points',
    timeColumn: 'recorded_at',
    columns: [
      ['user_id', 'user'],
      ['recorded_at', 'timestamptz', 'recordedAt'],
      ['content_hash', 'content hash'],
      ['lat', 'float8', 'lat'],
      ['lon', 'float8', 'lon'],
      ['accuracy_m', 'float4', 'accuracyM'],
      ['altitude_m', 'float4', 'altitudeM'],
      ['velocity_mps', 'float4', 'velocityMps'],
      ['heading_deg', 'float4', 'headingDeg'],
      ['activity', 'text', 'activity'],
      ['activity_confidence', 'int2', 'activityConfidence'],
      ['device', 'text', 'device'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: (r) => r.recordedAt,
    // The same fix from another export: a duplicate though its key differs.
    dropDuplicates: { withinMs: SAME_FIX_WITHIN_MS, drop: dropSameFixes },
    deriveBucketMs: 3_600_000,
    // Tables derived from the points, from each hour's first point (deriveBucketMs):
    // - each hour's first point (migration 0014), for maps of long ranges: the batch's heads
    //   replace stored ones they precede. A point heads its hour when the one before it (lag) is
    //   of another hour: read back in primary key order after a direct COPY, that needs no sort.
    // - the days touched, marked stale in location_tiles (migration 0024): counted again from the
    //   points when the import ends or a tile is read (an hour lies within its UTC day, so the
    //   hours' heads name every day of the batch).
    derive: (batch) =>
      `WITH hours AS (
         INSERT INTO timeseries.location_hours AS stored (user_id, hour, recorded_at, content_hash, lat, lon, accuracy_m, altitude_m,
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
          WHERE (excluded.recorded_at, excluded.content_hash) < (stored.recorded_at, stored.content_hash))
       INSERT INTO timeseries.location_tiles_stale (user_id, day)
       SELECT DISTINCT user_id, date_trunc('day', recorded_at, 'UTC') FROM ${batch}
       ON CONFLICT DO NOTHING`,
  },
  item: {
    table: 'user_data.items',
    timeColumn: 'occurred_at',
    columns: [
      ['user_id', 'user'],
      ['occurred_at', 'timestamptz', 'occurredAt', 'occurredAtMicros'],
      ['content_hash', 'content hash'],
      ['utc_offset_minutes', 'int2', 'utcOffsetMinutes'],
      ['kind', 'text', 'kind'],
      ['source', 'text', 'source'],
      ['title', 'text', 'title'],
      ['body', 'text', 'text'],
      ['url', 'text', 'url'],
      ['language', 'text', 'language'],
      ['lat', 'float8', 'lat'],
      ['lon', 'float8', 'lon'],
      ['attributes', 'jsonb', 'attributes', 'absent as {}'],
      ['import_file_id', 'import file'],
      ['revision', 'int8', 'revision'],
      // A random id (migration 0018); a duplicate's is dropped with it, and a newer revision keeps the stored row's.
      ['item_id', 'random uuid'],
    ],
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
    time: (r) => r.occurredAt,
  },
  place: {
    table: 'user_data.places',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['place_id', 'text', 'placeId'],
      ['source', 'text', 'source'],
      ['name', 'text', 'name'],
      ['address', 'text', 'address'],
      ['lat', 'float8', 'lat'],
      ['lon', 'float8', 'lon'],
      ['attributes', 'jsonb', 'attributes', 'absent as {}'],
    ],
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
    time: () => null,
  },
  visit: {
    table: 'user_data.visits',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['started_at', 'timestamptz', 'startedAt'],
      ['content_hash', 'content hash'],
      ['ended_at', 'timestamptz', 'endedAt'],
      ['place_id', 'text', 'placeId'],
      ['source', 'text', 'source'],
      ['lat', 'float8', 'lat'],
      ['lon', 'float8', 'lon'],
      ['confidence', 'float4', 'confidence'],
      ['attributes', 'jsonb', 'attributes', 'absent as {}'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  measurement: {
    table: 'timeseries.measurements',
    timeColumn: 'measured_at',
    columns: [
      ['user_id', 'user'],
      ['measured_at', 'timestamptz', 'measuredAt'],
      ['content_hash', 'content hash'],
      ['metric', 'text', 'metric'],
      ['value', 'float8', 'value'],
      ['unit', 'text', 'unit'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
      ['revision', 'int8', 'revision'],
    ],
    replace: { conflict: ['user_id', 'measured_at', 'content_hash'], columns: ['value', 'unit', 'attributes', 'import_file_id', 'revision'] },
    time: (r) => r.measuredAt,
  },
  message: {
    table: 'user_data.messages',
    timeColumn: 'sent_at',
    columns: [
      ['user_id', 'user'],
      ['sent_at', 'timestamptz', 'sentAt'],
      ['content_hash', 'content hash'],
      ['message_id', 'text', 'messageId'],
      ['thread_id', 'text', 'threadId'],
      ['in_reply_to', 'text', 'inReplyTo'],
      ['from_address', 'text', 'from'],
      ['to_addresses', 'text[]', 'to'],
      ['cc_addresses', 'text[]', 'cc'],
      ['subject', 'text', 'subject'],
      ['body', 'text', 'body'],
      ['labels', 'text[]', 'labels'],
      ['attachments', 'jsonb', 'attachments'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: (r) => r.sentAt,
  },
  contact: {
    table: 'user_data.contacts',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['content_hash', 'content hash'],
      ['uid', 'text', 'uid'],
      ['full_name', 'text', 'fullName'],
      ['structured_name', 'jsonb', 'structuredName'],
      ['emails', 'text[]', 'emails'],
      ['phones', 'text[]', 'phones'],
      ['organization', 'text', 'organization'],
      ['title', 'text', 'title'],
      ['birthday', 'date', 'birthday'],
      ['addresses', 'jsonb', 'addresses'],
      ['notes', 'text', 'notes'],
      ['photo_uri', 'text', 'photoUri'],
      ['categories', 'text[]', 'categories'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  calendar_event: {
    table: 'user_data.calendar_events',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['starts_at', 'timestamptz', 'startsAt'],
      ['content_hash', 'content hash'],
      ['uid', 'text', 'uid'],
      ['recurrence_id', 'timestamptz', 'recurrenceId'],
      ['summary', 'text', 'summary'],
      ['description', 'text', 'description'],
      ['location', 'text', 'location'],
      ['ends_at', 'timestamptz', 'endsAt'],
      ['all_day', 'bool', 'allDay'],
      ['time_zone', 'text', 'timeZone'],
      ['status', 'text', 'status'],
      ['organizer', 'text', 'organizer'],
      ['attendees', 'jsonb', 'attendees'],
      ['rrule', 'text', 'rrule'],
      ['calendar_name', 'text', 'calendarName'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  // Photos and videos (sources/formats/media/): keyed by content and by place in the export, not by a
  // content hash of the natural key; the merged columns of media are filled in after the import.
  media: {
    table: 'user_data.media',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['sha256', 'hex', 'sha256'],
      ['mime_type', 'text', 'mimeType'],
      ['size_bytes', 'int8', 'size'],
      ['width', 'int8', 'width'],
      ['height', 'int8', 'height'],
      ['duration_s', 'float8', 'durationS'],
      ['camera_make', 'text', 'cameraMake'],
      ['camera_model', 'text', 'cameraModel'],
      ['orientation', 'int2', 'orientation'],
      ['meta_taken_at', 'timestamptz', 'metaTakenAt'],
      ['meta_utc_offset_minutes', 'int2', 'metaUtcOffsetMinutes'],
      ['meta_lat', 'float8', 'metaLat'],
      ['meta_lon', 'float8', 'metaLon'],
      ['meta_alt', 'float8', 'metaAlt'],
      ['meta_source', 'text', 'metaSource'],
      ['original_name', 'text', 'originalName'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  media_file: {
    table: 'user_data.media_files',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['folder', 'text', 'folder'],
      ['file_name', 'text', 'fileName'],
      ['sha256', 'hex', 'sha256'],
      ['pair_name', 'text', 'pairName'],
      ['pair_dup', 'int2', 'pairDup'],
      ['folder_kind', 'text', 'folderKind'],
      ['source', 'text', 'source'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  media_sidecar: {
    table: 'user_data.media_sidecars',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['folder', 'text', 'folder'],
      ['sidecar_name', 'text', 'sidecarName'],
      ['pair_name', 'text', 'pairName'],
      ['pair_dup', 'int2', 'pairDup'],
      ['truncated', 'bool', 'truncated'],
      ['title', 'text', 'title'],
      ['description', 'text', 'description'],
      ['taken_at', 'timestamptz', 'takenAt'],
      ['created_at', 'timestamptz', 'createdAt'],
      ['lat', 'float8', 'lat'],
      ['lon', 'float8', 'lon'],
      ['alt', 'float8', 'alt'],
      ['exif_lat', 'float8', 'exifLat'],
      ['exif_lon', 'float8', 'exifLon'],
      ['exif_alt', 'float8', 'exifAlt'],
      ['people', 'text[]', 'people'],
      ['favorited', 'bool', 'favorited'],
      ['url', 'text', 'url'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
  media_album: {
    table: 'user_data.media_albums',
    timeColumn: null,
    columns: [
      ['user_id', 'user'],
      ['folder', 'text', 'folder'],
      ['title', 'text', 'title'],
      ['description', 'text', 'description'],
      ['access', 'text', 'access'],
      ['album_date', 'timestamptz', 'albumDate'],
      ['location', 'text', 'location'],
      ['lat', 'float8', 'lat'],
      ['lon', 'float8', 'lon'],
      ['source', 'text', 'source'],
      ['attributes', 'jsonb', 'attributes', 'empty as NULL'],
      ['import_file_id', 'import file'],
    ],
    time: () => null,
  },
};

/** What a record field or a record type must look like to be written into a generated writer. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const DESTINATIONS = Object.fromEntries(
  Object.entries(DECLARED).map(([type, declared]) => [type, destination(type, declared as Declared<LakeRecord>)]),
) as DestinationMap;

function destination(type: string, declared: Declared<LakeRecord>): Destination {
  return { ...declared, columns: declared.columns.map(([name]) => name), write: rowWriter(type, declared.columns) };
}

/**
 * The function writing a row of these columns, compiled from their list: the same code a
 * hand-written writer would be (a call per column, the fields read by name), with no list to walk
 * and nothing allocated per row.
 */
function rowWriter(type: string, columns: readonly Column<LakeRecord>[]): Destination['write'] {
  const field = (name: string | undefined): string => {
    if (name === undefined || !IDENTIFIER.test(name)) throw new Error(`${type}: not a record field: ${String(name)}`);
    return `r.${name}`;
  };
  const statements = columns.map((column) => {
    const [, how, from, option] = column;
    switch (how) {
      case 'user':
        return 'w.uuid(user);';
      case 'import file':
        return 'w.uuid(file);';
      case 'content hash':
        return 'w.latin1(contentHash(r));';
      case 'random uuid':
        return 'w.randomUuid();';
      case 'timestamptz':
        return option === undefined ? `w.timestamptz(${field(from)});` : `w.timestamptz(${field(from)}, ${field(option)});`;
      case 'jsonb':
        if (option === 'empty as NULL') return `w.jsonb(${field(from)}, true);`;
        if (option === 'absent as {}') return `w.jsonb(${field(from)} ?? {});`;
        return `w.jsonb(${field(from)});`;
      case 'text[]':
        return `w.textArray(${field(from)});`;
      default:
        return `w.${how}(${field(from)});`;
    }
  });
  if (!IDENTIFIER.test(type)) throw new Error(`not a record type: ${type}`);
  const source = `'use strict';\nreturn function write_${type}(w, r, user, file) {\n  w.row(${columns.length});\n  ${statements.join('\n  ')}\n};`;
  return new Function('contentHash', source)(contentHash);
}

/** The tables whose rows name the import file they came from. */
export const LOADED_TABLES: readonly string[] = Object.values(DESTINATIONS)
  .filter((d) => d.columns.includes('import_file_id'))
  .map((d) => d.table);
