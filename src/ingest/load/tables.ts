// Where each record type goes: its table, its columns, and how a record becomes a row. The
// content hash comes from the record's natural key, so the same record always gets the same hash.
import { hash } from 'node:crypto';
import type { LakeRecord } from '../records.js';
import { HexBytes, type CopyValue } from './copy-text.js';

export interface Destination<R extends LakeRecord = LakeRecord> {
  table: string;
  /** The time column of a time-partitioned table (partitions are ensured before loading). */
  timeColumn: string | null;
  columns: readonly string[];
  /** The row's values after user_id, in column order. */
  row(record: R, importFileId: string | null): CopyValue[];
  time(record: R): Date | null;
}

/** SHA-256 of the record's type, source and natural key. */
export function contentHash(record: LakeRecord): HexBytes {
  return new HexBytes(hash('sha256', JSON.stringify([record.type, record.source, ...record.key]), 'hex'));
}

const empty = (attributes: Record<string, unknown> | undefined) =>
  attributes && Object.keys(attributes).length > 0 ? attributes : null;

type DestinationMap = { [T in LakeRecord['type']]: Destination<Extract<LakeRecord, { type: T }>> };

export const DESTINATIONS: DestinationMap = {
  location_point: {
    table: 'timeseries.location_points',
    timeColumn: 'recorded_at',
    columns: ['user_id', 'recorded_at', 'content_hash', 'lat', 'lon', 'accuracy_m', 'altitude_m', 'velocity_mps', 'heading_deg',
      'activity', 'activity_confidence', 'device', 'source', 'attributes', 'import_file_id'],
    row: (r, file) => [r.recordedAt, contentHash(r), r.lat, r.lon, r.accuracyM, r.altitudeM, r.velocityMps, r.headingDeg,
      r.activity, r.activityConfidence, r.device, r.source, empty(r.attributes), file],
    time: (r) => r.recordedAt,
  },
  item: {
    table: 'user_data.items',
    timeColumn: 'occurred_at',
    columns: ['user_id', 'occurred_at', 'content_hash', 'utc_offset_minutes', 'kind', 'source', 'title', 'body', 'url', 'language',
      'lat', 'lon', 'attributes', 'import_file_id'],
    row: (r, file) => [r.occurredAt, contentHash(r), r.utcOffsetMinutes, r.kind, r.source, r.title, r.text, r.url, r.language,
      r.lat, r.lon, r.attributes ?? {}, file],
    time: (r) => r.occurredAt,
  },
  place: {
    table: 'user_data.places',
    timeColumn: null,
    columns: ['user_id', 'place_id', 'source', 'name', 'address', 'lat', 'lon', 'attributes'],
    row: (r) => [r.placeId, r.source, r.name, r.address, r.lat, r.lon, r.attributes ?? {}],
    time: () => null,
  },
  visit: {
    table: 'user_data.visits',
    timeColumn: null,
    columns: ['user_id', 'started_at', 'content_hash', 'ended_at', 'place_id', 'source', 'lat', 'lon', 'confidence', 'attributes',
      'import_file_id'],
    row: (r, file) => [r.startedAt, contentHash(r), r.endedAt, r.placeId, r.source, r.lat, r.lon, r.confidence, r.attributes ?? {}, file],
    time: () => null,
  },
  measurement: {
    table: 'timeseries.measurements',
    timeColumn: 'measured_at',
    columns: ['user_id', 'measured_at', 'content_hash', 'metric', 'value', 'unit', 'source', 'attributes', 'import_file_id'],
    row: (r, file) => [r.measuredAt, contentHash(r), r.metric, r.value, r.unit, r.source, empty(r.attributes), file],
    time: (r) => r.measuredAt,
  },
};
