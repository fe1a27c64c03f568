// Google Location History `Records.json` (named `Location History.json` before ~2019, localized in
// some languages): `{"locations": [ {...}, ... ]}`, one GPS fix per element. The largest Takeout
// file by far (GBs), so this is the hot path of the JSON layer.
//
// Reads: `timestampMs` (epoch ms string, old schema; a value before 1971, epoch seconds written
// there, is refused) or `timestamp` (new schema: ISO with or without fractions, and the other
// spellings the Timeline files use and tools re-save Records.json with, epoch-ms text
// `"1735732802000"` and `"2017-12-10 23:15:03 +0000"`: parseTimelineInstant);
// latitudeE7/longitudeE7 (with the unsigned-overflow quirk of old exports; out of range refused
// here, naming the raw E7 value);
// accuracy, altitude, velocity, heading → columns; verticalAccuracy, source, platformType,
// deviceTimestamp... → attributes; activity[] → the most confident type of the first entry as the
// point's activity, all entries compactly in attributes; deviceTag → device, every digit of a
// 64-bit tag kept (the scanner hands it over as `"<digits>n"`, see exactIntegerMembers).
// Deliberately not kept: the access point lists of `activeWifiScan` (only their count).
import type { LocationPointRecord, ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { LOCATION_RECORDS } from './entries.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import {
  dateFromEpochMillisField,
  describeTimestampFields,
  e7RangeProblem,
  type Instant,
  isObject,
  latitudeFromE7,
  longitudeFromE7,
  numberOf,
} from '../takeout-values.js';
import { parseTimelineInstant } from './timeline-times.js';

export const LOCATION_RECORDS_SOURCE_ID = LOCATION_RECORDS.id;

/** Members that become columns (or are summarized); everything else goes to attributes as is. */
const MAPPED = new Set([
  'timestampMs',
  'timestamp',
  'latitudeE7',
  'longitudeE7',
  'accuracy',
  'altitude',
  'velocity',
  'heading',
  'deviceTag',
  'activity',
  'verticalAccuracy',
  'activeWifiScan',
]);

export interface ActivitySummary {
  /** Most confident type of the first activity entry. */
  type: string | null;
  confidence: number | null;
  /** Every entry: when, and each type's confidence (the highest when a type repeats). */
  entries: { at: string | null; types: Record<string, number> }[];
}

/** Reads the nested `activity: [{timestamp(Ms), activity: [{type, confidence}]}]` of a fix. */
export function summarizeActivity(value: unknown): ActivitySummary | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const summary: ActivitySummary = { type: null, confidence: null, entries: [] };
  for (const entry of value) {
    if (!isObject(entry)) continue;
    const types: Record<string, number> = {};
    let bestType: string | null = null;
    let bestConfidence = -Infinity;
    for (const candidate of Array.isArray(entry.activity) ? entry.activity : []) {
      if (!isObject(candidate) || typeof candidate.type !== 'string') continue;
      const confidence = numberOf(candidate.confidence) ?? 0;
      if (!(candidate.type in types) || types[candidate.type]! < confidence) types[candidate.type] = confidence;
      if (confidence > bestConfidence) {
        bestConfidence = confidence;
        bestType = candidate.type;
      }
    }
    const at = recordInstant(entry)?.date.toISOString() ?? null;
    if (summary.entries.length === 0 && bestType !== null) {
      summary.type = bestType;
      summary.confidence = bestConfidence;
    }
    summary.entries.push({ at, types });
  }
  return summary;
}

/**
 * The instant of a fix (or of an activity entry): `timestampMs` as epoch milliseconds from 1971 on
 * (a smaller value is epoch seconds in the wrong field and refused, see EARLIEST_EPOCH_MS in
 * takeout-values.ts), else `timestamp` in any spelling the Timeline files accept
 * (parseTimelineInstant): ISO with an offset, epoch-ms text of 12-13 digits, the spaced
 * `2017-12-10 23:15:03 +0000`. Tools that re-save Records.json write the latter two; Google's own
 * files write ISO, read by the same fast path as before. `timestampMs` itself takes no text.
 */
