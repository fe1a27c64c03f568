// Google Location History as KML, in the two shapes Google wrote it:
//
// Takeout's `Location History.kml` (the KML choice of the Location History export, until ~2019):
// a Placemark holding a gx:Track of <when> and <gx:coord> elements, paired in order,
// `<when>2013-08-16T23:39:58.318-07:00</when><gx:coord>-122.0822 37.4222 0</gx:coord>`. Google
// interleaves them; KML 2.2 also allows every <when> first and the <gx:coord> after. Either way
// the i-th of each make one fix:
//   → a LocationPointRecord per pair.
// Google Maps Timeline's "Export this day to KML" (`history-2019-01-04.kml`): a Placemark per
// visit or move, with name, address, ExtendedData (Email, Category, Distance), description, a
// TimeSpan begin/end, and a Point (a visit) or a LineString (a move):
//   Point + TimeSpan      → a VisitRecord without a place id (the export gives none); name,
//                           address, category, distanceM, description in attributes, with any
//                           other ExtendedData under extendedData, and utcOffsetMinutes;
//   LineString + TimeSpan → an ItemRecord of kind `activity_segment` (title: the name, "Driving";
//                           attributes: activityType (the Category), distanceM, endedAt, the
//                           route as [lat, lon] pairs, its end), placed at the route's start;
//   Point + TimeStamp     → a LocationPointRecord (timed placemarks other tools write), its name,
//                           address and description in attributes;
//   LineString + TimeStamp→ a LocationPointRecord per vertex, every one at the placemark's single
//                           time (routes other tools write, dated by one TimeStamp). Nothing says
//                           when each vertex was passed, and spreading the vertices over a time
//                           would invent one; dropping them would lose the route. So each keeps
//                           the one time the file gives, marked in attributes: timeFrom =
//                           'placemark' (the time is the placemark's, not the point's), vertex (0-
//                           based index in the LineString) and vertices (its length), with the
//                           placemark's name, address and description as for a Point. The key is
//                           time and position only, as for every point: a vertex written twice
//                           (a route back over its start) is one point, the later ones duplicates.
// Each Point or LineString of a Placemark (MultiGeometry included) is read on its own. A Polygon,
// a LinearRing or a Model is not read: each is quarantined `unsupported` with its coordinates (a
// Polygon's rings joined by ` | `) in the excerpt, and the placemark's other geometries still load.
//
// Altitude: KML's default altitudeMode, clampToGround, says the third coordinate is to be ignored
// (Google writes 0 there), so a point's altitudeM is taken only under `absolute`; under
// `relativeToGround` it is kept as attributes.altitudeAboveGroundM.
//
// Rejections name the placemark (`placemark "Home"`, or `placemark 7` when unnamed) and carry the
// byte offset of the element at fault: a coordinate that is not a number or out of range, a time
// that is not an instant with a zone (`2019-01-04`, `2019-01-04T10:00:00`: which zone?), a
// TimeSpan without begin or end, a placemark with nothing to date it by, a gx:Track whose <when>
// and <gx:coord> counts differ, a file cut short. A placemark refused whole (no time, an unreadable
// one) carries its coordinates as written in the excerpt (200 characters at most), and a refused
// coordinate tuple its <coordinates> text, so that what was not loaded can still be read there.
//
// Streaming: the file goes to htmlparser2 (xmlMode) a chunk at a time, never held whole; memory
// is bounded by the text of one placemark (MAX_TEXT_BYTES: its geometries wait for a TimeSpan
// that may come after them) and, for a gx:Track written all <when> first, by the times waiting
// for their coordinates (MAX_UNPAIRED); past either, what does not fit is refused as too_large. As in ../my-activity/html.ts, bytes are
// given to the parser as Latin-1, so its indices are byte offsets; text is decoded from UTF-8
// (or Latin-1, when the XML declaration says so) afterwards, then its entities.
//
// Namespaces: elements are matched by namespace and local name, whatever prefix binds them
// (`<kml:Placemark>`, `<ext:Track>` with xmlns:ext bound to Google's extension namespace);
// without declarations, unprefixed names are KML and `gx:` is Google's extension, as written in
// practice. Elements of other namespaces (atom:author...) are skipped.
import type { Readable } from 'node:stream';
import type { ItemRecord, LocationPointRecord, ParseEvent, QuarantineCategory, RepairCounts, VisitRecord } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { excerpt, type TextCapture, XmlStreamReader } from '../../formats/xml-stream.js';
import { LOCATION_KML, localName } from './entries.js';
import { parseIsoInstant, type Instant } from '../takeout-values.js';

