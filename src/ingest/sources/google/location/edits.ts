// Google Location History `Timeline Edits.json` (Takeout's Location History folder, 2024):
// `{"timelineEdits": [ {deviceId, rawSignal?, placeAggregates?}, ... ]}`, the device-side
// signals and place statistics behind the Timeline (published shape: locationhistoryformat.com,
// TimelineEdits.schema.json). deviceId is kept exactly as written (a 64-bit integer keeps every
// digit): a point's device, attributes.device of the other records.
//
//   rawSignal.signal.position       → a LocationPointRecord: point.latE7/lngE7, timestamp,
//                                     accuracyMm → accuracyM (metres), altitudeMeters,
//                                     speedMetersPerSecond; source, additionalTimestamp and
//                                     metadata.platform in attributes.
//   rawSignal.signal.activityRecord → an ItemRecord of kind `activity_detected`, as the on-device
//                                     Timeline's (ondevice.ts): title the most probable
//                                     detectedActivities type, every candidate in attributes.
//   rawSignal.signal.wifiScan       → a MeasurementRecord `wifi_access_points` (how many were
//                                     heard, strongest and weakest rawRssi); the MAC addresses
//                                     are not kept, as for the on-device Timeline.
//   placeAggregates                 → a PlaceRecord per placeId of placeAggregateInfo (once per
//                                     file), at its placePoint (else its point). The scores and
//                                     processing windows, statistics of one computation, are
//                                     not kept.
// Any other member or signal kind has no record type: reported as `unsupported` once per kind,
// with its count and first offset.
import type { LocationPointRecord, ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { LOCATION_EDITS } from './entries.js';
import { deviceOf } from './records.js';
import { emit, parseJsonSource, rejectValue, SkippedKinds } from '../json-source.js';
import { arrayOf, isObject, latLonFromE7, numberOf, stringOf } from '../takeout-values.js';
import { parseTimelineInstant } from './timeline-times.js';

export const TIMELINE_EDITS_SOURCE_ID = LOCATION_EDITS.id;

class TimelineEditsReader {
  private readonly placesSeen = new Set<string>();
  readonly skipped = new SkippedKinds();

  onElement(value: unknown, offset: number, out: ParseEvent[]): void {
    if (!isObject(value)) {
      out.push(rejectValue('invalid', 'a "timelineEdits" element that is not an object', offset, value));
      return;
    }
    for (const member in value) {
      if (member === 'deviceId') continue;
      if (member === 'rawSignal') this.rawSignal(value.rawSignal, value.deviceId, offset, out);
      else if (member === 'placeAggregates') this.placeAggregates(value.placeAggregates, offset, out);
      else this.skipped.add(`timelineEdits ${member}`, offset);
    }
  }

  private rawSignal(rawSignal: unknown, deviceId: unknown, offset: number, out: ParseEvent[]): void {
    const signal = isObject(rawSignal) ? rawSignal.signal : undefined;
    if (!isObject(rawSignal) || !isObject(signal)) {
      out.push(rejectValue('invalid', 'rawSignal without a "signal" object', offset, rawSignal));
      return;
    }
    // Exact digits in keys too: this source has no rows hashed from a rounded tag to stay equal to.
    const device = deviceOf(deviceId).device;
    for (const kind in signal) {
      const content = signal[kind];
      if (!isObject(content)) {
        out.push(rejectValue('invalid', `rawSignal ${kind} is not an object`, offset, rawSignal));
      } else if (kind === 'position') {
        position(content, rawSignal, device, offset, out);
      } else if (kind === 'activityRecord') {
        activityRecord(content, device, offset, out);
      } else if (kind === 'wifiScan') {
        wifiScan(content, device, offset, out);
      } else {
        this.skipped.add(`rawSignal ${kind}`, offset);
      }
    }
  }

  private placeAggregates(aggregates: unknown, offset: number, out: ParseEvent[]): void {
    if (!isObject(aggregates)) {
      out.push(rejectValue('invalid', 'placeAggregates is not an object', offset, aggregates));
      return;
    }
    for (const info of arrayOf(aggregates.placeAggregateInfo)) {
      const placeId = isObject(info) ? stringOf(info.placeId) : null;
      if (!isObject(info) || placeId === null) {
        out.push(rejectValue('invalid', 'placeAggregateInfo entry without a placeId', offset, info));
        continue;
      }
      if (this.placesSeen.has(placeId)) continue;
      this.placesSeen.add(placeId);
      const position = latLonFromE7(info.placePoint, 'latE7', 'lngE7') ?? latLonFromE7(info.point, 'latE7', 'lngE7');
      out.push(emit({ type: 'place', source: TIMELINE_EDITS_SOURCE_ID, key: [placeId], placeId, lat: position?.lat ?? null, lon: position?.lon ?? null }, offset));
    }
  }
}

type Device = string | null;

function position(position: Record<string, unknown>, rawSignal: Record<string, unknown>, device: Device, offset: number, out: ParseEvent[]): void {
  const instant = parseTimelineInstant(position.timestamp);
  const point = latLonFromE7(position.point, 'latE7', 'lngE7');
  if (!instant || !point) {
    out.push(rejectValue('invalid', `rawSignal position without a readable point (latE7/lngE7) or timestamp (${JSON.stringify(position.timestamp)})`, offset, rawSignal));
    return;
  }
  const accuracyMm = numberOf(position.accuracyMm);
  const attributes: Record<string, unknown> = {};
  if (position.source !== undefined) attributes.source = position.source;
  if (instant.utcOffsetMinutes !== null) attributes.utcOffsetMinutes = instant.utcOffsetMinutes;
  if (rawSignal.additionalTimestamp !== undefined) attributes.additionalTimestamp = rawSignal.additionalTimestamp;
  const platform = platformOf(rawSignal);
  if (platform !== null) attributes.platform = platform;
  const e7 = position.point as Record<string, number>;
  const record: LocationPointRecord = {
    type: 'location_point',
    source: TIMELINE_EDITS_SOURCE_ID,
    key: [instant.date.getTime(), e7.latE7!, e7.lngE7!, accuracyMm, device],
    recordedAt: instant.date,
    lat: point.lat,
    lon: point.lon,
    accuracyM: accuracyMm === null ? null : accuracyMm / 1000,
    altitudeM: numberOf(position.altitudeMeters),
    velocityMps: numberOf(position.speedMetersPerSecond),
    device,
  };
  if (Object.keys(attributes).length > 0) record.attributes = attributes;
  out.push(emit(record, offset));
}

/** As the on-device Timeline's rawSignals activityRecord: an `activity_detected` item titled by the most likely type. */
function activityRecord(record: Record<string, unknown>, device: Device, offset: number, out: ParseEvent[]): void {
  const instant = parseTimelineInstant(record.timestamp);
  // `detectedActivities` [{activityType, probability}] as published here; the on-device file's spelling too.
  const activities = arrayOf(record.detectedActivities ?? record.probableActivities)
    .filter(isObject)
    .map((candidate) => ({ type: stringOf(candidate.activityType ?? candidate.type), probability: numberOf(candidate.probability ?? candidate.confidence) }))
    .filter((candidate): candidate is { type: string; probability: number | null } => candidate.type !== null);
  if (!instant || activities.length === 0) {
    out.push(rejectValue('invalid', `rawSignal activityRecord without a readable timestamp or any typed activity (timestamp ${JSON.stringify(record.timestamp)})`, offset, { activityRecord: record }));
    return;
  }
  let top = activities[0]!;
  for (const candidate of activities) if ((candidate.probability ?? -Infinity) > (top.probability ?? -Infinity)) top = candidate;
  const attributes: Record<string, unknown> = { probability: top.probability, activities };
  if (device !== null) attributes.device = device;
  out.push(
    emit(
      {
        type: 'item',
        source: TIMELINE_EDITS_SOURCE_ID,
        key: ['activity_detected', instant.date.getTime(), top.type, device],
        kind: 'activity_detected',
        occurredAt: instant.date,
        utcOffsetMinutes: instant.utcOffsetMinutes,
        title: top.type,
        attributes,
      },
      offset,
    ),
  );
}

/**
 * As the on-device Timeline's rawSignals wifiScan: the number of access points heard, with the
 * strongest and weakest rawRssi; their MAC addresses are not kept (they identify and locate other
 * people's devices).
 */
function wifiScan(scan: Record<string, unknown>, device: Device, offset: number, out: ParseEvent[]): void {
  const instant = parseTimelineInstant(scan.deliveryTime);
  const heard = scan.devices === undefined ? [] : scan.devices;
  if (!instant || !Array.isArray(heard)) {
    const excerpt = { deliveryTime: scan.deliveryTime, devices: Array.isArray(heard) ? `${heard.length} entries` : typeof heard };
    out.push(rejectValue('invalid', 'rawSignal wifiScan without a readable deliveryTime or a devices list', offset, excerpt));
    return;
  }
  let strongest = -Infinity;
  let weakest = Infinity;
  for (const accessPoint of heard) {
    const rssi = isObject(accessPoint) ? numberOf(accessPoint.rawRssi) : null;
    if (rssi === null) continue;
    strongest = Math.max(strongest, rssi);
    weakest = Math.min(weakest, rssi);
  }
  const attributes: Record<string, unknown> = {};
  if (strongest !== -Infinity) {
    attributes.strongestRssiDbm = strongest;
    attributes.weakestRssiDbm = weakest;
  }
  if (scan.source !== undefined) attributes.source = scan.source;
  if (device !== null) attributes.device = device;
  if (instant.utcOffsetMinutes !== null) attributes.utcOffsetMinutes = instant.utcOffsetMinutes;
  out.push(
    emit(
      {
        type: 'measurement',
        source: TIMELINE_EDITS_SOURCE_ID,
        key: ['wifi_access_points', instant.date.getTime(), device],
        measuredAt: instant.date,
        metric: 'wifi_access_points',
        value: heard.length,
        unit: 'count',
        attributes,
      },
      offset,
    ),
  );
}

function platformOf(rawSignal: Record<string, unknown>): string | null {
  return isObject(rawSignal.metadata) ? stringOf(rawSignal.metadata.platform) : null;
}

export const timelineEditsSource: Source = defineSource(LOCATION_EDITS, {
  parse(input, context) {
    const reader = new TimelineEditsReader();
    return parseJsonSource(input, context, {
      targets: [{ path: ['timelineEdits'] }],
      expected: '"timelineEdits" array',
      exactIntegerMembers: ['deviceId'],
      onElement: (value, at, out) => reader.onElement(value, at.offset, out),
      onEnd: (out) => reader.skipped.reportTo(out, (kind, count) => `${count} ${kind} entr${count === 1 ? 'y' : 'ies'} not imported (no record type holds them)`),
    });
  },
});
