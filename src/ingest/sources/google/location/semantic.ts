// Google Semantic Location History, one file per month (`Semantic Location History/2020/
// 2020_JANUARY.json`): `{"timelineObjects": [ {placeVisit: …} | {activitySegment: …} ]}`.
//
//   placeVisit      → a PlaceRecord per distinct placeId in the file (name, address, location) and
//                     a VisitRecord (duration start/end, location E7 or the visit's centre, else
//                     the most confident of otherCandidateLocations, named in
//                     attributes.positionFrom; visitConfidence); the candidates in
//                     attributes.otherCandidates (placeId, name, semanticType, locationConfidence,
//                     lat/lon); childVisits likewise, with attributes.parentPlaceId.
//                     Point fixes of the visit's simplifiedRawPath → LocationPointRecords.
//   activitySegment → an ItemRecord of kind `activity_segment` (start/end, distance, activity
//                     type, the ranked activities, start/end locations, the waypoint route) and a
//                     LocationPointRecord per simplifiedRawPath point that carries a timestamp
//                     (waypointPath points carry none: they stay in the item's attributes).
// Both the older `startTimestampMs` (epoch ms strings) and the newer ISO `startTimestamp`
// spellings are read, and in either field the other spellings Timeline times come in
// (`2020-01-05 09:12:00 +0100`, epoch milliseconds as text; see timeline-times.ts); empty `{}`
// start/end locations give null coordinates.
//
// Start/end locations missing (older exports) are taken from the ends of the waypointPath, else of
// the simplifiedRawPath (attributes.startFrom/endFrom say which).
//
// A duration with a start and no end (no endTimestampMs/endTimestamp, or null; written by tools
// that re-save these files) makes nothing up, as the on-device Timeline does (ondevice.ts): a
// visit ends when it starts and says so in attributes.endedAtFrom (the start field read,
// `startTimestamp` or `startTimestampMs`); an activity segment gets no attributes.endedAt. The key
// holds null where the end would be. An end that is present but unreadable still rejects the object.
//
// Not imported: transit details beyond what is kept raw in attributes. Any other kind of timeline object is
// rejected as `unsupported`, naming its keys.
import type { ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { LOCATION_SEMANTIC } from './entries.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import {
  arrayOf,
  describeTimestampFields,
  isObject,
  latLonFromE7,
  numberOf,
  pickPresent,
  stringOf,
  type Instant,
  type LatLon,
} from '../takeout-values.js';
import { timelineInstantOf } from './timeline-times.js';

export const SEMANTIC_SOURCE_ID = LOCATION_SEMANTIC.id;

/** State kept across the elements of one file: the places already emitted. */
class SemanticFileReader {
  private readonly placesSeen = new Set<string>();

  onElement(value: unknown, offset: number, out: ParseEvent[]): void {
    if (!isObject(value)) {
      out.push(rejectValue('invalid', 'a timelineObjects element that is not an object', offset, value));
    } else if (isObject(value.placeVisit)) {
      this.placeVisit(value.placeVisit, offset, out, null);
    } else if (isObject(value.activitySegment)) {
      activitySegment(value.activitySegment, offset, out);
    } else {
      out.push(rejectValue('unsupported', `timeline object of an unknown kind (keys: ${Object.keys(value).join(', ') || 'none'})`, offset, value));
    }
  }