export const LOCATION_KML_SOURCE_ID = LOCATION_KML.id;

/** Text one placemark may hold (a LineString's coordinates...); a per-day export's longest route is a few hundred KB. */
export const MAX_TEXT_BYTES = 8 * 1024 * 1024;
/** Times (or coordinates) of one gx:Track held while waiting for their other half: 24 bytes each. */
export const MAX_UNPAIRED = 1_000_000;

const KML_NAMESPACES = new Set([
  'http://www.opengis.net/kml/2.2',
  'http://earth.google.com/kml/2.0',
  'http://earth.google.com/kml/2.1',
  'http://earth.google.com/kml/2.2',
]);
const GX_NAMESPACE = 'http://www.google.com/kml/ext/2.2';

export const locationKmlSource: Source = defineSource(LOCATION_KML, {
  parse: (input, context) => parseLocationKml(input, context),
});

export interface KmlLimits {
  maxTextBytes: number;
  maxUnpaired: number;
}

const LIMITS: KmlLimits = { maxTextBytes: MAX_TEXT_BYTES, maxUnpaired: MAX_UNPAIRED };

/** `limits`: smaller ones let tests reach them. */
export async function* parseLocationKml(input: Readable, context: ParseContext, limits: KmlLimits = LIMITS): AsyncIterable<ParseEvent> {
  const reader = new KmlReader(context.repairs, limits);
  const bytesRead = yield* reader.read(input, context.path);
  if (!reader.stopped && reader.placemarks === 0 && reader.tracks === 0) {
    yield reject('unsupported', `no Placemark or gx:Track in ${bytesRead} bytes of KML`, 0);
  }
}

/** `k:` a KML element, `g:` one of Google's extension, `o:` another namespace's. */
type Tag = string;

interface Captured {
  text: string;
  offset: number;
}

interface Geometry {
  /** `other`: a Polygon, a Model or a LinearRing, not read but quarantined with its coordinates. */
  kind: 'point' | 'line' | 'other';
  /** The element, for `other` ones: `Polygon`... */
  tag: Tag;
  offset: number;
  coordinates: Captured | null;
  altitudeMode: string | null;
}

interface PlacemarkDraft {
  /** 1-based position among the file's placemarks, to name an unnamed one. */
  index: number;
  offset: number;
  depth: number;
  name: string | null;
  address: string | null;
  description: string | null;
  extendedData: Record<string, string> | null;
  stamp: Captured | null;
  spanOffset: number | null;
  begin: Captured | null;
  end: Captured | null;
  geometries: Geometry[];
  tracks: number;
  /** Text held until the placemark closes (its geometries wait for a TimeSpan that may come last). */
  heldBytes: number;
  /** Held more than maxTextBytes: refused, nothing more of it is kept. */
  overflow: boolean;
}

/** What the element whose text is being collected is for. */
type CaptureRole = 'name' | 'address' | 'description' | 'stamp' | 'begin' | 'end' | 'coordinates' | 'altitudeMode' | 'data' | 'trackWhen' | 'trackCoord';

interface Capture extends TextCapture {
  role: CaptureRole;
  offset: number;
  /** ExtendedData's `<Data name>` / `<SimpleData name>`. */
  dataName: string | null;
}

/** The <when> and <gx:coord> of one gx:Track not yet paired, in parallel arrays of numbers (NaN: a value already rejected). */
class TrackPairs {
  whenMs: number[] = [];
  whenUtcOffset: number[] = [];
  whenOffset: number[] = [];
  whenHead = 0;
  lat: number[] = [];
  lon: number[] = [];
  alt: number[] = [];
  coordOffset: number[] = [];
  coordHead = 0;
  altitudeMode: string | null = null;
  /** Values past MAX_UNPAIRED; once any, nothing more of the track is paired (the order would be lost). */
  overflow = 0;
  paired = 0;

  constructor(readonly offset: number) {}

  get pendingWhens(): number {
    return this.whenMs.length - this.whenHead;
  }

  get pendingCoords(): number {
    return this.lat.length - this.coordHead;
  }
}

class KmlReader extends XmlStreamReader<Capture> {
  placemarks = 0;
  tracks = 0;

