// Google Fit activities from Takeout: `Fit/Activities/<start>_<SPORT>.tcx` (the folder's name is
// localized: `Fit/Aktivitäten/`...), one Garmin Training Center XML (TCX v2) file per recorded
// activity; any other TCX file is read the same way:
//   <TrainingCenterDatabase><Activities><Activity Sport="Running"><Id>2019-05-04T08:15:30Z</Id>
//     <Lap StartTime="…"><TotalTimeSeconds/><DistanceMeters/><Calories/><Intensity/>
//       <Track><Trackpoint><Time/><Position><LatitudeDegrees/><LongitudeDegrees/></Position>
//         <AltitudeMeters/><DistanceMeters/><HeartRateBpm><Value/></HeartRateBpm>
//         <Extensions><ns3:TPX><ns3:Speed/></ns3:TPX></Extensions></Trackpoint>…
//
// Records (attributes of each: activity (the Sport), activityId (the Id as written), and for a
// trackpoint's lapIndex (0-based); utcOffsetMinutes when the time states a non-zero offset):
//   a trackpoint with a Position     a location_point at its Time: altitudeM, velocityMps (the
//                                    TPX Speed, m/s), attributes.distanceM (the cumulative
//                                    DistanceMeters). Key: ['google-fit-activity', Id, ms, lat, lon].
//   a trackpoint's HeartRateBpm      a measurement `heart_rate_bpm` (bpm) at its Time, as the raw
//                                    data points name it (raw.ts). Key: [..., Id, ms, metric].
//   a trackpoint's Speed without a   a measurement `speed_mps` (m/s) at its Time: a point without
//   Position                         a position has no location point to carry it.
//   the activity                     measurements at its start (the Id, else the first lap's
//                                    StartTime), as sessions.ts makes for a session:
//                                    session_duration_s, distance_m, calories_kcal: the sums of
//                                    the laps' TotalTimeSeconds, DistanceMeters, Calories; with
//                                    endedAt, durationFrom `laps` and the laps themselves
//                                    (start, seconds, metres, kcal, intensity; at most MAX_LAPS).
//                                    Key: ['google-fit-activity', start ISO, sport, metric].
// A trackpoint with a Time and nothing else (a pause marker) gives nothing. Cadence, power, the
// laps' averages, Courses and multisport sessions (Activities/MultiSportSession) are not read.
//
// Rejections carry the byte offset and line of the element at fault and name the activity and
// lap; the rest of the trackpoint and the file carry on:
//   a Time that is not an instant with a zone, or none    the trackpoint's values are not imported
//   a latitude/longitude not a number or out of range, or only one of them: the position only
//   a heart rate, speed, altitude or distance that is not a number (or a negative speed): that value only
//   a lap value that is not a number: the activity's total of that value is not imported
//   an activity without a readable Id or lap StartTime: its totals (its trackpoints are kept)
//   a file cut short: `malformed` at its end; what was complete before the cut is kept, the
//     trackpoint and the activity totals it cuts are not.
//
// Streaming: as location/kml.ts (both read through ../../formats/xml-stream.ts), the file goes to
// htmlparser2 (xmlMode) a chunk at a time as Latin-1, so the parser's indices are byte offsets;
// values are decoded from UTF-8 afterwards.
// Memory is bounded by one element's text (MAX_TEXT_BYTES) and an activity's lap list. Elements
// are matched by local name, whatever their prefix (`ns3:TPX`, `tpx:TPX`, `ax:TPX`).
import type { LocationPointRecord, MeasurementRecord, ParseEvent, QuarantineCategory, RepairCounts } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { excerpt, type TextCapture, XmlStreamReader } from '../../formats/xml-stream.js';
import { FIT_ACTIVITIES, TCX_ROOT } from './entries.js';
import { parseIsoInstant, type Instant } from '../takeout-values.js';

export const FIT_ACTIVITIES_SOURCE_ID = FIT_ACTIVITIES.id;
/** Text one value element may hold; a number or a time is a few dozen bytes. */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Laps of one activity listed in its attributes (the totals count every lap). */
export const MAX_LAPS = 1000;
const DECIMAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const KEY = 'google-fit-activity';