  private placeVisit(visit: Record<string, unknown>, offset: number, out: ParseEvent[], parentPlaceId: string | null): void {
    const span = durationOf(visit.duration);
    if (typeof span === 'string') {
      out.push(rejectValue('invalid', `placeVisit without a readable duration (${span})`, offset, visit));
      return;
    }
    const location = isObject(visit.location) ? visit.location : {};
    const placeId = stringOf(location.placeId);
    const coordinates = latLonFromE7(location) ?? latLonFromE7(visit, 'centerLatE7', 'centerLngE7');
    if (placeId !== null && !this.placesSeen.has(placeId)) {
      this.placesSeen.add(placeId);
      const placeAttributes = pickPresent(location, ['semanticType', 'sourceInfo', 'calibratedProbability']);
      out.push(
        emit(
          {
            type: 'place',
            source: SEMANTIC_SOURCE_ID,
            key: [placeId],
            placeId,
            name: stringOf(location.name),
            address: stringOf(location.address),
            lat: coordinates?.lat ?? null,
            lon: coordinates?.lon ?? null,
            ...(placeAttributes ? { attributes: placeAttributes } : {}),
          },
          offset,
        ),
      );
    }
    const attributes: Record<string, unknown> = pickPresent(visit, ['placeConfidence', 'editConfirmationStatus', 'placeVisitType', 'placeVisitImportance', 'visitConfidence']) ?? {};
    if (!span.end) attributes.endedAtFrom = span.startField;
    const locationConfidence = numberOf(location.locationConfidence);
    if (locationConfidence !== null) attributes.locationConfidence = locationConfidence;
    const center = latLonFromE7(visit, 'centerLatE7', 'centerLngE7');
    if (center) attributes.center = center;
    const candidates = arrayOf(visit.otherCandidateLocations).filter(isObject).map(candidateOf);
    if (candidates.length > 0) attributes.otherCandidates = candidates;
    // A visit whose own location has no coordinates is placed at its most confident candidate,
    // and says so; its key keeps the file's own coordinates (none), as before.
    let position = coordinates;
    if (!position) {
      const top = topCandidate(candidates);
      if (top) {
        position = { lat: top.lat!, lon: top.lon! };
        attributes.positionFrom = { otherCandidateLocations: top.placeId, locationConfidence: top.locationConfidence };
      }
    }
    if (parentPlaceId !== null) attributes.parentPlaceId = parentPlaceId;
    out.push(
      emit(
        {
          type: 'visit',
          source: SEMANTIC_SOURCE_ID,
          key: [span.start.date.getTime(), span.end?.date.getTime() ?? null, placeId, coordinates?.lat ?? null, coordinates?.lon ?? null],
          placeId,
          startedAt: span.start.date,
          endedAt: (span.end ?? span.start).date,
          lat: position?.lat ?? null,
          lon: position?.lon ?? null,
          confidence: numberOf(visit.visitConfidence),
          attributes,
        },
        offset,
      ),
    );
    rawPathPoints(visit.simplifiedRawPath, null, offset, out);
    for (const child of arrayOf(visit.childVisits)) {
      if (isObject(child)) this.placeVisit(child, offset, out, placeId);
    }
  }
}

interface Candidate {
  placeId: string | null;
  name: string | null;
  semanticType: string | null;
  locationConfidence: number | null;
  lat: number | null;
  lon: number | null;
}

function candidateOf(candidate: Record<string, unknown>): Candidate {
  const position = latLonFromE7(candidate);
  return {
    placeId: stringOf(candidate.placeId),
    name: stringOf(candidate.name),
    semanticType: stringOf(candidate.semanticType),
    locationConfidence: numberOf(candidate.locationConfidence),
    lat: position?.lat ?? null,
    lon: position?.lon ?? null,
  };
}

/** The candidate with coordinates and the highest locationConfidence (the first of equals; unrated ones last). */
function topCandidate(candidates: readonly Candidate[]): Candidate | null {
  let top: Candidate | null = null;
  for (const candidate of candidates) {
    if (candidate.lat === null) continue;
    if (!top || (candidate.locationConfidence ?? -Infinity) > (top.locationConfidence ?? -Infinity)) top = candidate;
  }
  return top;
}

/** The coordinates of a path's points, in file order: `waypointPath.waypoints` or `simplifiedRawPath.points`. */
function pathPositions(path: unknown, member: 'waypoints' | 'points'): LatLon[] {
  if (!isObject(path)) return [];
  return arrayOf(path[member])
    .map((point) => latLonFromE7(point, 'latE7', 'lngE7'))
    .filter((point): point is LatLon => point !== null);
}