  private readonly scopes: Map<string, string>[] = [];
  private inCdata = false;
  private placemark: PlacemarkDraft | null = null;
  private geometry: Geometry | null = null;
  private track: TrackPairs | null = null;
  private span: { begin: Captured | null; end: Captured | null } | null = null;
  private dataName: string | null = null;

  constructor(
    repairs: RepairCounts,
    private readonly limits: KmlLimits,
  ) {
    super('KML', repairs, limits.maxTextBytes);
  }

  onopentag(name: string, attributes: Record<string, string>): void {
    if (this.stopped) return;
    const offset = this.parser?.startIndex ?? 0;
    const scope = this.scopeFor(attributes);
    const tag = qualify(name, scope);
    if (!this.rootSeen) {
      this.rootSeen = true;
      if (tag !== 'k:kml' && localName(name) !== 'kml') {
        this.stop('unsupported', `the root element is <${name}>, not <kml>`, offset);
        return;
      }
    }
    const parent = this.tags[this.tags.length - 1];
    this.tags.push(tag);
    this.scopes.push(scope);
    const depth = this.tags.length;
    const placemark = this.placemark;
    switch (tag) {
      case 'k:Placemark':
        if (!placemark) this.openPlacemark(offset, depth);
        return;
      case 'g:Track':
        this.tracks++;
        if (placemark) placemark.tracks++;
        this.track = new TrackPairs(offset);
        return;
      case 'k:Point':
      case 'k:LineString':
        if (placemark && !this.track && !this.geometry) this.geometry = { kind: tag === 'k:Point' ? 'point' : 'line', tag, offset, coordinates: null, altitudeMode: null };
        return;
      case 'k:Polygon':
      case 'k:LinearRing':
      case 'k:Model':
        if (placemark && !this.track && !this.geometry) this.geometry = { kind: 'other', tag, offset, coordinates: null, altitudeMode: null };
        return;
      case 'k:TimeSpan':
        if (placemark && parent === 'k:Placemark') {
          placemark.spanOffset = offset;
          this.span = { begin: null, end: null };
        }
        return;
      case 'k:Data':
      case 'k:SimpleData':
        this.dataName = attributes.name ?? null;
        break;
    }
    const role = this.roleOf(tag, parent);
    if (role !== null) this.capture = { role, depth, offset, raw: '', tooLarge: false, dataName: this.dataName };
  }

  /** CDATA is literal: its ampersands are escaped so that decoding the entities later leaves them be. */
  protected override captured(text: string): string {
    return this.inCdata && text.includes('&') ? text.replace(/&/g, '&amp;') : text;
  }

  oncdatastart(): void {
    this.inCdata = true;
  }

  oncdataend(): void {
    this.inCdata = false;
  }

  /** Tags are qualified (see Tag). */
  protected closed(tag: Tag, depth: number): void {
    this.scopes.pop();
    switch (tag) {
      case 'k:kml':
        if (depth === 1 && this.atEnd && !this.cutReported) this.push(reject('malformed', 'the file ends before </kml>: it was cut short', this.endOffset));
        return;
      case 'k:Placemark':
        if (this.placemark && this.placemark.depth === depth) this.closePlacemark();
        return;
      case 'g:Track':
        if (this.track) this.closeTrack(this.track);
        this.track = null;
        return;
      case 'k:Point':
      case 'k:LineString':
        if (this.geometry?.tag !== tag) return;
        if (this.placemark && !this.placemark.overflow && !this.atEnd) this.placemark.geometries.push(this.geometry);
        this.geometry = null;
        return;
      case 'k:Polygon':
      case 'k:LinearRing':
      case 'k:Model':
        if (this.geometry?.tag !== tag) return; // a LinearRing of a Polygon
        if (this.placemark && !this.placemark.overflow && !this.atEnd) this.placemark.geometries.push(this.geometry);
        this.geometry = null;
        return;
      case 'k:TimeSpan':
        if (this.span && this.placemark) {
          this.placemark.begin = this.span.begin;
          this.placemark.end = this.span.end;
        }
        this.span = null;
        return;
      case 'k:Data':
      case 'k:SimpleData':
        this.dataName = null;
        return;
    }
  }

  /** KML rejections carry no line. */
  protected stop(category: QuarantineCategory, reason: string, offset: number): void {
    this.push(reject(category, reason, offset));
    this.stopped = true;
  }

