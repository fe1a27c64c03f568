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
//   rawSignals: position (LatLng, accuracyMeters, altitudeMeters, speedMetersPerSecond, source,
//     timestamp) → LocationPointRecord. wifiScan and activityRecord have no record type here:
//     they are reported as `unsupported`, once per kind with their count and first offset.
//   userLocationProfile: frequentPlaces → PlaceRecords with attributes.label (HOME, WORK...),
//     merged into the place a visit already stored (or that a later visit names);
//     its other members (persona...) are reported as `unsupported` the same way.
//
// iOS `location-history.json`: a top-level array of the same segments spelled differently:
//   "geo:lat,lng" strings, numbers as strings ("0.785181"), topCandidate.placeID, and
//   timelinePath points timed by durationMinutesOffsetFromStartTime (minutes after startTime).
//
// Probabilities (0..1) become the 0..100 confidences of the record columns; the raw values stay
// in attributes. Visits and segments keep their UTC offset (items in utcOffsetMinutes, visits in
// attributes.utcOffsetMinutes).
import { baseName, describeJsonHead } from '../../parse/json-head.js';
import type { ParseEvent } from '../../records.js';
import type { Confidence, Probe, Source } from '../../source.js';
import { emit, foldName, parseJsonSource, rejectValue, SkippedKinds } from './json-source.js';
import { arrayOf, isObject, numberOf, parseIsoInstant, parseLatLonText, percentFromProbability, stringOf, type Instant, type LatLon } from './takeout-values.js';

export const ONDEVICE_SOURCE_ID = 'google.location.ondevice';

const FILE_NAMES = new Set(['Timeline.json', 'location-history.json', 'Zeitachse.json', 'Chronologie.json', 'Cronología.json', 'Cronologia.json', 'Tijdlijn.json'].map(foldName));
const SEGMENT_KINDS = ['visit', 'activity', 'timelinePath', 'timelineMemory'] as const;

const TARGET_SEGMENTS = 0;
const TARGET_RAW_SIGNALS = 1;
const TARGET_PROFILE = 2;
const TARGET_IOS_ARRAY = 3;

function detect(probe: Probe): Confidence | null {
  const shape = describeJsonHead(probe.head);
  if (shape.root === 'object' && (shape.arrays.has('semanticSegments') || shape.arrays.has('rawSignals') || shape.keys.has('userLocationProfile'))) {
    return 'content';
  }
  if (shape.root === 'array' && shape.keys.has('[].startTime') && SEGMENT_KINDS.some((kind) => shape.keys.has(`[].${kind}`))) {
    return 'content';
  }
  return FILE_NAMES.has(foldName(baseName(probe.path))) ? 'path' : null;
}

/** `"50.05°, 14.34°"`, `"geo:27.72,-97.34"`, or an object holding one as `latLng`/`LatLng`. */
function latLonOf(value: unknown): LatLon | null {
  if (isObject(value)) return parseLatLonText(value.latLng ?? value.LatLng);
  return parseLatLonText(value);
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
    const start = parseIsoInstant(value.startTime);
    const end = parseIsoInstant(value.endTime);
    if (!start || !end) {
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
    const position = latLonOf(candidate.placeLocation);
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
    if (visit.isTimelessVisit !== undefined) attributes.isTimelessVisit = visit.isTimelessVisit;
    out.push(
      emit(
        {
          type: 'visit',
          source: ONDEVICE_SOURCE_ID,
          key: [span.start.date.getTime(), span.end.date.getTime(), placeId, position?.lat ?? null, position?.lon ?? null, hierarchyLevel],
          placeId,
          startedAt: span.start.date,
          endedAt: span.end.date,
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
    if (!isObject(value.position)) {
      this.skipped.add(`rawSignals ${Object.keys(value).join('+') || '{}'}`, offset);
      return;
    }
    const position = value.position;
    const instant = parseIsoInstant(position.timestamp);
    const point = latLonOf(position);
    if (!instant || !point) {
      out.push(rejectValue('invalid', 'rawSignals position without a readable LatLng or timestamp', offset, value));
      return;
    }
    const accuracyM = numberOf(position.accuracyMeters);
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
          altitudeM: numberOf(position.altitudeMeters),
          velocityMps: numberOf(position.speedMetersPerSecond),
          attributes,
        },
        offset,
      ),
    );
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
        const position = latLonOf(place.placeLocation);
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

interface Span {
  start: Instant;
  end: Instant;
  utcOffsetMinutes: number | null;
}

function activity(segment: Record<string, unknown>, span: Span, offset: number, out: ParseEvent[]): void {
  const candidate = isObject(segment.topCandidate) ? segment.topCandidate : {};
  const activityType = stringOf(candidate.type);
  const start = latLonOf(segment.start);
  const end = latLonOf(segment.end);
  const attributes: Record<string, unknown> = {
    endedAt: span.end.date.toISOString(),
    activityType,
    probability: numberOf(segment.probability),
    candidateProbability: numberOf(candidate.probability),
  };
  const distance = numberOf(segment.distanceMeters);
  if (distance !== null) attributes.distanceM = distance;
  if (end) attributes.end = end;
  if (segment.parking !== undefined) attributes.parking = segment.parking;
  out.push(
    emit(
      {
        type: 'item',
        source: ONDEVICE_SOURCE_ID,
        key: ['activity_segment', span.start.date.getTime(), span.end.date.getTime(), activityType],
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
    const position = isObject(point) ? latLonOf(point.point) : null;
    let recordedAt: Date | null = null;
    if (isObject(point)) {
      const minutes = numberOf(point.durationMinutesOffsetFromStartTime);
      recordedAt = parseIsoInstant(point.time)?.date ?? (minutes === null ? null : new Date(span.start.date.getTime() + minutes * 60_000));
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
        key: ['trip', span.start.date.getTime(), span.end.date.getTime()],
        kind: 'trip',
        occurredAt: span.start.date,
        utcOffsetMinutes: span.utcOffsetMinutes,
        attributes: {
          endedAt: span.end.date.toISOString(),
          destinationPlaceIds: destinations,
          distanceFromOriginKm: numberOf(trip.distanceFromOriginKms),
        },
      },
      offset,
    ),
  );
}

export const timelineOnDeviceSource: Source = {
  id: ONDEVICE_SOURCE_ID,
  description: 'Google Maps Timeline exported from the device (Android Timeline.json, iOS location-history.json)',
  detect,
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
};