function recordInstant(holder: Record<string, unknown>): Instant | null {
  const date = dateFromEpochMillisField(holder.timestampMs);
  return date ? { date, utcOffsetMinutes: null } : parseTimelineInstant(holder.timestamp);
}

const WIDE_INTEGER = /^-?\d+n$/;

/**
 * The device a fix came from: the tag exactly as written, and the spelling the key uses. A 64-bit
 * tag (`"-8024144696862913506n"` from the scanner) keys as the double JSON.parse made of it before
 * its digits were kept (`-8024144696862914000`), so that points imported then hash as they did.
 */
export function deviceOf(tag: unknown): { device: string | null; deviceKey: string | null } {
  if (typeof tag === 'number') return { device: String(tag), deviceKey: String(tag) };
  if (typeof tag !== 'string') return { device: null, deviceKey: null };
  if (!WIDE_INTEGER.test(tag)) return { device: tag, deviceKey: tag };
  const digits = tag.slice(0, -1);
  return { device: digits, deviceKey: String(Number(digits)) };
}

/** `plainAscii`: the element's strings are all plain ASCII; the point's are then too (its own are ASCII constants and ISO times). */
export function locationPointFromRecord(value: unknown, offset: number, plainAscii = false): ParseEvent {
  if (!isObject(value)) return rejectValue('invalid', 'a "locations" element that is not an object', offset, value);
  const instant = recordInstant(value);
  if (!instant) {
    return rejectValue('invalid', `location without a readable timestamp (${describeTimestampFields(value, 'timestampMs', 'timestamp')})`, offset, value);
  }
  const lat = latitudeFromE7(value.latitudeE7);
  const lon = longitudeFromE7(value.longitudeE7);
  if (lat === null || lon === null) {
    return rejectValue('invalid', 'location without integer latitudeE7/longitudeE7', offset, value);
  }
  const outOfRange = e7RangeProblem(value.latitudeE7, value.longitudeE7, lat, lon);
  if (outOfRange !== null) return rejectValue('invalid', `location ${outOfRange}`, offset, value);
  let attributes: Record<string, unknown> | undefined;
  for (const key in value) {
    if (MAPPED.has(key)) continue;
    (attributes ??= {})[key] = value[key];
  }
  const verticalAccuracy = numberOf(value.verticalAccuracy);
  if (verticalAccuracy !== null) (attributes ??= {}).verticalAccuracyM = verticalAccuracy;
  if (isObject(value.activeWifiScan)) {
    const accessPoints = value.activeWifiScan.accessPoints;
    (attributes ??= {}).activeWifiScanAccessPoints = Array.isArray(accessPoints) ? accessPoints.length : 0;
  }
  const activity = summarizeActivity(value.activity);
  if (activity) (attributes ??= {}).activities = activity.entries;
  const { device, deviceKey } = deviceOf(value.deviceTag);
  const accuracyM = numberOf(value.accuracy);
  const record: LocationPointRecord = {
    type: 'location_point',
    source: LOCATION_RECORDS_SOURCE_ID,
    // Same instant, position, accuracy and device: the same fix, whichever schema spelled it.
    key: [instant.date.getTime(), value.latitudeE7 as number, value.longitudeE7 as number, accuracyM, deviceKey],
    recordedAt: instant.date,
    lat,
    lon,
    accuracyM,
    altitudeM: numberOf(value.altitude),
    velocityMps: numberOf(value.velocity),
    headingDeg: numberOf(value.heading),
    activity: activity?.type ?? null,
    activityConfidence: activity?.confidence ?? null,
    device,
  };
  if (attributes) record.attributes = attributes;
  return emit(record, offset, plainAscii);
}

export const locationRecordsSource: Source = defineSource(LOCATION_RECORDS, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: ['locations'] }],
      expected: '"locations" array',
      exactIntegerMembers: ['deviceTag'],
      onElement: (value, at, out) => out.push(locationPointFromRecord(value, at.offset, at.plainAscii)),
    });
  },
});
