// Google Maps Timeline exported from the device (2024 onward, after Location History left the
// cloud), in its two shapes:
//
// Android `Timeline.json`: {"semanticSegments": [...], "rawSignals": [...], "userLocationProfile": {...}}
//   semanticSegments: startTime/endTime (ISO with offset; startTimeTimezoneUtcOffsetMinutes) and
//     visit         → PlaceRecord (topCandidate.placeId, placeLocation.latLng "lat°, lng°",
//                     semanticType) once per placeId in the file, and a VisitRecord;
//     activity      → ItemRecord kind `activity_segment` (topCandidate.type, distanceMeters,
//                     start/end latLng);
//     timelinePath  → LocationPointRecords from [{point "lat°, lng°", time}];
//     timelineMemory→ ItemRecord kind `trip` (destinations' placeIds, distance from origin).
//   rawSignals:
//     position       (LatLng, accuracyMeters, altitudeMeters, speedMetersPerSecond, source,
//                    timestamp) → LocationPointRecord;
//     activityRecord (probableActivities [{type, confidence 0..1}], timestamp) → ItemRecord kind
//                    `activity_detected`: title the most confident type, every candidate in
//                    attributes.activities as written. Not merged into the positions: the file
//                    keeps the two signals apart, and pairing them by time would be a guess;
//     wifiScan       (deliveryTime, devicesRecords [{mac, rawRssi}]) → MeasurementRecord
//                    `wifi_access_points` (count) with the strongest and weakest rawRssi. The
//                    access points' MAC addresses are not kept, as for Records.json's
//                    activeWifiScan: they identify other people's devices and locate them (public
//                    Wi-Fi maps), and hashing would not hide a 48-bit value. Other kinds are
//                    reported as `unsupported`, once per kind with their count and first offset.
//   userLocationProfile: frequentPlaces → PlaceRecords with attributes.label (HOME, WORK...),
//     merged into the place a visit already stored (or that a later visit names);
//     its other members (persona...) are reported as `unsupported` the same way.
//
// iOS `location-history.json`: a top-level array of the same segments spelled differently:
//   "geo:lat,lng" strings, numbers as strings ("0.785181"), topCandidate.placeID, and
//   timelinePath points timed by durationMinutesOffsetFromStartTime (minutes after startTime).
//
// Variants read as well (issue 13, defect 7):
//   - `geo:` URIs with an altitude and RFC 5870 parameters, `geo:lat,lon,alt;u=12`: the altitude
//     becomes a point's altitudeM (attributes.altitudeM of visits and activity segments), `u`
//     (uncertainty, metres) a point's accuracyM; a `crs` other than WGS 84 is refused;
//   - times as `YYYY-MM-DD HH:MM:SS +ZZZZ` or as epoch milliseconds (timeline-times.ts);
//   - a segment without endTime (seen in iOS files): nothing is made up for it. A visit ends
//     when it starts, saying so in attributes.endedAtFrom = 'startTime'; activity segments and
//     trips get no attributes.endedAt; path points need only the start. The key holds null where
//     the end would be. An endTime that is present but unreadable still rejects the segment.
//
// Probabilities (0..1) become the 0..100 confidences of the record columns; the raw values stay
// in attributes. Visits and segments keep their UTC offset (items in utcOffsetMinutes, visits in
// attributes.utcOffsetMinutes).
import type { ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { LOCATION_ONDEVICE } from './entries.js';
import { emit, parseJsonSource, rejectValue, SkippedKinds } from '../json-source.js';
import { arrayOf, isObject, numberOf, parseLatLonText, percentFromProbability, stringOf, type Instant, type LatLon } from '../takeout-values.js';
import { parseTimelineInstant } from './timeline-times.js';

export const ONDEVICE_SOURCE_ID = LOCATION_ONDEVICE.id;

const TARGET_SEGMENTS = 0;
const TARGET_RAW_SIGNALS = 1;
const TARGET_PROFILE = 2;
const TARGET_IOS_ARRAY = 3;

/** A position as the file writes it: degrees, and what a `geo:` URI adds. */
interface Position extends LatLon {
  altitudeM: number | null;
  /** RFC 5870 `u`: uncertainty in metres. */
  uncertaintyM: number | null;
}

const GEO_NUMBER = String.raw`\s*(-?\d+(?:\.\d+)?)\s*`;
const GEO_URI = new RegExp(`^geo:${GEO_NUMBER},${GEO_NUMBER}(?:,${GEO_NUMBER})?((?:;[^;]*)*)$`, 'i');

/**
 * `"50.05°, 14.34°"`, `"geo:27.72,-97.34"`, `"geo:27.72,-97.34,12.5;u=20"`, or an object
 * holding one as `latLng`/`LatLng`. A `geo:` URI in another reference system than WGS 84
 * (`crs=` other than `wgs84`) is not read: its numbers are not latitude and longitude.
 */
function positionOf(value: unknown): Position | null {
  const text = isObject(value) ? (value.latLng ?? value.LatLng) : value;
  if (typeof text !== 'string') return null;
  const geo = GEO_URI.exec(text.trim());
  if (!geo) {
    const pair = parseLatLonText(text);
    return pair ? { ...pair, altitudeM: null, uncertaintyM: null } : null;
  }
  const [, lat, lon, altitude, parameters = ''] = geo;
  let uncertaintyM: number | null = null;
  for (const parameter of parameters.split(';').slice(1)) {
    const [name = '', content = ''] = parameter.split('=');
    const key = name.trim().toLowerCase();
    if (key === 'crs' && content.trim().toLowerCase() !== 'wgs84') return null;
    if (key === 'u') uncertaintyM = numberOf(content);
  }
  return { lat: Number(lat), lon: Number(lon), altitudeM: altitude === undefined ? null : Number(altitude), uncertaintyM };
}

class OnDeviceFileReader {
  private readonly placesSeen = new Set<string>();
  readonly skipped = new SkippedKinds();

  onElement(value: unknown, target: number, offset: number, out: ParseEvent[]): void {
    if (target === TARGET_SEGMENTS || target === TARGET_IOS_ARRAY) this.segment(value, offset, out);
    else if (target === TARGET_RAW_SIGNALS) this.rawSignal(value, offset, out);
    else if (target === TARGET_PROFILE) this.profile(value, offset, out);
  }

  private segment(value: unknown, offset: number, out: ParseEvent[]): void {
    if (!isObject(value)) {
      out.push(rejectValue('invalid', 'a timeline segment that is not an object', offset, value));
      return;
    }
    const start = parseTimelineInstant(value.startTime);
    // An absent endTime (iOS) is no reason to lose the segment; an unreadable one is.
    const endMissing = value.endTime === undefined || value.endTime === null;
    const end = endMissing ? null : parseTimelineInstant(value.endTime);
    if (!start || (!end && !endMissing)) {
      out.push(rejectValue('invalid', `timeline segment without readable startTime/endTime (${JSON.stringify(value.startTime)}, ${JSON.stringify(value.endTime)})`, offset, value));
      return;
    }
    const utcOffsetMinutes = numberOf(value.startTimeTimezoneUtcOffsetMinutes) ?? start.utcOffsetMinutes;
    const span: Span = { start, end, utcOffsetMinutes };
    let understood = false;
    if (isObject(value.visit)) {
      understood = true;
      this.visit(value.visit, span, offset, out);
    }
    if (isObject(value.activity)) {
      understood = true;
      activity(value.activity, span, offset, out);
    }
    if (Array.isArray(value.timelinePath)) {
      understood = true;
      timelinePath(value.timelinePath, span, offset, out);
    }
    if (isObject(value.timelineMemory)) {
      understood = true;
      timelineMemory(value.timelineMemory, span, offset, out);
    }
    if (!understood) {
      out.push(rejectValue('unsupported', `timeline segment of an unknown kind (keys: ${Object.keys(value).join(', ')})`, offset, value));
    }
  }

  private visit(visit: Record<string, unknown>, span: Span, offset: number, out: ParseEvent[]): void {
    const candidate = isObject(visit.topCandidate) ? visit.topCandidate : {};
    const placeId = stringOf(candidate.placeId) ?? stringOf(candidate.placeID);
    const position = positionOf(candidate.placeLocation);
    const semanticType = stringOf(candidate.semanticType);
    if (placeId !== null && !this.placesSeen.has(placeId)) {
      this.placesSeen.add(placeId);
      out.push(
        emit(
          {
            type: 'place',
            source: ONDEVICE_SOURCE_ID,
            key: [placeId],
            placeId,
            lat: position?.lat ?? null,
            lon: position?.lon ?? null,
            ...(semanticType !== null ? { attributes: { semanticType } } : {}),
          },
          offset,
        ),
      );
    }
    const hierarchyLevel = numberOf(visit.hierarchyLevel);
    const attributes: Record<string, unknown> = {
      probability: numberOf(visit.probability),
      candidateProbability: numberOf(candidate.probability),
      semanticType,
      hierarchyLevel,
    };
    if (span.utcOffsetMinutes !== null) attributes.utcOffsetMinutes = span.utcOffsetMinutes;
    if (position?.altitudeM != null) attributes.altitudeM = position.altitudeM;
    if (!span.end) attributes.endedAtFrom = 'startTime';
    if (visit.isTimelessVisit !== undefined) attributes.isTimelessVisit = visit.isTimelessVisit;
    out.push(
      emit(
        {
          type: 'visit',
          source: ONDEVICE_SOURCE_ID,
          key: [span.start.date.getTime(), span.end?.date.getTime() ?? null, placeId, position?.lat ?? null, position?.lon ?? null, hierarchyLevel],
          placeId,
          startedAt: span.start.date,
          endedAt: (span.end ?? span.start).date,
          lat: position?.lat ?? null,
          lon: position?.lon ?? null,
          confidence: percentFromProbability(visit.probability),
          attributes,
        },
        offset,
      ),
    );
  }

  private rawSignal(value: unknown, offset: number, out: ParseEvent[]): void {
    if (!isObject(value)) {
      out.push(rejectValue('invalid', 'a rawSignals entry that is not an object', offset, value));
      return;
    }
    if (isObject(value.position)) rawPosition(value.position, offset, out);
    else if (isObject(value.activityRecord)) activityRecord(value.activityRecord, offset, out);
    else if (isObject(value.wifiScan)) wifiScan(value.wifiScan, offset, out);
    else this.skipped.add(`rawSignals ${Object.keys(value).join('+') || '{}'}`, offset);
  }

  private profile(value: unknown, offset: number, out: ParseEvent[]): void {
    if (!isObject(value)) {
      out.push(rejectValue('invalid', 'userLocationProfile is not an object', offset, value));
      return;
    }
    for (const [member, content] of Object.entries(value)) {
      if (member !== 'frequentPlaces') {
        this.skipped.add(`userLocationProfile ${member}`, offset);
        continue;
      }
      for (const place of arrayOf(content)) {
        const placeId = isObject(place) ? stringOf(place.placeId) : null;
        if (!isObject(place) || placeId === null) {
          out.push(rejectValue('invalid', 'frequentPlaces entry without a placeId', offset, place));
          continue;
        }
        const position = positionOf(place.placeLocation);
        const label = stringOf(place.label);
        // Emitted even when a visit already named this place: the label (HOME, WORK) is only here,
        // and the load adds it to the stored place (tables.ts, places `merge`).
        out.push(
          emit(
            {
              type: 'place',
              source: ONDEVICE_SOURCE_ID,
              key: [placeId],
              placeId,
              lat: position?.lat ?? null,
              lon: position?.lon ?? null,
              attributes: { ...(label !== null ? { label } : {}), frequentPlace: true },
            },
            offset,
          ),
        );
      }
    }
  }
}

/** rawSignals `position`: a fix with accuracy, altitude, speed and how it was found (GPS, WIFI...). */
function rawPosition(position: Record<string, unknown>, offset: number, out: ParseEvent[]): void {
  const instant = parseTimelineInstant(position.timestamp);
  const point = positionOf(position);
  if (!instant || !point) {
    out.push(rejectValue('invalid', 'rawSignals position without a readable LatLng or timestamp', offset, { position }));
    return;
  }
  const accuracyM = numberOf(position.accuracyMeters) ?? point.uncertaintyM;
  const attributes: Record<string, unknown> = { origin: 'rawSignals' };
  if (position.source !== undefined) attributes.source = position.source;
  if (instant.utcOffsetMinutes !== null) attributes.utcOffsetMinutes = instant.utcOffsetMinutes;
  out.push(
    emit(
      {
        type: 'location_point',
        source: ONDEVICE_SOURCE_ID,
        key: [instant.date.getTime(), point.lat, point.lon, accuracyM],
        recordedAt: instant.date,
        lat: point.lat,
        lon: point.lon,
        accuracyM,
        altitudeM: numberOf(position.altitudeMeters) ?? point.altitudeM,
        velocityMps: numberOf(position.speedMetersPerSecond),
        attributes,
      },
      offset,
    ),
  );
}

/**
 * rawSignals `activityRecord`: what the phone's activity recognition said at one moment, every
 * candidate with its confidence (0..1 in the published files, kept as written).
 */
function activityRecord(record: Record<string, unknown>, offset: number, out: ParseEvent[]): void {
  const instant = parseTimelineInstant(record.timestamp);
  // `probableActivities` [{type, confidence}] as published; `detectedActivities`/`probability` as Android's API names them.
  const activities = arrayOf(record.probableActivities ?? record.detectedActivities)
    .filter(isObject)
    .map((candidate) => ({ type: stringOf(candidate.type), confidence: numberOf(candidate.confidence ?? candidate.probability) }))
    .filter((candidate): candidate is { type: string; confidence: number | null } => candidate.type !== null);
  if (!instant || activities.length === 0) {
    out.push(rejectValue('invalid', `rawSignals activityRecord without a readable timestamp or any typed activity (timestamp ${JSON.stringify(record.timestamp)})`, offset, { activityRecord: record }));
    return;
  }
  // The most confident candidate; the first of equals (the file lists them most likely first).
  let top = activities[0]!;
  for (const candidate of activities) if ((candidate.confidence ?? -Infinity) > (top.confidence ?? -Infinity)) top = candidate;
  out.push(
    emit(
      {
        type: 'item',
        source: ONDEVICE_SOURCE_ID,
        key: ['activity_detected', instant.date.getTime(), top.type],
        kind: 'activity_detected',
        occurredAt: instant.date,
        utcOffsetMinutes: instant.utcOffsetMinutes,
        title: top.type,
        attributes: { origin: 'rawSignals', confidence: top.confidence, activities },
      },
      offset,
    ),
  );
}

/**
 * rawSignals `wifiScan`: how many access points the phone heard and how strongly, as a
 * measurement. The access points' MAC addresses are left out (see the module comment).
 */
function wifiScan(scan: Record<string, unknown>, offset: number, out: ParseEvent[]): void {
  const instant = parseTimelineInstant(scan.deliveryTime);
  const devices = scan.devicesRecords === undefined ? [] : scan.devicesRecords;
  if (!instant || !Array.isArray(devices)) {
    out.push(rejectValue('invalid', 'rawSignals wifiScan without a readable deliveryTime or a devicesRecords list', offset, { wifiScan: scanExcerpt(scan) }));
    return;
  }
  let strongest = -Infinity;
  let weakest = Infinity;
  for (const device of devices) {
    const rssi = isObject(device) ? numberOf(device.rawRssi) : null;
    if (rssi === null) continue;
    strongest = Math.max(strongest, rssi);
    weakest = Math.min(weakest, rssi);
  }
  const attributes: Record<string, unknown> = { origin: 'rawSignals' };
  if (strongest !== -Infinity) {
    attributes.strongestRssiDbm = strongest;
    attributes.weakestRssiDbm = weakest;
  }
  if (instant.utcOffsetMinutes !== null) attributes.utcOffsetMinutes = instant.utcOffsetMinutes;
  out.push(
    emit(
      {
        type: 'measurement',
        source: ONDEVICE_SOURCE_ID,
        key: ['wifi_access_points', instant.date.getTime()],
        measuredAt: instant.date,
        metric: 'wifi_access_points',
        value: devices.length,
        unit: 'count',
        attributes,
      },
      offset,
    ),
  );
}

/**
 * A refused scan as written, its keys and values, except its devicesRecords: a list is given as its
 * length, an object by its keys alone, so that no MAC address reaches quarantine either. A key the
 * file lacks stays absent: the excerpt says nothing the file does not.
 */
function scanExcerpt(scan: Record<string, unknown>): Record<string, unknown> {
  const devices = scan.devicesRecords;
  if (Array.isArray(devices)) return { ...scan, devicesRecords: `${devices.length} entries` };
  if (isObject(devices)) return { ...scan, devicesRecords: Object.fromEntries(Object.keys(devices).map((key) => [key, '…'])) };
  return scan;
}

interface Span {
  start: Instant;
  /** Null when the segment has no endTime (see the module comment). */
  end: Instant | null;
  utcOffsetMinutes: number | null;
}

/** Coordinates for attributes: lat/lon, and the altitude when the file gives one. */
function attributePosition(position: Position): Record<string, number> {
  return position.altitudeM === null ? { lat: position.lat, lon: position.lon } : { lat: position.lat, lon: position.lon, altitudeM: position.altitudeM };
}

function activity(segment: Record<string, unknown>, span: Span, offset: number, out: ParseEvent[]): void {
  const candidate = isObject(segment.topCandidate) ? segment.topCandidate : {};
  const activityType = stringOf(candidate.type);
  const start = positionOf(segment.start);
  const end = positionOf(segment.end);
  const attributes: Record<string, unknown> = {
    ...(span.end ? { endedAt: span.end.date.toISOString() } : {}),
    activityType,
    probability: numberOf(segment.probability),
    candidateProbability: numberOf(candidate.probability),
  };
  const distance = numberOf(segment.distanceMeters);
  if (distance !== null) attributes.distanceM = distance;
  if (start?.altitudeM != null) attributes.altitudeM = start.altitudeM;
  if (end) attributes.end = attributePosition(end);
  if (segment.parking !== undefined) attributes.parking = segment.parking;
  out.push(
    emit(
      {
        type: 'item',
        source: ONDEVICE_SOURCE_ID,
        key: ['activity_segment', span.start.date.getTime(), span.end?.date.getTime() ?? null, activityType],
        kind: 'activity_segment',
        occurredAt: span.start.date,
        utcOffsetMinutes: span.utcOffsetMinutes,
        title: activityType,
        lat: start?.lat ?? null,
        lon: start?.lon ?? null,
        attributes,
      },
      offset,
    ),
  );
}

function timelinePath(points: unknown[], span: Span, offset: number, out: ParseEvent[]): void {
  for (const point of points) {
    // `point`/`time` as published; `latLng`/`timestamp`/`altitudeMeters` as some re-saved files spell them.
    const position = isObject(point) ? positionOf(point.point ?? point.latLng) : null;
    let recordedAt: Date | null = null;
    let altitudeM = position?.altitudeM ?? null;
    if (isObject(point)) {
      const minutes = numberOf(point.durationMinutesOffsetFromStartTime);
      recordedAt = parseTimelineInstant(point.time ?? point.timestamp)?.date ?? (minutes === null ? null : new Date(span.start.date.getTime() + minutes * 60_000));
      altitudeM = numberOf(point.altitudeMeters) ?? altitudeM;
    }
    if (!position || !recordedAt) {
      out.push(rejectValue('invalid', 'timelinePath point without a readable point or time', offset, point));
      continue;
    }
    out.push(
      emit(
        {
          type: 'location_point',
          source: ONDEVICE_SOURCE_ID,
          key: [recordedAt.getTime(), position.lat, position.lon],
          recordedAt,
          lat: position.lat,
          lon: position.lon,
          ...(altitudeM !== null ? { altitudeM } : {}),
          ...(position.uncertaintyM !== null ? { accuracyM: position.uncertaintyM } : {}),
          attributes: { origin: 'timelinePath' },
        },
        offset,
      ),
    );
  }
}

function timelineMemory(memory: Record<string, unknown>, span: Span, offset: number, out: ParseEvent[]): void {
  // Android nests the trip under `trip` and the place id under identifier.placeId; iOS does neither.
  const trip = isObject(memory.trip) ? memory.trip : memory;
  const destinations = arrayOf(trip.destinations)
    .map((destination) => {
      if (!isObject(destination)) return null;
      const identifier = destination.identifier;
      return isObject(identifier) ? stringOf(identifier.placeId) : stringOf(identifier);
    })
    .filter((placeId): placeId is string => placeId !== null);
  out.push(
    emit(
      {
        type: 'item',
        source: ONDEVICE_SOURCE_ID,
        key: ['trip', span.start.date.getTime(), span.end?.date.getTime() ?? null],
        kind: 'trip',
        occurredAt: span.start.date,
        utcOffsetMinutes: span.utcOffsetMinutes,
        attributes: {
          ...(span.end ? { endedAt: span.end.date.toISOString() } : {}),
          destinationPlaceIds: destinations,
          distanceFromOriginKm: numberOf(trip.distanceFromOriginKms),
        },
      },
      offset,
    ),
  );
}

export const timelineOnDeviceSource: Source = defineSource(LOCATION_ONDEVICE, {
  parse(input, context) {
    const reader = new OnDeviceFileReader();
    return parseJsonSource(input, context, {
      // One pass over the file for all of its parts; the iOS array is the alternative shape.
      targets: [
        { path: ['semanticSegments'], optional: true },
        { path: ['rawSignals'], optional: true },
        { path: ['userLocationProfile'], mode: 'value', optional: true },
        { path: [], optional: true },
      ],
      expected: 'on-device Timeline data (semanticSegments, rawSignals, userLocationProfile, or a top-level array of segments)',
      onElement: (value, at, out) => reader.onElement(value, at.target, at.offset, out),
      onEnd: (out) => reader.skipped.reportTo(out, (kind, count) => `${count} ${kind} entr${count === 1 ? 'y' : 'ies'} not imported: no record type for them`),
    });
  },
});