  /** The namespace bindings in force inside an element: its parent's, plus its own xmlns attributes. */
  private scopeFor(attributes: Record<string, string>): Map<string, string> {
    const inherited = this.scopes[this.scopes.length - 1] ?? EMPTY_SCOPE;
    let scope: Map<string, string> | null = null;
    for (const attribute in attributes) {
      if (attribute !== 'xmlns' && !attribute.startsWith('xmlns:')) continue;
      scope ??= new Map(inherited);
      scope.set(attribute === 'xmlns' ? '' : attribute.slice(6), attributes[attribute]!.trim());
    }
    return scope ?? inherited;
  }

  /** Whose text an element gives, from its tag and its parent's. */
  private roleOf(tag: Tag, parent: Tag | undefined): CaptureRole | null {
    if (this.track) {
      if (parent !== 'g:Track') return null;
      if (tag === 'k:when') return 'trackWhen';
      if (tag === 'g:coord') return 'trackCoord';
      if (tag === 'k:altitudeMode') return 'altitudeMode';
      return null;
    }
    if (!this.placemark) return null;
    switch (tag) {
      case 'k:name':
        return parent === 'k:Placemark' ? 'name' : null;
      case 'k:address':
        return parent === 'k:Placemark' ? 'address' : null;
      case 'k:description':
        return parent === 'k:Placemark' ? 'description' : null;
      case 'k:when':
        return parent === 'k:TimeStamp' && this.tags[this.tags.length - 3] === 'k:Placemark' ? 'stamp' : null;
      case 'k:begin':
        return this.span && parent === 'k:TimeSpan' ? 'begin' : null;
      case 'k:end':
        return this.span && parent === 'k:TimeSpan' ? 'end' : null;
      case 'k:coordinates':
        // A Polygon's are in its LinearRings.
        return this.geometry && (this.geometry.kind === 'other' || parent === 'k:Point' || parent === 'k:LineString') ? 'coordinates' : null;
      case 'k:altitudeMode':
        return this.geometry && (parent === 'k:Point' || parent === 'k:LineString') ? 'altitudeMode' : null;
      case 'k:value':
      case 'k:SimpleData': {
        const container = tag === 'k:value' ? 'k:Data' : 'k:SchemaData';
        const at = this.tags.length;
        return parent === container && this.tags[at - 3] === 'k:ExtendedData' && this.tags[at - 4] === 'k:Placemark' ? 'data' : null;
      }
      default:
        return null;
    }
  }

  protected finishCapture(capture: Capture): void {
    const placemark = this.placemark;
    if (capture.tooLarge) {
      this.push(reject('too_large', `${this.label()}: a <${capture.role}> element holds more than ${this.limits.maxTextBytes} bytes of text`, capture.offset));
      if (capture.role === 'trackWhen') this.trackWhen(null, capture.offset);
      else if (capture.role === 'trackCoord') this.trackCoord(null, capture.offset);
      else if (capture.role === 'coordinates' && this.geometry) this.geometry.coordinates = { text: '', offset: -1 };
      return;
    }
    const text = this.decode(capture.raw).trim();
    const captured = { text, offset: capture.offset };
    if (placemark && capture.role !== 'trackWhen' && capture.role !== 'trackCoord') {
      if (placemark.overflow) return;
      placemark.heldBytes += text.length;
      if (placemark.heldBytes > this.limits.maxTextBytes) {
        placemark.overflow = true;
        placemark.geometries = [];
        placemark.extendedData = null;
        placemark.description = null;
        this.push(reject('too_large', `${labelOf(placemark)} holds more than ${this.limits.maxTextBytes} bytes of text: it is not imported`, placemark.offset));
        return;
      }
    }
    switch (capture.role) {
      case 'trackWhen':
        this.trackWhen(text, capture.offset);
        return;
      case 'trackCoord':
        this.trackCoord(text, capture.offset);
        return;
      case 'altitudeMode':
        if (this.track) this.track.altitudeMode = text;
        else if (this.geometry) this.geometry.altitudeMode = text;
        return;
      case 'coordinates':
        if (this.geometry?.kind === 'other' && this.geometry.coordinates && this.geometry.coordinates.offset >= 0) {
          // A Polygon's rings, outer first, one after another.
          this.geometry.coordinates = { text: `${this.geometry.coordinates.text} | ${text}`, offset: this.geometry.coordinates.offset };
        } else if (this.geometry) {
          this.geometry.coordinates = captured;
        }
        return;
      case 'begin':
        if (this.span) this.span.begin = captured;
        return;
      case 'end':
        if (this.span) this.span.end = captured;
        return;
    }
    if (!placemark) return;
    const value = text === '' ? null : text;
    switch (capture.role) {
      case 'name':
        placemark.name = value;
        return;
      case 'address':
        placemark.address = value;
        return;
      case 'description':
        placemark.description = value;
        return;
      case 'stamp':
        placemark.stamp = captured;
        return;
      case 'data':
        if (capture.dataName !== null) (placemark.extendedData ??= {})[capture.dataName] = text;
        return;
    }
  }