function activitySegment(segment: Record<string, unknown>, offset: number, out: ParseEvent[]): void {
  const span = durationOf(segment.duration);
  if (typeof span === 'string') {
    out.push(rejectValue('invalid', `activitySegment without a readable duration (${span})`, offset, segment));
    return;
  }
  const activities = arrayOf(segment.activities)
    .filter(isObject)
    .map((activity) => ({ type: stringOf(activity.activityType), probability: numberOf(activity.probability) }));
  // `activityType` is Google's pick; old files without it still rank the candidates.
  const activityType = stringOf(segment.activityType) ?? activities[0]?.type ?? null;
  const attributes: Record<string, unknown> = {
    ...(span.end ? { endedAt: span.end.date.toISOString() } : {}),
    activityType,
  };
  // Older exports leave startLocation/endLocation out (or `{}`): the route's ends stand in for
  // them, the waypoints' first (Google's snapped route), else the raw path's, and say so.
  const waypoints = pathPositions(segment.waypointPath, 'waypoints');
  const route = waypoints.length > 0 ? { from: 'waypointPath', points: waypoints } : { from: 'simplifiedRawPath', points: pathPositions(segment.simplifiedRawPath, 'points') };
  let start = latLonFromE7(segment.startLocation);
  let end = latLonFromE7(segment.endLocation);
  if (!start && route.points.length > 0) {
    start = route.points[0]!;
    attributes.startFrom = route.from;
  }
  if (!end && route.points.length > 0) {
    end = route.points[route.points.length - 1]!;
    attributes.endFrom = route.from;
  }
  const distance = numberOf(segment.distance);
  if (distance !== null) attributes.distanceM = distance;
  if (end) attributes.end = end;
  if (activities.length > 0) attributes.activities = activities;
  Object.assign(attributes, pickPresent(segment, ['confidence', 'editConfirmationStatus', 'transitPath', 'parkingEvent', 'activityConfidence']));
  if (isObject(segment.waypointPath)) {
    const path = segment.waypointPath;
    attributes.waypointPath = { waypoints: waypoints.map((point) => [point.lat, point.lon]), ...pickPresent(path, ['source', 'distanceMeters', 'travelMode', 'confidence']) };
  }
  out.push(
    emit(
      {
        type: 'item',
        source: SEMANTIC_SOURCE_ID,
        key: ['activity_segment', span.start.date.getTime(), span.end?.date.getTime() ?? null, activityType],
        kind: 'activity_segment',
        occurredAt: span.start.date,
        utcOffsetMinutes: span.start.utcOffsetMinutes,
        title: activityType,
        lat: start?.lat ?? null,
        lon: start?.lon ?? null,
        attributes,
      },
      offset,
    ),
  );
  rawPathPoints(segment.simplifiedRawPath, activityType, offset, out);
}

/** The timestamped fixes of a `simplifiedRawPath` (points without a timestamp are skipped: they are route shape only). */
function rawPathPoints(path: unknown, activity: string | null, offset: number, out: ParseEvent[]): void {
  if (!isObject(path)) return;
  for (const point of arrayOf(path.points)) {
    if (!isObject(point)) continue;
    const instant = timelineInstantOf(point, 'timestampMs', 'timestamp');
    const position = latLonFromE7(point, 'latE7', 'lngE7');
    if (!instant || !position) {
      if (instant || 'timestampMs' in point || 'timestamp' in point) {
        out.push(rejectValue('invalid', 'simplifiedRawPath point without readable coordinates or timestamp', offset, point));
      }
      continue;
    }
    out.push(
      emit(
        {
          type: 'location_point',
          source: SEMANTIC_SOURCE_ID,
          key: [instant.date.getTime(), point.latE7 as number, point.lngE7 as number],
          recordedAt: instant.date,
          lat: position.lat,
          lon: position.lon,
          accuracyM: numberOf(point.accuracyMeters),
          activity,
          attributes: { origin: 'simplifiedRawPath' },
        },
        offset,
      ),
    );
  }
}

interface Span {
  start: Instant;
  /** The field the start was read from: what attributes.endedAtFrom names when there is no end. */
  startField: 'startTimestampMs' | 'startTimestamp';
  /** Null when the duration has no end (see the module comment). */
  end: Instant | null;
}

/** Start and end of a `duration`, or a description of what is wrong with it. */
function durationOf(duration: unknown): Span | string {
  if (!isObject(duration)) return 'no duration';
  const start = timelineInstantOf(duration, 'startTimestampMs', 'startTimestamp');
  if (!start) return describeTimestampFields(duration, 'startTimestampMs', 'startTimestamp');
  const startField = timelineInstantOf({ startTimestampMs: duration.startTimestampMs }, 'startTimestampMs', 'startTimestamp') ? 'startTimestampMs' : 'startTimestamp';
  // An absent end is no reason to lose the object; an unreadable one is.
  const endMissing = (duration.endTimestampMs === undefined || duration.endTimestampMs === null) && (duration.endTimestamp === undefined || duration.endTimestamp === null);
  if (endMissing) return { start, startField, end: null };
  const end = timelineInstantOf(duration, 'endTimestampMs', 'endTimestamp');
  if (!end) return describeTimestampFields(duration, 'endTimestampMs', 'endTimestamp');
  return { start, startField, end };
}

export const semanticLocationHistorySource: Source = defineSource(LOCATION_SEMANTIC, {
  parse(input, context) {
    const reader = new SemanticFileReader();
    return parseJsonSource(input, context, {
      targets: [{ path: ['timelineObjects'] }],
      expected: '"timelineObjects" array',
      onElement: (value, at, out) => reader.onElement(value, at.offset, out),
    });
  },
});
