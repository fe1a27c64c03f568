// Where each record type goes: its table, its columns, and how a record becomes a row. The
// content hash comes from the record's natural key, so the same record always gets the same hash.
import { hash } from 'node:crypto';
import type { LakeRecord } from '../records.js';
import { hex, json, num, text, textArray, time } from './copy-text.js';

export interface Destination<R extends LakeRecord = LakeRecord> {
  table: string;
  /** The time column of a time-partitioned table (partitions are ensured before loading). */
  timeColumn: string | null;
  columns: readonly string[];
  /** The record as one line of COPY text, in column order. */
  line(record: R, userId: string, importFileId: string): string;
  time(record: R): Date | null;
}

/** SHA-256 (hex) of the record's type, source and natural key. */
export function contentHash(record: LakeRecord): string {
  return hash('sha256', JSON.stringify([record.type, record.source, ...record.key]), 'hex');
}

type DestinationMap = { [T in LakeRecord['type']]: Destination<Extract<LakeRecord, { type: T }>> };

// `file` below is already COPY text: a uuid, or \N.
export const DESTINATIONS: DestinationMap = {
  blob_ref: {
    table: 'user_data.blob_refs',
    timeColumn: null,
    columns: ['user_id', 'sha256', 'size_bytes', 'mime_type', 'original_name', 'source', 'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${hex(r.sha256)}\t${num(r.size)}\t${text(r.mimeType)}\t${text(r.originalName)}\t${text(r.source)}\t${file}\n`,
    time: () => null,
  },
  location_point: {
    table: 'timeseries.location_points',
    timeColumn: 'recorded_at',
    columns: ['user_id', 'recorded_at', 'content_hash', 'lat', 'lon', 'accuracy_m', 'altitude_m', 'velocity_mps', 'heading_deg',
      'activity', 'activity_confidence', 'device', 'source', 'attributes', 'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${time(r.recordedAt)}\t${hex(contentHash(r))}\t${num(r.lat)}\t${num(r.lon)}\t${num(r.accuracyM)}\t${num(r.altitudeM)}\t` +
      `${num(r.velocityMps)}\t${num(r.headingDeg)}\t${text(r.activity)}\t${num(r.activityConfidence)}\t${text(r.device)}\t` +
      `${text(r.source)}\t${json(r.attributes, true)}\t${file}\n`,
    time: (r) => r.recordedAt,
  },
  item: {
    table: 'user_data.items',
    timeColumn: 'occurred_at',
    columns: ['user_id', 'occurred_at', 'content_hash', 'utc_offset_minutes', 'kind', 'source', 'title', 'body', 'url', 'language',
      'lat', 'lon', 'attributes', 'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${time(r.occurredAt)}\t${hex(contentHash(r))}\t${num(r.utcOffsetMinutes)}\t${text(r.kind)}\t${text(r.source)}\t` +
      `${text(r.title)}\t${text(r.text)}\t${text(r.url)}\t${text(r.language)}\t${num(r.lat)}\t${num(r.lon)}\t` +
      `${json(r.attributes ?? {})}\t${file}\n`,
    time: (r) => r.occurredAt,
  },
  place: {
    table: 'user_data.places',
    timeColumn: null,
    columns: ['user_id', 'place_id', 'source', 'name', 'address', 'lat', 'lon', 'attributes'],
    line: (r, user) =>
      `${user}\t${text(r.placeId)}\t${text(r.source)}\t${text(r.name)}\t${text(r.address)}\t${num(r.lat)}\t${num(r.lon)}\t` +
      `${json(r.attributes ?? {})}\n`,
    time: () => null,
  },
  visit: {
    table: 'user_data.visits',
    timeColumn: null,
    columns: ['user_id', 'started_at', 'content_hash', 'ended_at', 'place_id', 'source', 'lat', 'lon', 'confidence', 'attributes',
      'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${time(r.startedAt)}\t${hex(contentHash(r))}\t${time(r.endedAt)}\t${text(r.placeId)}\t${text(r.source)}\t` +
      `${num(r.lat)}\t${num(r.lon)}\t${num(r.confidence)}\t${json(r.attributes ?? {})}\t${file}\n`,
    time: () => null,
  },
  measurement: {
    table: 'timeseries.measurements',
    timeColumn: 'measured_at',
    columns: ['user_id', 'measured_at', 'content_hash', 'metric', 'value', 'unit', 'source', 'attributes', 'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${time(r.measuredAt)}\t${hex(contentHash(r))}\t${text(r.metric)}\t${num(r.value)}\t${text(r.unit)}\t` +
      `${text(r.source)}\t${json(r.attributes, true)}\t${file}\n`,
    time: (r) => r.measuredAt,
  },
  message: {
    table: 'user_data.messages',
    timeColumn: 'sent_at',
    columns: ['user_id', 'sent_at', 'content_hash', 'message_id', 'thread_id', 'in_reply_to', 'from_address', 'to_addresses',
      'cc_addresses', 'subject', 'body', 'labels', 'attachments', 'source', 'attributes', 'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${time(r.sentAt)}\t${hex(contentHash(r))}\t${text(r.messageId)}\t${text(r.threadId)}\t${text(r.inReplyTo)}\t` +
      `${text(r.from)}\t${textArray(r.to)}\t${textArray(r.cc)}\t${text(r.subject)}\t${text(r.body)}\t${textArray(r.labels)}\t` +
      `${json(r.attachments)}\t${text(r.source)}\t${json(r.attributes, true)}\t${file}\n`,
    time: (r) => r.sentAt,
  },
  contact: {
    table: 'user_data.contacts',
    timeColumn: null,
    columns: ['user_id', 'content_hash', 'uid', 'full_name', 'structured_name', 'emails', 'phones', 'organization', 'title', 'birthday',
      'addresses', 'notes', 'photo_uri', 'categories', 'source', 'attributes', 'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${hex(contentHash(r))}\t${text(r.uid)}\t${text(r.fullName)}\t${json(r.structuredName)}\t${textArray(r.emails)}\t` +
      `${textArray(r.phones)}\t${text(r.organization)}\t${text(r.title)}\t${text(r.birthday)}\t${json(r.addresses)}\t${text(r.notes)}\t` +
      `${text(r.photoUri)}\t${textArray(r.categories)}\t${text(r.source)}\t${json(r.attributes, true)}\t${file}\n`,
    time: () => null,
  },
  calendar_event: {
    table: 'user_data.calendar_events',
    timeColumn: null,
    columns: ['user_id', 'starts_at', 'content_hash', 'uid', 'recurrence_id', 'summary', 'description', 'location', 'ends_at', 'all_day',
      'time_zone', 'status', 'organizer', 'attendees', 'rrule', 'calendar_name', 'source', 'attributes', 'import_file_id'],
    line: (r, user, file) =>
      `${user}\t${time(r.startsAt)}\t${hex(contentHash(r))}\t${text(r.uid)}\t${time(r.recurrenceId)}\t${text(r.summary)}\t` +
      `${text(r.description)}\t${text(r.location)}\t${time(r.endsAt)}\t${r.allDay ? 't' : 'f'}\t${text(r.timeZone)}\t${text(r.status)}\t` +
      `${text(r.organizer)}\t${json(r.attendees)}\t${text(r.rrule)}\t${text(r.calendarName)}\t${text(r.source)}\t` +
      `${json(r.attributes, true)}\t${file}\n`,
    time: () => null,
  },
};

/** The tables whose rows name the import file they came from. */
export const LOADED_TABLES: readonly string[] = Object.values(DESTINATIONS)
  .filter((d) => d.columns.includes('import_file_id'))
  .map((d) => d.table);