  private label(): string {
    const placemark = this.placemark;
    if (!placemark) return 'a gx:Track outside any placemark';
    return placemark.name !== null ? `placemark ${JSON.stringify(placemark.name)}` : `placemark ${placemark.index} (unnamed)`;
  }

  private openPlacemark(offset: number, depth: number): void {
    this.placemarks++;
    this.placemark = {
      index: this.placemarks,
      offset,
      depth,
      name: null,
      address: null,
      description: null,
      extendedData: null,
      stamp: null,
      spanOffset: null,
      begin: null,
      end: null,
      geometries: [],
      tracks: 0,
      heldBytes: 0,
      overflow: false,
    };
  }

  // --- gx:Track -------------------------------------------------------------------------------

  private trackWhen(text: string | null, offset: number): void {
    const track = this.track;
    if (!track) return;
    if (track.overflow > 0 || track.pendingWhens >= this.limits.maxUnpaired) {
      track.overflow++;
      return;
    }
    let ms = NaN;
    let utcOffset = NaN;
    if (text !== null) {
      const instant = parseIsoInstant(text);
      if (instant) {
        ms = instant.date.getTime();
        utcOffset = instant.utcOffsetMinutes ?? NaN;
      } else {
        this.push(reject('invalid', `${this.label()}: gx:Track <when> ${JSON.stringify(excerpt(text))} is not an instant with a time zone; its fix is not imported`, offset, text));
      }
    }
    track.whenMs.push(ms);
    track.whenUtcOffset.push(utcOffset);
    track.whenOffset.push(offset);
    this.pairTrack(track);
  }

  private trackCoord(text: string | null, offset: number): void {
    const track = this.track;
    if (!track) return;
    if (track.overflow > 0 || track.pendingCoords >= this.limits.maxUnpaired) {
      track.overflow++;
      return;
    }
    let position: Position | null = null;
    if (text !== null) {
      const parsed = parsePosition(text.split(/\s+/));
      if (typeof parsed === 'string') {
        this.push(reject('invalid', `${this.label()}: gx:coord ${JSON.stringify(excerpt(text))} ${parsed}; its fix is not imported`, offset, text));
      } else {
        position = parsed;
      }
    }
    track.lat.push(position?.lat ?? NaN);
    track.lon.push(position?.lon ?? NaN);
    track.alt.push(position?.alt ?? NaN);
    track.coordOffset.push(offset);
    this.pairTrack(track);
  }

  private pairTrack(track: TrackPairs): void {
    while (track.pendingWhens > 0 && track.pendingCoords > 0) {
      const w = track.whenHead++;
      const c = track.coordHead++;
      track.paired++;
      const ms = track.whenMs[w]!;
      const lat = track.lat[c]!;
      if (Number.isNaN(ms) || Number.isNaN(lat)) continue; // rejected when read
      const lon = track.lon[c]!;
      const utcOffset = track.whenUtcOffset[w]!;
      const record: LocationPointRecord = {
        type: 'location_point',
        source: LOCATION_KML_SOURCE_ID,
        key: [ms, lat, lon],
        recordedAt: new Date(ms),
        lat,
        lon,
      };
      const attributes = altitudeOf(record, track.alt[c]!, track.altitudeMode);
      if (!Number.isNaN(utcOffset)) (record.attributes = attributes ?? {}).utcOffsetMinutes = utcOffset;
      else if (attributes) record.attributes = attributes;
      this.push({ kind: 'record', record, offset: track.whenOffset[w]! });
    }
    // Drained: start the arrays afresh rather than let them grow with the file.
    if (track.pendingWhens === 0 && track.whenHead > 0) {
      track.whenMs = [];
      track.whenUtcOffset = [];
      track.whenOffset = [];
      track.whenHead = 0;
    }
    if (track.pendingCoords === 0 && track.coordHead > 0) {
      track.lat = [];
      track.lon = [];
      track.alt = [];
      track.coordOffset = [];
      track.coordHead = 0;
    }
  }