export const fitActivitiesSource: Source = defineSource(FIT_ACTIVITIES, {
  async *parse(input, context) {
    const reader = new TcxReader(context.repairs);
    const bytesRead = yield* reader.read(input, context.path);
    if (!reader.stopped && reader.activities === 0 && !reader.cutReported) {
      yield reject('unsupported', `no Activity in ${bytesRead} bytes of TCX`, 0, 1);
    }
  },
});

/** Line numbers of byte offsets, for offsets that never go back (element starts, in order). */
class LineCounter {
  private text = '';
  private base = 0;
  private line = 1;

  append(chunk: string): void {
    this.text += chunk;
  }

  /** The 1-based line of `offset`, at or past the last one asked. */
  at(offset: number): number {
    const upTo = Math.min(Math.max(offset - this.base, 0), this.text.length);
    for (let at = this.text.indexOf('\n'); at !== -1 && at < upTo; at = this.text.indexOf('\n', at + 1)) this.line++;
    this.text = this.text.slice(upTo);
    this.base += upTo;
    return this.line;
  }
}

interface Captured {
  text: string;
  offset: number;
  line: number;
}

type Role = 'id' | 'lapTime' | 'lapDistance' | 'lapCalories' | 'lapIntensity' | 'time' | 'lat' | 'lon' | 'altitude' | 'distance' | 'heartRate' | 'speed';

interface Capture extends TextCapture {
  role: Role;
  offset: number;
  line: number;
}

interface LapDraft {
  index: number;
  offset: number;
  line: number;
  startTime: Captured | null;
  values: Partial<Record<'lapTime' | 'lapDistance' | 'lapCalories' | 'lapIntensity', Captured>>;
}

interface LapSummary {
  startedAt: string | null;
  totalTimeS: number | null;
  distanceM: number | null;
  calories: number | null;
  intensity: string | null;
}

interface ActivityDraft {
  offset: number;
  line: number;
  depth: number;
  sport: string;
  id: Captured | null;
  laps: number;
  firstLapStart: Captured | null;
  summaries: LapSummary[];
  totals: { seconds: number; metres: number; kcal: number };
  /** A total some lap gave no readable value for: not emitted. */
  spoiled: { seconds: boolean; metres: boolean; kcal: boolean };
  given: { seconds: boolean; metres: boolean; kcal: boolean };
  endMs: number;
}

type PointValues = Partial<Record<'time' | 'lat' | 'lon' | 'altitude' | 'distance' | 'heartRate' | 'speed', Captured>>;

interface PointDraft {
  offset: number;
  line: number;
  position: Captured | null;
  values: PointValues;
}

const LAP_ROLES: Readonly<Record<string, Role>> = { TotalTimeSeconds: 'lapTime', DistanceMeters: 'lapDistance', Calories: 'lapCalories', Intensity: 'lapIntensity' };

class TcxReader extends XmlStreamReader<Capture> {
  activities = 0;

  private readonly lines = new LineCounter();
  private activity: ActivityDraft | null = null;
  private lap: LapDraft | null = null;
  private point: PointDraft | null = null;

  constructor(repairs: RepairCounts) {
    super('TCX', repairs, MAX_TEXT_BYTES);
  }

  protected override received(text: string): void {
    this.lines.append(text);
  }

  onopentag(name: string, attributes: Record<string, string>): void {
    if (this.stopped) return;
    const offset = this.parser?.startIndex ?? 0;
    // Counted only for the elements a record or a rejection may name (offsets never go back).
    const line = () => this.lines.at(offset);
    const tag = localName(name);
    if (!this.rootSeen) {
      this.rootSeen = true;
      if (tag !== TCX_ROOT) {
        this.stop('unsupported', `the root element is <${name}>, not <${TCX_ROOT}>`, offset, line());
        return;
      }
    }
    const parent = this.tags[this.tags.length - 1];
    this.tags.push(tag);
    const depth = this.tags.length;
    if (tag === 'Activity' && parent === 'Activities' && !this.activity) {
      this.activities++;
      this.activity = {
        offset,
        line: line(),
        depth,
        sport: this.decode(attributes.Sport ?? '').trim() || 'unknown',
        id: null,
        laps: 0,
        firstLapStart: null,
        summaries: [],
        totals: { seconds: 0, metres: 0, kcal: 0 },
        spoiled: { seconds: false, metres: false, kcal: false },
        given: { seconds: false, metres: false, kcal: false },
        endMs: -Infinity,
      };
      return;
    }
    const activity = this.activity;
    if (!activity) return;
    if (tag === 'Lap' && parent === 'Activity') {
      const at = line();
      const startTime = attributes.StartTime === undefined ? null : { text: this.decode(attributes.StartTime).trim(), offset, line: at };
      this.lap = { index: activity.laps++, offset, line: at, startTime, values: {} };
      activity.firstLapStart ??= startTime;
      return;
    }
    if (tag === 'Trackpoint' && parent === 'Track') {
      this.point = { offset, line: line(), position: null, values: {} };
      return;
    }
    const point = this.point;
    if (point && tag === 'Position' && parent === 'Trackpoint') {
      point.position = { text: '', offset, line: line() };
      return;
    }
    const role = this.roleOf(tag, parent);
    if (role !== null) this.capture = { role, depth, offset, line: line(), raw: '', tooLarge: false };
  }