  private closeTrack(track: TrackPairs): void {
    if (this.atEnd) {
      if (!this.placemark) {
        this.push(reject('malformed', `the file ends inside ${this.label()}: its last values are incomplete`, this.endOffset));
        this.cutReported = true;
      }
      return;
    }
    if (track.overflow > 0) {
      this.push(
        reject(
          'too_large',
          `${this.label()}: gx:Track holds more than ${this.limits.maxUnpaired} <when> or <gx:coord> waiting for their pair; ${track.overflow} after that point and ` +
            `${track.pendingWhens + track.pendingCoords} unpaired ones before it were not imported`,
          track.offset,
        ),
      );
      return;
    }
    if (track.pendingWhens > 0) {
      this.push(reject('malformed', `${this.label()}: gx:Track has ${track.pendingWhens} <when> without a <gx:coord> (${track.paired} paired)`, track.whenOffset[track.whenHead]!));
    } else if (track.pendingCoords > 0) {
      this.push(reject('malformed', `${this.label()}: gx:Track has ${track.pendingCoords} <gx:coord> without a <when> (${track.paired} paired)`, track.coordOffset[track.coordHead]!));
    }
  }

  // --- Placemark ------------------------------------------------------------------------------

  private closePlacemark(): void {
    const placemark = this.placemark!;
    this.placemark = null;
    this.geometry = null;
    this.span = null;
    if (this.atEnd) {
      this.push(reject('malformed', `the file ends inside ${labelOf(placemark)}: it was cut short`, this.endOffset));
      this.cutReported = true;
      return;
    }
    if (placemark.overflow) return;
    const label = labelOf(placemark);
    const others = placemark.geometries.filter((geometry) => geometry.kind === 'other');
    for (const other of others) {
      const text = other.coordinates && other.coordinates.offset >= 0 && other.coordinates.text !== '' ? other.coordinates.text.replace(/\s+/g, ' ') : null;
      this.push(reject('unsupported', `${label}: a ${other.tag.slice(2)} is not read (Point, LineString and gx:Track are)`, other.offset, text));
    }
    if (others.length > 0) placemark.geometries = placemark.geometries.filter((geometry) => geometry.kind !== 'other');
    if (placemark.geometries.length === 0) {
      if (placemark.tracks === 0 && others.length === 0) this.push(reject('unsupported', `${label} has no Point, LineString or gx:Track`, placemark.offset));
      return;
    }
    if (placemark.spanOffset !== null) {
      const start = timeOf(placemark.begin);
      if (typeof start === 'string') {
        this.push(reject('invalid', `${label}: TimeSpan <begin> ${start}`, placemark.begin?.offset ?? placemark.spanOffset, coordinatesOf(placemark)));
        return;
      }
      const finish = timeOf(placemark.end);
      if (typeof finish === 'string') {
        this.push(reject('invalid', `${label}: TimeSpan <end> ${finish}`, placemark.end?.offset ?? placemark.spanOffset, coordinatesOf(placemark)));
        return;
      }
      for (const geometry of placemark.geometries) {
        if (geometry.kind === 'point') this.visit(placemark, geometry, start, finish);
        else this.move(placemark, geometry, start, finish);
      }
      return;
    }
    if (placemark.stamp !== null) {
      const instant = timeOf(placemark.stamp);
      if (typeof instant === 'string') {
        this.push(reject('invalid', `${label}: TimeStamp <when> ${instant}`, placemark.stamp.offset, coordinatesOf(placemark)));
        return;
      }
      for (const geometry of placemark.geometries) {
        if (geometry.kind === 'point') this.stampedPoint(placemark, geometry, instant);
        else this.stampedRoute(placemark, geometry, instant);
      }
      return;
    }
    this.push(
      reject(
        'unsupported',
        `${label} has no TimeStamp, TimeSpan or gx:Track to date its ${placemark.geometries[0]!.kind === 'point' ? 'Point' : 'LineString'} by`,
        placemark.offset,
        coordinatesOf(placemark),
      ),
    );
  }

  /** The positions of a Point or LineString, or a rejection naming the placemark. */
  private positionsOf(placemark: PlacemarkDraft, geometry: Geometry): Position[] | null {
    const label = labelOf(placemark);
    const coordinates = geometry.coordinates;
    if (coordinates === null || coordinates.offset < 0) {
      if (coordinates === null) this.push(reject('invalid', `${label}: ${geometry.kind === 'point' ? 'Point' : 'LineString'} without <coordinates>`, geometry.offset));
      return null;
    }
    // Tuples are `lon,lat[,alt]` separated by white space; some writers put spaces after the commas.
    const tuples = coordinates.text.replace(/\s*,\s*/g, ',').split(/\s+/).filter(Boolean);
    if (tuples.length === 0 || (geometry.kind === 'point' && tuples.length !== 1)) {
      this.push(reject('invalid', `${label}: ${geometry.kind === 'point' ? 'a Point needs one coordinate tuple' : 'a LineString without coordinates'}, found ${tuples.length}`, coordinates.offset, coordinates.text));
      return null;
    }
    const positions: Position[] = [];
    for (const tuple of tuples) {
      const position = parsePosition(tuple.split(','));
      if (typeof position === 'string') {
        this.push(reject('invalid', `${label}: coordinates ${JSON.stringify(excerpt(tuple))} ${position}`, coordinates.offset, coordinates.text));
        return null;
      }
      positions.push(position);
    }
    return positions;
  }

  private describe(placemark: PlacemarkDraft, span: { start: Instant; end: Instant } | null): Record<string, unknown> {
    const attributes: Record<string, unknown> = {};
    if (placemark.name !== null) attributes.name = placemark.name;
    if (placemark.address !== null) attributes.address = placemark.address;
    if (placemark.extendedData) {
      const { Category: category, Distance: distance, ...others } = placemark.extendedData;
      if (category) attributes.category = category;
      const distanceM = distance === undefined || distance.trim() === '' ? NaN : Number(distance);
      if (Number.isFinite(distanceM)) attributes.distanceM = distanceM;
      else if (distance !== undefined && distance.trim() !== '') others.Distance = distance;
      if (Object.keys(others).length > 0) attributes.extendedData = others;
    }
    if (placemark.description !== null) attributes.description = placemark.description;
    const utcOffsetMinutes = span?.start.utcOffsetMinutes ?? null;
    if (utcOffsetMinutes !== null) attributes.utcOffsetMinutes = utcOffsetMinutes;
    return attributes;
  }

  private visit(placemark: PlacemarkDraft, geometry: Geometry, start: Instant, end: Instant): void {
    const position = this.positionsOf(placemark, geometry)?.[0];
    if (!position) return;
    const record: VisitRecord = {
      type: 'visit',
      source: LOCATION_KML_SOURCE_ID,
      key: ['kml', start.date.getTime(), end.date.getTime(), position.lat, position.lon, placemark.name],
      placeId: null,
      startedAt: start.date,
      endedAt: end.date,
      lat: position.lat,
      lon: position.lon,
      attributes: this.describe(placemark, { start, end }),
    };
    this.push({ kind: 'record', record, offset: placemark.offset });
  }

  private move(placemark: PlacemarkDraft, geometry: Geometry, start: Instant, end: Instant): void {
    const positions = this.positionsOf(placemark, geometry);
    if (!positions) return;
    const attributes = this.describe(placemark, { start, end });
    const first = positions[0]!;
    const last = positions[positions.length - 1]!;
    // The Category of a move is its mode of travel ("Driving", "Walking").
    attributes.activityType = attributes.category ?? null;
    delete attributes.category;
    delete attributes.name;
    delete attributes.utcOffsetMinutes;
    attributes.endedAt = end.date.toISOString();
    attributes.end = { lat: last.lat, lon: last.lon };
    attributes.path = positions.map((position) => [position.lat, position.lon]);
    const record: ItemRecord = {
      type: 'item',
      source: LOCATION_KML_SOURCE_ID,
      key: ['activity_segment', start.date.getTime(), end.date.getTime(), placemark.name],
      kind: 'activity_segment',
      occurredAt: start.date,
      utcOffsetMinutes: start.utcOffsetMinutes,
      title: placemark.name,
      lat: first.lat,
      lon: first.lon,
      attributes,
    };
    this.push({ kind: 'record', record, offset: placemark.offset });
  }

  /**
   * A LineString dated by one TimeStamp: a location point per vertex, all at the placemark's time
   * (see the module comment). attributes.timeFrom = 'placemark' says the time is not the vertex's own.
   */
  private stampedRoute(placemark: PlacemarkDraft, geometry: Geometry, instant: Instant): void {
    const positions = this.positionsOf(placemark, geometry);
    if (!positions) return;
    const described = this.describe(placemark, { start: instant, end: instant });
    positions.forEach((position, vertex) => {
      const record = pointAt(instant, position);
      record.attributes = { ...described, ...altitudeOf(record, position.alt, geometry.altitudeMode), timeFrom: 'placemark', vertex, vertices: positions.length };
      this.push({ kind: 'record', record, offset: placemark.offset });
    });
  }