  /** Tags are local names. */
  protected closed(tag: string, depth: number): void {
    switch (tag) {
      case TCX_ROOT:
        if (depth === 1 && this.atEnd && !this.cutReported) this.cut(`the file ends before </${TCX_ROOT}>: it was cut short`);
        return;
      case 'Trackpoint':
        if (this.point) {
          const point = this.point;
          this.point = null;
          if (!this.atEnd) this.closePoint(point);
        }
        return;
      case 'Lap':
        if (this.lap && this.activity && depth === this.activity.depth + 1) {
          if (!this.atEnd) this.closeLap(this.lap);
          this.lap = null;
        }
        return;
      case 'Activity':
        if (this.activity && this.activity.depth === depth) {
          const activity = this.activity;
          this.activity = null;
          if (this.atEnd) this.cut(`the file ends inside ${labelOf(activity)}: its last trackpoint and its totals are not imported`);
          else this.closeActivity(activity);
        }
        return;
    }
  }

  private roleOf(tag: string, parent: string | undefined): Role | null {
    if (this.point) {
      switch (tag) {
        case 'Time':
          return parent === 'Trackpoint' ? 'time' : null;
        case 'LatitudeDegrees':
          return parent === 'Position' ? 'lat' : null;
        case 'LongitudeDegrees':
          return parent === 'Position' ? 'lon' : null;
        case 'AltitudeMeters':
          return parent === 'Trackpoint' ? 'altitude' : null;
        case 'DistanceMeters':
          return parent === 'Trackpoint' ? 'distance' : null;
        case 'Value':
          return parent === 'HeartRateBpm' && this.tags[this.tags.length - 3] === 'Trackpoint' ? 'heartRate' : null;
        case 'Speed':
          return parent === 'TPX' ? 'speed' : null;
        default:
          return null;
      }
    }
    if (tag === 'Id' && parent === 'Activity') return 'id';
    if (this.lap && parent === 'Lap') return LAP_ROLES[tag] ?? null;
    return null;
  }

  protected finishCapture(capture: Capture): void {
    if (capture.tooLarge) {
      this.push(reject('too_large', `${this.label()}: a <${capture.role}> value holds more than ${MAX_TEXT_BYTES} bytes of text; it is not imported`, capture.offset, capture.line));
      return;
    }
    const captured: Captured = { text: this.decode(capture.raw).trim(), offset: capture.offset, line: capture.line };
    switch (capture.role) {
      case 'id':
        if (this.activity) this.activity.id = captured;
        return;
      case 'lapTime':
      case 'lapDistance':
      case 'lapCalories':
      case 'lapIntensity':
        if (this.lap) this.lap.values[capture.role] = captured;
        return;
      default:
        if (this.point) this.point.values[capture.role] = captured;
    }
  }

  // --- Trackpoints ----------------------------------------------------------------------------

  private closePoint(point: PointDraft): void {
    const activity = this.activity!;
    const label = this.label();
    const { time, lat, lon } = point.values;
    if (!time || time.text === '') {
      const given = Object.keys(point.values).filter((role) => role !== 'time');
      if (given.length > 0 || point.position) {
        this.push(reject('invalid', `${label}: a trackpoint without a Time; its values are not imported`, point.offset, point.line));
      }
      return;
    }
    const instant = parseIsoInstant(time.text);
    if (!instant) {
      this.push(reject('invalid', `${label}: trackpoint Time ${JSON.stringify(excerpt(time.text))} is not an instant with a time zone; its values are not imported`, time.offset, time.line, time.text));
      return;
    }
    const ms = instant.date.getTime();
    const activityId = activity.id?.text ?? null;
    const attributes: Record<string, unknown> = { activity: activity.sport, activityId, lapIndex: this.lap?.index ?? null };
    if (instant.utcOffsetMinutes !== null && instant.utcOffsetMinutes !== 0) attributes.utcOffsetMinutes = instant.utcOffsetMinutes;

    const altitude = this.numberOf(point.values.altitude, 'AltitudeMeters');
    const distance = this.numberOf(point.values.distance, 'DistanceMeters');
    const heartRate = this.numberOf(point.values.heartRate, 'HeartRateBpm');
    let speed = this.numberOf(point.values.speed, 'Speed');
    if (speed !== null && speed < 0) {
      const at = point.values.speed!;
      this.push(reject('invalid', `${label}: Speed ${at.text} is negative; it is not imported`, at.offset, at.line, at.text));
      speed = null;
    }

    let position: { lat: number; lon: number } | null = null;
    if (point.position) {
      const where = point.position;
      if (!lat || !lon || lat.text === '' || lon.text === '') {
        this.push(reject('invalid', `${label}: a Position without ${!lat || lat.text === '' ? 'LatitudeDegrees' : 'LongitudeDegrees'}; the trackpoint's position is not imported`, where.offset, where.line));
      } else if (!DECIMAL.test(lat.text) || !DECIMAL.test(lon.text)) {
        const text = `${lat.text} ${lon.text}`;
        this.push(reject('invalid', `${label}: Position ${JSON.stringify(excerpt(text))} is not made of decimal numbers; the trackpoint's position is not imported`, where.offset, where.line, text));
      } else {
        const latitude = Number(lat.text);
        const longitude = Number(lon.text);
        if (latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180) position = { lat: latitude, lon: longitude };
        else {
          this.push(reject('invalid', `${label}: Position is out of range (latitude ${latitude}, longitude ${longitude}); the trackpoint's position is not imported`, where.offset, where.line, `${lat.text} ${lon.text}`));
        }
      }
    }

    if (position) {
      const record: LocationPointRecord = {
        type: 'location_point',
        source: FIT_ACTIVITIES_SOURCE_ID,
        key: [KEY, activityId, ms, position.lat, position.lon],
        recordedAt: instant.date,
        lat: position.lat,
        lon: position.lon,
        altitudeM: altitude,
        velocityMps: speed,
        attributes: distance === null ? attributes : { ...attributes, distanceM: distance },
      };
      this.push({ kind: 'record', record, offset: point.offset });
    }
    const measurement = (metric: string, value: number, unit: string): MeasurementRecord => ({
      type: 'measurement',
      source: FIT_ACTIVITIES_SOURCE_ID,
      key: [KEY, activityId, ms, metric],
      measuredAt: instant.date,
      metric,
      value,
      unit,
      attributes,
    });
    if (heartRate !== null) this.push({ kind: 'record', record: measurement('heart_rate_bpm', heartRate, 'bpm'), offset: point.offset });
    if (speed !== null && !position) this.push({ kind: 'record', record: measurement('speed_mps', speed, 'm/s'), offset: point.offset });
  }

  /** A trackpoint's or lap's number, or null (absent, or refused here). */
  private numberOf(captured: Captured | undefined, element: string, consequence = 'it is not imported'): number | null {
    if (!captured || captured.text === '') return null;
    if (DECIMAL.test(captured.text)) return Number(captured.text);
    this.push(reject('invalid', `${this.label()}: ${element} ${JSON.stringify(excerpt(captured.text))} is not a number; ${consequence}`, captured.offset, captured.line, captured.text));
    return null;
  }

  // --- Laps and the activity -------------------------------------------------------------------