  private stampedPoint(placemark: PlacemarkDraft, geometry: Geometry, instant: Instant): void {
    const position = this.positionsOf(placemark, geometry)?.[0];
    if (!position) return;
    const record = pointAt(instant, position);
    const attributes = { ...this.describe(placemark, { start: instant, end: instant }), ...altitudeOf(record, position.alt, geometry.altitudeMode) };
    if (Object.keys(attributes).length > 0) record.attributes = attributes;
    this.push({ kind: 'record', record, offset: placemark.offset });
  }
}

/**
 * The coordinates of a placemark's geometries as written (one `|` between geometries), for the
 * excerpt of a rejection of the whole placemark: what was not loaded stays readable in quarantine.
 */
function coordinatesOf(placemark: PlacemarkDraft): string | null {
  const texts = placemark.geometries.flatMap((geometry) => (geometry.coordinates && geometry.coordinates.text !== '' ? [geometry.coordinates.text.replace(/\s+/g, ' ')] : []));
  return texts.length === 0 ? null : texts.join(' | ');
}

const EMPTY_SCOPE = new Map<string, string>();
const DECIMAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** `k:Placemark`, `g:Track`, `o:…` (see Tag), from the element's name and the bindings in force. */
function qualify(name: string, scope: ReadonlyMap<string, string>): Tag {
  const colon = name.indexOf(':');
  const prefix = colon < 0 ? '' : name.slice(0, colon);
  const local = colon < 0 ? name : name.slice(colon + 1);
  const uri = scope.get(prefix);
  if (uri === undefined) {
    if (prefix === '' || prefix === 'kml') return `k:${local}`;
    if (prefix === 'gx') return `g:${local}`;
    return `o:${name}`;
  }
  if (KML_NAMESPACES.has(uri)) return `k:${local}`;
  if (uri === GX_NAMESPACE) return `g:${local}`;
  return `o:${name}`;
}

interface Position {
  lat: number;
  lon: number;
  /** NaN when the tuple has none. */
  alt: number;
}

/** `[lon, lat]` or `[lon, lat, alt]` as written, or what is wrong with them. */
function parsePosition(parts: readonly string[]): Position | string {
  if (parts.length < 2 || parts.length > 3) return `has ${parts.length} values, expected longitude, latitude and an optional altitude`;
  if (!parts.every((part) => DECIMAL.test(part))) return 'is not made of decimal numbers';
  const lon = Number(parts[0]);
  const lat = Number(parts[1]);
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return `is out of range (latitude ${lat}, longitude ${lon})`;
  return { lat, lon, alt: parts.length === 3 ? Number(parts[2]) : NaN };
}

/** Sets the altitude KML's altitudeMode allows; returns the attributes it makes, if any. */
function altitudeOf(record: LocationPointRecord, altitude: number, altitudeMode: string | null): Record<string, unknown> | undefined {
  if (Number.isNaN(altitude)) return undefined;
  if (altitudeMode === 'absolute') record.altitudeM = altitude;
  else if (altitudeMode === 'relativeToGround') return { altitudeAboveGroundM: altitude };
  return undefined;
}

function timeOf(captured: Captured | null): Instant | string {
  if (captured === null) return 'is missing';
  if (captured.text === '') return 'is empty';
  return parseIsoInstant(captured.text) ?? `${JSON.stringify(excerpt(captured.text))} is not an instant with a time zone`;
}

function labelOf(placemark: PlacemarkDraft): string {
  return placemark.name !== null ? `placemark ${JSON.stringify(placemark.name)}` : `placemark ${placemark.index} (unnamed)`;
}

function reject(category: QuarantineCategory, reason: string, byteOffset: number, text: string | null = null): ParseEvent {
  return { kind: 'reject', rejection: { category, reason, byteOffset, excerpt: text === null ? null : excerpt(text) } };
}

/** A location point at a placemark's one time, keyed by that time and its position. */
function pointAt(instant: Instant, position: { lat: number; lon: number }): LocationPointRecord {
  return {
    type: 'location_point',
    source: LOCATION_KML_SOURCE_ID,
    key: [instant.date.getTime(), position.lat, position.lon],
    recordedAt: instant.date,
    lat: position.lat,
    lon: position.lon,
  };
}