  private closeLap(lap: LapDraft): void {
    const activity = this.activity;
    if (!activity) return;
    const total = (role: 'lapTime' | 'lapDistance' | 'lapCalories', element: string, name: 'seconds' | 'metres' | 'kcal', what: string): number | null => {
      const captured = lap.values[role];
      if (!captured || captured.text === '') return null;
      const value = this.numberOf(captured, element, `the activity's total ${what} is not imported`);
      if (value === null || value < 0) {
        if (value !== null) this.push(reject('invalid', `${this.label()}: ${element} ${captured.text} is negative; the activity's total ${what} is not imported`, captured.offset, captured.line, captured.text));
        activity.spoiled[name] = true;
        return null;
      }
      activity.totals[name] += value;
      activity.given[name] = true;
      return value;
    };
    const totalTimeS = total('lapTime', 'TotalTimeSeconds', 'seconds', 'duration');
    const distanceM = total('lapDistance', 'DistanceMeters', 'metres', 'distance');
    const calories = total('lapCalories', 'Calories', 'kcal', 'calories');
    const start = lap.startTime ? parseIsoInstant(lap.startTime.text) : null;
    if (lap.startTime && !start) {
      this.push(reject('invalid', `${this.label()}: Lap StartTime ${JSON.stringify(excerpt(lap.startTime.text))} is not an instant with a time zone`, lap.offset, lap.line, lap.startTime.text));
    }
    if (start && totalTimeS !== null) activity.endMs = Math.max(activity.endMs, start.date.getTime() + totalTimeS * 1000);
    if (activity.summaries.length < MAX_LAPS) {
      activity.summaries.push({ startedAt: start ? start.date.toISOString() : null, totalTimeS, distanceM, calories, intensity: lap.values.lapIntensity?.text || null });
    }
  }

  private closeActivity(activity: ActivityDraft): void {
    const label = labelOf(activity);
    let start: Instant | null = activity.id ? parseIsoInstant(activity.id.text) : null;
    if (!start && activity.firstLapStart) start = parseIsoInstant(activity.firstLapStart.text);
    if (!start) {
      const id = activity.id;
      const what = id ? `its Id ${JSON.stringify(excerpt(id.text))} is not an instant with a time zone` : 'it has no Id';
      this.push(reject('invalid', `${label}: ${what} and no lap has a readable StartTime; its totals are not imported`, id?.offset ?? activity.offset, id?.line ?? activity.line, id?.text ?? null));
      return;
    }
    const startIso = start.date.toISOString();
    const attributes: Record<string, unknown> = { activity: activity.sport, activityId: activity.id?.text ?? null, durationFrom: 'laps', laps: activity.summaries };
    if (activity.laps > activity.summaries.length) attributes.lapCount = activity.laps;
    if (Number.isFinite(activity.endMs)) attributes.endedAt = new Date(activity.endMs).toISOString();
    if (start.utcOffsetMinutes !== null && start.utcOffsetMinutes !== 0) attributes.utcOffsetMinutes = start.utcOffsetMinutes;
    const emit = (name: 'seconds' | 'metres' | 'kcal', metric: string, unit: string) => {
      if (!activity.given[name] || activity.spoiled[name]) return;
      const record: MeasurementRecord = {
        type: 'measurement',
        source: FIT_ACTIVITIES_SOURCE_ID,
        key: [KEY, startIso, activity.sport, metric],
        measuredAt: start.date,
        metric,
        value: activity.totals[name],
        unit,
        attributes,
      };
      this.push({ kind: 'record', record, offset: activity.offset });
    };
    emit('seconds', 'session_duration_s', 's');
    emit('metres', 'distance_m', 'm');
    emit('kcal', 'calories_kcal', 'kcal');
  }

  // --- Helpers ---------------------------------------------------------------------------------

  private label(): string {
    const activity = this.activity;
    if (!activity) return 'TCX';
    return this.lap ? `${labelOf(activity)} lap ${this.lap.index + 1}` : labelOf(activity);
  }

  private cut(reason: string): void {
    this.push(reject('malformed', reason, this.endOffset, this.lines.at(this.endOffset)));
    this.cutReported = true;
  }

  protected stop(category: QuarantineCategory, reason: string, offset: number, line: number): void {
    this.push(reject(category, reason, offset, line));
    this.stopped = true;
  }
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

function labelOf(activity: ActivityDraft): string {
  return activity.id && activity.id.text !== '' ? `activity ${activity.id.text}` : `activity at line ${activity.line}`;
}

function reject(category: QuarantineCategory, reason: string, byteOffset: number, line: number, text: string | null = null): ParseEvent {
  return { kind: 'reject', rejection: { category, reason, byteOffset, line, excerpt: text === null ? null : excerpt(text) } };
}
