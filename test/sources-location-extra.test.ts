// The Google Location History files that were stored as documents or counted unsupported (issue
// 13, defect 7): Location History KML (Takeout's gx:Track file, the Maps Timeline day export
// `history-YYYY-MM-DD.kml`, timed placemarks), `Timeline Edits.json` and `Settings.json`.
// Fixtures (test/fixtures/location-extra/) are written here from the published shapes: the KML
// 2.2 reference and Google's exports as documented by their readers, locationhistoryformat.com's
// TimelineEdits and Settings schemas. Parsed directly, in chunks down to one byte, and through
// the import on the backend the test lake runs on (LAKE_TEST_DATABASE_URL: a PostgreSQL server).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { ItemRecord, LakeRecord, LocationPointRecord, MeasurementRecord, ParseEvent, PlaceRecord, Rejection, RepairCounts, VisitRecord } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import type { ParseContext, Source } from '../src/ingest/source.js';
import { detectSource, SOURCES } from '../src/ingest/sources/all.js';
import { LOCATION_KML_SOURCE_ID, locationKmlSource, parseLocationKml, type KmlLimits } from '../src/ingest/sources/google/location/kml.js';
import { LOCATION_SETTINGS_SOURCE_ID, locationSettingsSource } from '../src/ingest/sources/google/location/settings.js';
import { TIMELINE_EDITS_SOURCE_ID, timelineEditsSource } from '../src/ingest/sources/google/location/edits.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const FIXTURES = new URL('./fixtures/location-extra/', import.meta.url);
const EXTRA_SOURCES: readonly Source[] = [locationKmlSource, timelineEditsSource, locationSettingsSource];
/** The registry with these sources (the lead registers them in sources/index.ts). */
const ALL_SOURCES: readonly Source[] = [...EXTRA_SOURCES, ...SOURCES.filter((source) => !EXTRA_SOURCES.some((extra) => extra.id === source.id))];

const bytesOf = (name: string) => readFileSync(new URL(encodeURIComponent(name), FIXTURES));

interface Parsed {
  events: ParseEvent[];
  records: LakeRecord[];
  offsets: number[];
  rejections: Rejection[];
  repairs: RepairCounts;
}

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function collect(events: AsyncIterable<ParseEvent>, repairs: RepairCounts): Promise<Parsed> {
  const all: ParseEvent[] = [];
  for await (const event of events) all.push(event);
  return {
    events: all,
    records: all.flatMap((event) => (event.kind === 'record' ? [event.record] : [])),
    offsets: all.flatMap((event) => (event.kind === 'record' ? [event.offset] : [])),
    rejections: all.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : [])),
    repairs,
  };
}

async function parse(source: Source, bytes: Buffer, options: { chunkSize?: number; path?: string; exportedAt?: Date } = {}): Promise<Parsed> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const context: ParseContext = { path: options.path ?? 'fixture', repairs, ...(options.exportedAt ? { exportedAt: options.exportedAt } : {}) };
  return collect(source.parse(Readable.from(chunksOf(bytes, options.chunkSize ?? 65536)), context), repairs);
}

const parseFixture = (source: Source, name: string, chunkSize?: number) => parse(source, bytesOf(name), { path: name, ...(chunkSize ? { chunkSize } : {}) });

async function parseKmlWithLimits(bytes: Buffer | AsyncIterable<Buffer>, limits: Partial<KmlLimits>): Promise<Parsed> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const input = Buffer.isBuffer(bytes) ? Readable.from([bytes]) : Readable.from(bytes);
  return collect(parseLocationKml(input, { path: 'limits.kml', repairs }, { maxTextBytes: 8 << 20, maxUnpaired: 1_000_000, ...limits }), repairs);
}

const ofType = <T extends LakeRecord['type']>(records: LakeRecord[], type: T) => records.filter((r): r is Extract<LakeRecord, { type: T }> => r.type === type);

/** Byte offset of the `nth` (0-based) occurrence of `marker` in `bytes`. */
function offsetOf(bytes: Buffer, marker: string, nth = 0): number {
  let at = -1;
  for (let k = 0; k <= nth; k++) {
    at = bytes.indexOf(marker, at + 1);
    assert.ok(at >= 0, `occurrence ${nth} of ${marker}`);
  }
  return at;
}

/** The `<Placemark>` that holds `marker`. */
function placemarkOffset(bytes: Buffer, marker: string): number {
  return bytes.lastIndexOf('<Placemark>', offsetOf(bytes, marker));
}

function point(recordedAt: string, lat: number, lon: number, extra: Partial<LocationPointRecord> = {}): LocationPointRecord {
  const date = new Date(recordedAt);
  return { type: 'location_point', source: LOCATION_KML_SOURCE_ID, key: [date.getTime(), lat, lon], recordedAt: date, lat, lon, ...extra };
}

const probeOf = (path: string, head: Buffer | string) => {
  const bytes = typeof head === 'string' ? Buffer.from(head) : head;
  return { path, head: bytes.subarray(0, 65536), size: bytes.length };
};

describe('detection', () => {
  const cases: Array<[string, Source]> = [
    ['Location History.kml', locationKmlSource],
    ['track-prefixed.kml', locationKmlSource],
    ['history-2019-01-04.kml', locationKmlSource],
    ['timestamped-points.kml', locationKmlSource],
    ['bad-values.kml', locationKmlSource],
    ['Timeline Edits.json', timelineEditsSource],
    ['Settings.json', locationSettingsSource],
  ];
  for (const [name, expected] of cases) {
    it(`recognises ${name} by its content, under any name, and no other source does`, () => {
      const probe = probeOf(`Takeout/Somewhere/export-${name.endsWith('.kml') ? 'a.kml' : 'a.json'}`, bytesOf(name));
      const claims = ALL_SOURCES.filter((source) => source.detect(probe) === 'content').map((source) => source.id);
      assert.deepEqual(claims, [expected.id]);
      assert.equal(detectSource(probe, ALL_SOURCES), expected);
    });
  }

  it('falls back to the names Takeout and Maps give when the head does not show the shape', () => {
    const claim = (path: string) => EXTRA_SOURCES.filter((source) => source.detect(probeOf(path, '\n')) === 'path').map((source) => source.id);
    assert.deepEqual(claim('Takeout/Location History/Location History.kml'), [LOCATION_KML_SOURCE_ID]);
    assert.deepEqual(claim('Takeout/Standortverlauf/Standortverlauf.kml'), [LOCATION_KML_SOURCE_ID]);
    assert.deepEqual(claim('Downloads/history-2019-01-04.kml'), [LOCATION_KML_SOURCE_ID]);
    assert.deepEqual(claim('Takeout/Location History/Timeline Edits.json'), [TIMELINE_EDITS_SOURCE_ID]);
    assert.deepEqual(claim('Takeout/Location History (Timeline)/Settings.json'), [LOCATION_SETTINGS_SOURCE_ID]);
    assert.deepEqual(claim('Takeout/Historique des positions/Settings.json'), [LOCATION_SETTINGS_SOURCE_ID]);
    assert.deepEqual(claim('Takeout/Drive/Settings.json'), []);
    assert.deepEqual(claim('Takeout/Maps (your places)/Saved Places.kml'), []);
  });

  it('leaves a KML without times (a My Maps layer) to the document sources', () => {
    const myMaps = `<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Trip ideas</name>
      <Placemark><name>Viewpoint</name><Point><coordinates>7.1,46.2,0</coordinates></Point></Placemark></Document></kml>\n`;
    const probe = probeOf('Takeout/Drive/Trip ideas.kml', myMaps);
    assert.equal(locationKmlSource.detect(probe), null);
    assert.notEqual(detectSource(probe, ALL_SOURCES)?.id, LOCATION_KML_SOURCE_ID);
  });

  it('reads the root element past a BOM, comments and a DOCTYPE, whatever its prefix', () => {
    const head = '\ufeff<?xml version="1.0"?>\n<!-- exported -->\n<!DOCTYPE kml>\n<k:kml xmlns:k="http://www.opengis.net/kml/2.2"><k:Placemark><k:TimeStamp>';
    assert.equal(locationKmlSource.detect(probeOf('x.xml', head)), 'content');
    assert.equal(locationKmlSource.detect(probeOf('x.xml', '<gpx><trk><time>2020-01-01T00:00:00Z</time><when>')), null);
  });
});

describe('google.location.kml: Takeout gx:Track', () => {
  it('pairs each <when> with its <gx:coord>; the clamped altitude 0 is not kept; stated offsets are', async () => {
    const bytes = bytesOf('Location History.kml');
    const parsed = await parseFixture(locationKmlSource, 'Location History.kml');
    assert.deepEqual(parsed.rejections, []);
    assert.deepEqual(parsed.records, [
      point('2013-08-17T06:39:58.318Z', 37.4222899, -122.0822035, { attributes: { utcOffsetMinutes: -420 } }),
      point('2013-08-17T06:44:58.481Z', 37.4231461, -122.0834427, { attributes: { utcOffsetMinutes: -420 } }),
      point('2013-08-17T06:50:02.000Z', 37.4219999, -122.0841901),
      point('2013-08-18T07:15:30.250Z', 48.8583701, 2.2944813, { attributes: { utcOffsetMinutes: 120 } }),
    ]);
    assert.deepEqual(parsed.offsets, [0, 1, 2, 3].map((k) => offsetOf(bytes, '<when>', k)));
  });

  it('reads every <when> first and the coordinates after (KML 2.2 order), under other prefixes, with absolute altitudes', async () => {
    const parsed = await parseFixture(locationKmlSource, 'track-prefixed.kml');
    assert.deepEqual(parsed.rejections, []);
    assert.deepEqual(parsed.records, [
      point('2021-07-10T06:00:00Z', 59.9138688, 10.7522454, { altitudeM: 12.5 }),
      point('2021-07-10T06:00:10Z', 59.9139, 10.7523, { altitudeM: 13 }),
      point('2021-07-10T06:00:20Z', 59.91402, 10.75241, { altitudeM: 14.25 }),
    ]);
  });

  it('streams a long track: interleaved or all times first, every fix kept in order', async () => {
    const count = 30_000;
    const whenOf = (k: number) => new Date(Date.UTC(2015, 0, 1) + k * 1000).toISOString();
    const coordOf = (k: number) => `${(10 + k / 1e6).toFixed(6)} ${(50 + k / 1e6).toFixed(6)} 0`;
    async function* track(interleaved: boolean) {
      yield Buffer.from('<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2"><Placemark><gx:Track>\n');
      if (interleaved) {
        for (let k = 0; k < count; k++) yield Buffer.from(`<when>${whenOf(k)}</when><gx:coord>${coordOf(k)}</gx:coord>\n`);
      } else {
        for (let k = 0; k < count; k++) yield Buffer.from(`<when>${whenOf(k)}</when>\n`);
        for (let k = 0; k < count; k++) yield Buffer.from(`<gx:coord>${coordOf(k)}</gx:coord>\n`);
      }
      yield Buffer.from('</gx:Track></Placemark></kml>\n');
    }
    for (const interleaved of [true, false]) {
      const parsed = await parseKmlWithLimits(track(interleaved), {});
      assert.deepEqual(parsed.rejections, []);
      const points = ofType(parsed.records, 'location_point');
      assert.equal(points.length, count);
      for (const k of [0, 1, count / 2, count - 1]) {
        assert.equal(points[k]!.recordedAt.toISOString(), whenOf(k));
        assert.equal(points[k]!.lon, Number((10 + k / 1e6).toFixed(6)));
        assert.equal(points[k]!.lat, Number((50 + k / 1e6).toFixed(6)));
      }
    }
  });

  it('refuses the rest of a track whose unpaired values pass the limit, saying how many', async () => {
    const whens = Array.from({ length: 8 }, (_, k) => `<when>2015-01-01T00:00:0${k}Z</when>`).join('');
    const coords = Array.from({ length: 8 }, (_, k) => `<gx:coord>10.${k} 50.${k} 0</gx:coord>`).join('');
    const kml = `<kml xmlns:gx="http://www.google.com/kml/ext/2.2"><Placemark><name>Long</name><gx:Track>${whens}${coords}</gx:Track></Placemark></kml>`;
    const parsed = await parseKmlWithLimits(Buffer.from(kml), { maxUnpaired: 5 });
    assert.deepEqual(parsed.records, []);
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.byteOffset]),
      [['too_large', 'placemark "Long": gx:Track holds more than 5 <when> or <gx:coord> waiting for their pair; 11 after that point and 5 unpaired ones before it were not imported', kml.indexOf('<gx:Track>')]],
    );
    // Interleaved, the same limit is never reached.
    const interleaved = Array.from({ length: 8 }, (_, k) => `<when>2015-01-01T00:00:0${k}Z</when><gx:coord>10.${k} 50.${k} 0</gx:coord>`).join('');
    const ok = await parseKmlWithLimits(Buffer.from(`<kml xmlns:gx="http://www.google.com/kml/ext/2.2"><Placemark><gx:Track>${interleaved}</gx:Track></Placemark></kml>`), { maxUnpaired: 5 });
    assert.equal(ok.records.length, 8);
    assert.deepEqual(ok.rejections, []);
  });
});

describe('google.location.kml: Maps Timeline day export', () => {
  it('makes visits of timed Points and activity segments of timed LineStrings, with what the placemark says', async () => {
    const bytes = bytesOf('history-2019-01-04.kml');
    const parsed = await parseFixture(locationKmlSource, 'history-2019-01-04.kml');
    assert.deepEqual(parsed.rejections, []);
    const home: VisitRecord = {
      type: 'visit',
      source: LOCATION_KML_SOURCE_ID,
      key: ['kml', Date.parse('2019-01-04T06:12:01.016Z'), Date.parse('2019-01-04T07:41:11.016Z'), 52.0867453, 5.1384702, 'Home'],
      placeId: null,
      startedAt: new Date('2019-01-04T06:12:01.016Z'),
      endedAt: new Date('2019-01-04T07:41:11.016Z'),
      lat: 52.0867453,
      lon: 5.1384702,
      attributes: {
        name: 'Home',
        address: 'Wilhelminapark 12, 3581 NH Utrecht, Nederland',
        distanceM: 0,
        extendedData: { Email: 'someone@example.com' },
        description: 'from 2019-01-04T06:12:01.016Z to 2019-01-04T07:41:11.016Z. Distance 0m',
      },
    };
    const driving: ItemRecord = {
      type: 'item',
      source: LOCATION_KML_SOURCE_ID,
      key: ['activity_segment', Date.parse('2019-01-04T07:41:11.016Z'), Date.parse('2019-01-04T08:02:45.337Z'), 'Driving'],
      kind: 'activity_segment',
      occurredAt: new Date('2019-01-04T07:41:11.016Z'),
      utcOffsetMinutes: null,
      title: 'Driving',
      lat: 52.0867453,
      lon: 5.1384702,
      attributes: {
        distanceM: 8216,
        extendedData: { Email: 'someone@example.com' },
        description: 'Driving from 2019-01-04T07:41:11.016Z to 2019-01-04T08:02:45.337Z. Distance 8216m',
        activityType: 'Driving',
        endedAt: '2019-01-04T08:02:45.337Z',
        end: { lat: 52.1187654, lon: 5.0512345 },
        path: [
          [52.0867453, 5.1384702],
          [52.0901234, 5.1201001],
          [52.1002003, 5.099877],
          [52.1187654, 5.0512345],
        ],
      },
    };
    const cafe: VisitRecord = {
      type: 'visit',
      source: LOCATION_KML_SOURCE_ID,
      key: ['kml', Date.parse('2019-01-04T08:02:45.337Z'), Date.parse('2019-01-04T09:30:00.000Z'), 52.1187654, 5.0512345, 'Café De Zaak & Zo'],
      placeId: null,
      startedAt: new Date('2019-01-04T08:02:45.337Z'),
      endedAt: new Date('2019-01-04T09:30:00.000Z'),
      lat: 52.1187654,
      lon: 5.0512345,
      attributes: {
        name: 'Café De Zaak & Zo',
        address: 'Stationsplein 3, 3511 ED Utrecht, Nederland',
        category: 'Café',
        distanceM: 0,
        extendedData: { Email: 'someone@example.com' },
        // CDATA is literal: its `&` stays one.
        description: 'Café De Zaak & Zo from 2019-01-04T08:02:45.337Z to 2019-01-04T09:30:00.000Z. Distance 0m',
        utcOffsetMinutes: 60,
      },
    };
    assert.deepEqual(parsed.records, [home, driving, cafe]);
    assert.deepEqual(parsed.offsets, [placemarkOffset(bytes, '<name>Home'), placemarkOffset(bytes, '<name>Driving'), placemarkOffset(bytes, '<name>Caf')]);
    assert.equal(parsed.repairs.invalidUtf8, 0);
  });

  it('makes location points of Points dated by a TimeStamp, keeping altitude as altitudeMode says', async () => {
    const parsed = await parseFixture(locationKmlSource, 'timestamped-points.kml');
    assert.deepEqual(parsed.rejections, []);
    assert.deepEqual(parsed.records, [
      point('2020-08-01T10:30:00Z', 45.9763, 7.6586, { altitudeM: 4478, attributes: { name: 'Summit', utcOffsetMinutes: 120 } }),
      point('2020-08-02T07:00:00Z', 46.2044, 6.1432, { attributes: { name: 'Balloon', altitudeAboveGroundM: 350 } }),
      point('2020-08-03T18:45:10.500Z', 47.3782, 8.5402, { attributes: { name: 'Station' } }),
    ]);
  });
});

describe('google.location.kml: LineStrings dated by one TimeStamp', () => {
  it('makes a point of every vertex at the placemark’s one time, saying so; a MultiGeometry’s route too', async () => {
    const bytes = bytesOf('stamped-routes.kml');
    const parsed = await parseFixture(locationKmlSource, 'stamped-routes.kml');
    const loop = { name: 'Canal loop', utcOffsetMinutes: 120, timeFrom: 'placemark', vertices: 4 };
    const ferry = { name: 'Ferry and pier', timeFrom: 'placemark', vertices: 2 };
    assert.deepEqual(parsed.records, [
      point('2021-05-09T06:15:00Z', 52.374, 4.8839, { altitudeM: 2, attributes: { ...loop, vertex: 0 } }),
      point('2021-05-09T06:15:00Z', 52.3712, 4.8861, { altitudeM: 1, attributes: { ...loop, vertex: 1 } }),
      point('2021-05-09T06:15:00Z', 52.3725, 4.8902, { altitudeM: 3, attributes: { ...loop, vertex: 2 } }),
      // Back at its start: the same key as vertex 0, a duplicate when loaded.
      point('2021-05-09T06:15:00Z', 52.374, 4.8839, { altitudeM: 2, attributes: { ...loop, vertex: 3 } }),
      point('2021-05-09T12:00:00Z', 52.3791, 4.9003, { attributes: { name: 'Ferry and pier' } }),
      point('2021-05-09T12:00:00Z', 52.3791, 4.9003, { attributes: { ...ferry, vertex: 0 } }),
      point('2021-05-09T12:00:00Z', 52.3842, 4.9011, { attributes: { ...ferry, vertex: 1 } }),
    ]);
    assert.deepEqual(parsed.offsets, [...Array<number>(4).fill(placemarkOffset(bytes, '<name>Canal')), ...Array<number>(3).fill(placemarkOffset(bytes, '<name>Ferry'))]);
    // What is not loaded keeps its coordinates in the excerpt.
    assert.deepEqual(parsed.rejections, [
      {
        category: 'unsupported',
        reason: 'placemark "Undated route" has no TimeStamp, TimeSpan or gx:Track to date its LineString by',
        byteOffset: placemarkOffset(bytes, '<name>Undated'),
        excerpt: '4.91,52.36 4.92,52.37',
      },
    ]);
  });

  it('quarantines a placemark whose time is unreadable with its coordinates as written', async () => {
    const kml =
      '<kml><Placemark><name>Zoneless route</name><TimeStamp><when>2021-05-09T08:15:00</when></TimeStamp>' +
      '<MultiGeometry><Point><coordinates>5,52</coordinates></Point><LineString><coordinates>5.1,52.1\n 5.2,52.2</coordinates></LineString></MultiGeometry></Placemark>' +
      '<Placemark><name>Half span</name><TimeSpan><begin>2021-05-09T08:15:00Z</begin></TimeSpan><LineString><coordinates>6,51 6.1,51.1</coordinates></LineString></Placemark></kml>';
    const parsed = await parse(locationKmlSource, Buffer.from(kml));
    assert.deepEqual(parsed.records, []);
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.excerpt]),
      [
        ['invalid', 'placemark "Zoneless route": TimeStamp <when> "2021-05-09T08:15:00" is not an instant with a time zone', '5,52 | 5.1,52.1 5.2,52.2'],
        ['invalid', 'placemark "Half span": TimeSpan <end> is missing', '6,51 6.1,51.1'],
      ],
    );
  });

  it('quarantines a Polygon with its rings, alone or beside a Point that still loads', async () => {
    const ring = (text: string) => `<LinearRing><coordinates>${text}</coordinates></LinearRing>`;
    const kml =
      '<kml><Placemark><name>Field</name><TimeStamp><when>2024-01-01T10:00:00Z</when></TimeStamp>' +
      `<Polygon><outerBoundaryIs>${ring('5,52 5.1,52\n 5.1,52.1 5,52')}</outerBoundaryIs><innerBoundaryIs>${ring('5.02,52.02 5.03,52.02 5.02,52.02')}</innerBoundaryIs></Polygon></Placemark>` +
      '<Placemark><name>Mixed</name><TimeStamp><when>2024-01-01T11:00:00Z</when></TimeStamp>' +
      `<MultiGeometry><Point><coordinates>6,51</coordinates></Point><Polygon><outerBoundaryIs>${ring('6,51 6.1,51 6.1,51.1 6,51')}</outerBoundaryIs></Polygon></MultiGeometry></Placemark></kml>`;
    const parsed = await parse(locationKmlSource, Buffer.from(kml));
    assert.deepEqual(parsed.records, [point('2024-01-01T11:00:00Z', 51, 6, { attributes: { name: 'Mixed' } })]);
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.byteOffset, r.excerpt]),
      [
        ['unsupported', 'placemark "Field": a Polygon is not read (Point, LineString and gx:Track are)', kml.indexOf('<Polygon>'), '5,52 5.1,52 5.1,52.1 5,52 | 5.02,52.02 5.03,52.02 5.02,52.02'],
        ['unsupported', 'placemark "Mixed": a Polygon is not read (Point, LineString and gx:Track are)', kml.lastIndexOf('<Polygon>'), '6,51 6.1,51 6.1,51.1 6,51'],
      ],
    );
  });
});

describe('google.location.kml: bad values and damaged files', () => {
  it('quarantines each bad value naming its placemark, at the element at fault, and keeps the rest', async () => {
    const bytes = bytesOf('bad-values.kml');
    const parsed = await parseFixture(locationKmlSource, 'bad-values.kml');
    const at = (marker: string, nth = 0) => offsetOf(bytes, marker, nth);
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.byteOffset]),
      [
        ['invalid', 'placemark "Bakery": coordinates "4.8952,abc,0" is not made of decimal numbers', at('<coordinates>4.8952,abc')],
        ['invalid', 'placemark "North of the pole": coordinates "4.8952,91.5" is out of range (latitude 91.5, longitude 4.8952)', at('<coordinates>4.8952,91.5')],
        ['invalid', 'placemark "Library": TimeSpan <end> is missing', bytes.lastIndexOf('<TimeSpan>', at('2019-03-01T10:00:00Z'))],
        ['invalid', 'placemark "Zoneless": TimeStamp <when> "2019-03-01T11:00:00" is not an instant with a time zone', at('<when>2019-03-01T11:00:00<')],
        ['unsupported', 'placemark "Undated" has no TimeStamp, TimeSpan or gx:Track to date its Point by', placemarkOffset(bytes, '<name>Undated')],
        ['invalid', 'placemark "Walk": gx:coord "4.9002 north 0" is not made of decimal numbers; its fix is not imported', at('<gx:coord>4.9002')],
        ['invalid', 'placemark "Walk": gx:Track <when> "2019-03-01" is not an instant with a time zone; its fix is not imported', at('<when>2019-03-01<')],
        ['malformed', 'placemark "Walk": gx:Track has 1 <gx:coord> without a <when> (4 paired)', at('<gx:coord>4.9005')],
      ],
    );
    // A bad half loses its pair only: the fixes before and after it stay.
    assert.deepEqual(parsed.records, [point('2019-03-01T12:00:00Z', 52.3701, 4.9001), point('2019-03-01T12:03:00Z', 52.3704, 4.9004)]);
  });

  it('keeps the placemarks before a cut and says where the file ends', async () => {
    const bytes = bytesOf('truncated.kml');
    const parsed = await parseFixture(locationKmlSource, 'truncated.kml');
    assert.deepEqual(
      parsed.records.map((r) => (r as VisitRecord).attributes?.name),
      ['Home'],
    );
    assert.deepEqual(parsed.rejections, [{ category: 'malformed', reason: 'the file ends inside placemark "Driving": it was cut short', byteOffset: bytes.length, excerpt: null }]);

    const afterPlacemark = bytesOf('history-2019-01-04.kml');
    const cut = afterPlacemark.subarray(0, afterPlacemark.indexOf('</Placemark>') + '</Placemark>'.length);
    const atBoundary = await parse(locationKmlSource, cut);
    assert.equal(atBoundary.records.length, 1);
    assert.deepEqual(atBoundary.rejections, [{ category: 'malformed', reason: 'the file ends before </kml>: it was cut short', byteOffset: cut.length, excerpt: null }]);
  });

  it('refuses what is not location KML, naming what it is', async () => {
    const gpx = await parse(locationKmlSource, Buffer.from('<?xml version="1.0"?><gpx><trk/></gpx>'), { path: 'history-2019-01-04.kml' });
    assert.deepEqual(gpx.rejections.map((r) => [r.category, r.reason]), [['unsupported', 'the root element is <gpx>, not <kml>']]);
    const empty = Buffer.from('<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Nothing</name></Document></kml>');
    assert.deepEqual((await parse(locationKmlSource, empty)).rejections.map((r) => [r.category, r.reason]), [['unsupported', `no Placemark or gx:Track in ${empty.length} bytes of KML`]]);
    const utf16 = await parse(locationKmlSource, Buffer.from('<?xml version="1.0" encoding="UTF-16"?><kml/>'));
    assert.deepEqual(utf16.rejections.map((r) => [r.category, r.reason]), [['unsupported', 'KML declared in the utf-16 encoding, which is not read (UTF-8 and ISO-8859-1 are)']]);
    assert.deepEqual(utf16.records, []);
  });

  it('refuses a route, or a placemark, too long to hold, naming the placemark', async () => {
    const tuples = Array.from({ length: 100 }, (_, k) => `5.${k},52.${k},0`).join(' ');
    const kml = `<kml><Placemark><name>Marathon</name><LineString><coordinates>${tuples}</coordinates></LineString><TimeSpan><begin>2019-01-01T10:00:00Z</begin><end>2019-01-01T14:00:00Z</end></TimeSpan></Placemark></kml>`;
    const parsed = await parseKmlWithLimits(Buffer.from(kml), { maxTextBytes: 500 });
    assert.deepEqual(parsed.records, []);
    assert.deepEqual(parsed.rejections.map((r) => [r.category, r.reason, r.byteOffset]), [
      ['too_large', 'placemark "Marathon": a <coordinates> element holds more than 500 bytes of text', kml.indexOf('<coordinates>')],
    ]);
    assert.equal((await parseKmlWithLimits(Buffer.from(kml), {})).records.length, 1);

    // Many small geometries add up: the placemark is held until it closes, within the same bound.
    const points = Array.from({ length: 40 }, (_, k) => `<Point><coordinates>5.${k},52.${k}</coordinates></Point>`).join('');
    const scattered = `<kml><Placemark><name>Scattered</name><MultiGeometry>${points}</MultiGeometry><TimeStamp><when>2019-01-01T10:00:00Z</when></TimeStamp></Placemark></kml>`;
    const refused = await parseKmlWithLimits(Buffer.from(scattered), { maxTextBytes: 200 });
    assert.deepEqual(refused.records, []);
    assert.deepEqual(refused.rejections.map((r) => [r.category, r.reason, r.byteOffset]), [
      ['too_large', 'placemark "Scattered" holds more than 200 bytes of text: it is not imported', scattered.indexOf('<Placemark>')],
    ]);
    assert.equal((await parseKmlWithLimits(Buffer.from(scattered), {})).records.length, 40);
  });

  it('decodes Latin-1 when the declaration says so, and counts invalid UTF-8 otherwise', async () => {
    const body = (name: Buffer) =>
      Buffer.concat([
        Buffer.from('<kml><Placemark><name>'),
        name,
        Buffer.from('</name><TimeStamp><when>2019-01-01T10:00:00Z</when></TimeStamp><Point><coordinates>5,52</coordinates></Point></Placemark></kml>'),
      ]);
    const latin1 = await parse(locationKmlSource, Buffer.concat([Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>'), body(Buffer.from('Gr\xfcnwald', 'latin1'))]));
    assert.equal((latin1.records[0] as LocationPointRecord).attributes?.name, 'Grünwald');
    assert.equal(latin1.repairs.invalidUtf8, 0);
    const broken = await parse(locationKmlSource, body(Buffer.from('Gr\xfcnwald \xef\xbf\xbd', 'latin1')));
    assert.equal((broken.records[0] as LocationPointRecord).attributes?.name, 'Gr\ufffdnwald \ufffd');
    assert.equal(broken.repairs.invalidUtf8, 1);
  });

  for (const name of ['Location History.kml', 'track-prefixed.kml', 'history-2019-01-04.kml', 'timestamped-points.kml', 'stamped-routes.kml', 'bad-values.kml', 'truncated.kml']) {
    it(`${name}: the same events whatever the chunk boundaries`, async () => {
      const whole = await parseFixture(locationKmlSource, name);
      for (const size of [1, 2, 3, 7, 61]) assert.deepEqual(await parseFixture(locationKmlSource, name, size), whole, `chunks of ${size}`);
    });
  }
});

describe('google.location.edits', () => {
  it('stores located raw signals as points with their device exactly, detected activities, wifi scan counts and aggregate places', async () => {
    const bytes = bytesOf('Timeline Edits.json');
    const parsed = await parseFixture(timelineEditsSource, 'Timeline Edits.json');
    const element = (marker: string) => bytes.lastIndexOf('{\n    "deviceId"', offsetOf(bytes, marker));
    const points = ofType(parsed.records, 'location_point');
    assert.deepEqual(points, [
      {
        type: 'location_point',
        source: TIMELINE_EDITS_SOURCE_ID,
        key: [Date.parse('2024-02-17T04:14:41.412Z'), 426974802, -778539156, 100000, '-538926953'],
        recordedAt: new Date('2024-02-17T04:14:41.412Z'),
        lat: 42.6974802,
        lon: -77.8539156,
        accuracyM: 100,
        altitudeM: 224,
        velocityMps: null,
        device: '-538926953',
        attributes: { source: 'WIFI', additionalTimestamp: '2024-02-17T04:14:39.545Z', platform: 'ANDROID' },
      },
      {
        type: 'location_point',
        source: TIMELINE_EDITS_SOURCE_ID,
        // Every digit of a 64-bit deviceId, in the column and in the key.
        key: [Date.parse('2024-02-17T04:54:00.932Z'), 426994475, -778539281, 13000, '7012345678901234567'],
        recordedAt: new Date('2024-02-17T04:54:00.932Z'),
        lat: 42.6994475,
        lon: -77.8539281,
        accuracyM: 13,
        altitudeM: null,
        velocityMps: 1.5,
        device: '7012345678901234567',
        attributes: { source: 'GPS', utcOffsetMinutes: 60, platform: 'ANDROID' },
      },
    ]);
    assert.deepEqual(ofType(parsed.records, 'item'), [
      {
        type: 'item',
        source: TIMELINE_EDITS_SOURCE_ID,
        key: ['activity_detected', Date.parse('2024-02-17T05:26:47.066Z'), 'STILL', '-538926953'],
        kind: 'activity_detected',
        occurredAt: new Date('2024-02-17T05:26:47.066Z'),
        utcOffsetMinutes: null,
        title: 'STILL',
        attributes: {
          probability: 0.96,
          activities: [
            { type: 'STILL', probability: 0.96 },
            { type: 'ON_FOOT', probability: 0.02 },
          ],
          device: '-538926953',
        },
      } satisfies ItemRecord,
    ]);
    assert.deepEqual(ofType(parsed.records, 'measurement'), [
      {
        type: 'measurement',
        source: TIMELINE_EDITS_SOURCE_ID,
        key: ['wifi_access_points', Date.parse('2024-02-17T04:26:44.661Z'), '-538926953'],
        measuredAt: new Date('2024-02-17T04:26:44.661Z'),
        metric: 'wifi_access_points',
        value: 3,
        unit: 'count',
        attributes: { strongestRssiDbm: -51, weakestRssiDbm: -58, source: 'ACTIVE_SCAN', device: '-538926953' },
      } satisfies MeasurementRecord,
    ]);
    // MAC addresses are not kept anywhere.
    assert.doesNotMatch(JSON.stringify(parsed.records), /145830537259886/);
    // Each place once, at its placePoint, else its point; the second aggregate window repeats the first place.
    assert.deepEqual(ofType(parsed.records, 'place'), [
      { type: 'place', source: TIMELINE_EDITS_SOURCE_ID, key: ['ChIJfixtureAggregateOne'], placeId: 'ChIJfixtureAggregateOne', lat: 42.9362442, lon: -78.8308585 },
      { type: 'place', source: TIMELINE_EDITS_SOURCE_ID, key: ['ChIJfixtureAggregateTwo'], placeId: 'ChIJfixtureAggregateTwo', lat: 42.6994475, lon: -77.8539281 },
    ] satisfies PlaceRecord[]);
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.byteOffset]),
      [
        ['invalid', 'rawSignal position without a readable point (latE7/lngE7) or timestamp ("2024-02-17T06:00:00.000Z")', element('"accuracyMm": 5000')],
        ['unsupported', '1 rawSignal bluetoothScan entry not imported (no record type holds them)', element('bluetoothScan')],
      ],
    );
    assert.deepEqual(parsed.offsets.slice(0, 2), [element('"accuracyMm": 100000'), element('"accuracyMm": 13000')]);
  });

  it('says what the file holds when it has no timelineEdits array, and rejects elements that are not objects', async () => {
    const other = await parse(timelineEditsSource, Buffer.from('{"somethingElse": []}'), { path: 'Timeline Edits.json' });
    assert.deepEqual(other.rejections.map((r) => [r.category, r.reason]), [['unsupported', 'no "timelineEdits" array found: the file holds an object with keys "somethingElse"']]);
    const odd = await parse(timelineEditsSource, Buffer.from('{"timelineEdits": [3, {"deviceId": "1", "rawSignal": {}}]}'));
    assert.deepEqual(odd.rejections.map((r) => [r.category, r.reason]), [
      ['invalid', 'a "timelineEdits" element that is not an object'],
      ['invalid', 'rawSignal without a "signal" object'],
    ]);
  });
});

describe('google.location.settings', () => {
  it('stores each device as a location_device item keyed by its exact deviceTag, and the account settings', async () => {
    const exportedAt = new Date('2024-03-01T12:00:00Z');
    const parsed = await parse(locationSettingsSource, bytesOf('Settings.json'), { path: 'Settings.json', exportedAt });
    const revision = exportedAt.getTime();
    const items = ofType(parsed.records, 'item');
    assert.deepEqual(
      items.map((item) => [item.kind, item.key, item.title, item.occurredAt.toISOString(), item.revision, item.attributes?.deviceTag ?? null, item.attributes?.occurredAtFrom ?? null]),
      [
        ['location_device', ['location_device', '1234567890'], 'ONEPLUS A6013', '2019-01-07T18:13:23.713Z', revision, '1234567890', null],
        ['location_device', ['location_device', '-7012345678901234567'], 'Pixel 7', '2022-11-02T09:00:00.000Z', revision, '-7012345678901234567', null],
        // No deviceCreationTime: the account's createdTime, saying so; no devicePrettyName: the model.
        ['location_device', ['location_device', '424242'], 'iPhone12,1', '2013-05-15T21:53:59.385Z', revision, '424242', 'createdTime'],
        ['location_settings', ['location_settings'], 'Location History settings', '2013-05-15T21:53:59.385Z', revision, null, null],
      ],
    );
    assert.deepEqual(items[0]!.attributes, {
      deviceTag: '1234567890',
      reportingEnabled: true,
      legalCountryCode: 'es',
      devicePrettyName: 'ONEPLUS A6013',
      platformType: 'ANDROID',
      latestLocationReportingSettingChange: { reportingEnabledModificationTime: '2019-01-07T18:13:24.673Z' },
      androidOsLevel: 28,
      deviceSpec: { manufacturer: 'OnePlus', brand: 'OnePlus', product: 'OnePlus6T', device: 'OnePlus6T', model: 'ONEPLUS A6013', isLowRam: false },
    });
    assert.deepEqual(items[3]!.attributes, {
      createdTime: '2013-05-15T21:53:59.385Z',
      modifiedTime: '2020-07-01T21:27:31.880Z',
      historyEnabled: true,
      retentionWindowDays: 2147483647,
      hasReportedLocations: true,
      hasSetRetention: false,
    });
    assert.deepEqual(parsed.rejections.map((r) => [r.category, r.reason]), [['invalid', 'device "Tagless tablet" without a deviceTag: its points could not be matched to it']]);
  });

  it('without any time to date a device by, rejects it naming it; without an export time, no revision', async () => {
    const parsed = await parse(locationSettingsSource, Buffer.from('{"deviceSettings": [{"deviceTag": 5, "devicePrettyName": "Old phone"}]}'));
    assert.deepEqual(parsed.records, []);
    assert.deepEqual(parsed.rejections.map((r) => [r.category, r.reason]), [
      ['invalid', 'device "Old phone" (deviceTag 5) has no readable deviceCreationTime (undefined), nor the file a createdTime'],
      ['invalid', 'Location History settings without a readable createdTime (undefined): the account settings are not stored'],
    ]);
    const dated = await parse(locationSettingsSource, Buffer.from('{"deviceSettings": [{"deviceTag": 5, "deviceCreationTime": "2015-01-01T00:00:00Z"}]}'));
    assert.equal((dated.records[0] as ItemRecord).revision, null);
    assert.equal((dated.records[0] as ItemRecord).title, null);
  });
});

describe('through the import', () => {
  let t: TestLake;
  let dir: string;
  before(async () => {
    t = await openTestLake();
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-location-extra-'));
  });
  after(async () => {
    await t.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const FILES = ['Records.json', 'Settings.json', 'Timeline Edits.json', 'Location History.kml', 'history-2019-01-04.kml', 'bad-values.kml'];

  async function exportFolder(name: string, mtime: Date): Promise<string> {
    const folder = path.join(dir, name, 'Takeout', 'Location History');
    await mkdir(folder, { recursive: true });
    for (const file of FILES) {
      await copyFile(new URL(encodeURIComponent(file), FIXTURES), path.join(folder, file));
      await utimes(path.join(folder, file), mtime, mtime);
    }
    return path.join(dir, name);
  }

  async function importAs(user: string, input: string) {
    const report = await runImport(t.lake.db, { userId: user, inputs: [input], batchSize: 3, sources: ALL_SOURCES });
    assert.notEqual(report.status, 'failed');
    return report;
  }

  it('recognises every file, loads its records, names the points’ devices, quarantines bad values naming the place; a re-import adds nothing', async () => {
    const user = await createUser(t.lake, 'location-extra');
    const input = await exportFolder('first', new Date('2024-03-01T12:00:00Z'));
    const report = await importAs(user, input);
    const formats = Object.fromEntries(report.files.map((file) => [path.basename(file.path), file.format]));
    assert.deepEqual(formats, {
      'Records.json': 'google.location.records',
      'Settings.json': LOCATION_SETTINGS_SOURCE_ID,
      'Timeline Edits.json': TIMELINE_EDITS_SOURCE_ID,
      'Location History.kml': LOCATION_KML_SOURCE_ID,
      'history-2019-01-04.kml': LOCATION_KML_SOURCE_ID,
      'bad-values.kml': LOCATION_KML_SOURCE_ID,
    });

    const rows = await t.lake.db.asUser(user, async (tx) => ({
      points: (await tx.query<{ source: string; n: number }>(`SELECT source, count(*)::int AS n FROM timeseries.location_points GROUP BY source ORDER BY source`)).rows,
      visits: (await tx.query<{ name: string; started_at: Date; lat: number }>(`SELECT attributes->>'name' AS name, started_at, lat FROM user_data.visits ORDER BY started_at`)).rows,
      named: (
        await tx.query<{ device: string; title: string }>(
          `SELECT p.device, d.title FROM timeseries.location_points p
             JOIN user_data.items d ON d.kind = 'location_device' AND d.attributes->>'deviceTag' = p.device
            WHERE p.source = 'google.location.records' ORDER BY p.recorded_at`,
        )
      ).rows,
      kinds: (await tx.query<{ source: string; kind: string; n: number }>(`SELECT source, kind, count(*)::int AS n FROM user_data.items GROUP BY 1, 2 ORDER BY 1, 2`)).rows,
      quarantine: (await tx.query<{ entry: string; category: string; reason: string }>(`SELECT entry, category, reason FROM imports.quarantine ORDER BY byte_offset, reason`)).rows,
    }));
    assert.deepEqual(rows.points, [
      { source: TIMELINE_EDITS_SOURCE_ID, n: 2 },
      { source: LOCATION_KML_SOURCE_ID, n: 6 },
      { source: 'google.location.records', n: 2 },
    ]);
    assert.deepEqual(
      rows.visits.map((visit) => [visit.name, visit.started_at.toISOString(), visit.lat]),
      [
        ['Home', '2019-01-04T06:12:01.016Z', 52.0867453],
        ['Café De Zaak & Zo', '2019-01-04T08:02:45.337Z', 52.1187654],
      ],
    );
    // The 64-bit tag joins its device in full: the points of Records.json are named.
    assert.deepEqual(rows.named, [
      { device: '-7012345678901234567', title: 'Pixel 7' },
      { device: '1234567890', title: 'ONEPLUS A6013' },
    ]);
    assert.deepEqual(rows.kinds, [
      { source: TIMELINE_EDITS_SOURCE_ID, kind: 'activity_detected', n: 1 },
      { source: LOCATION_KML_SOURCE_ID, kind: 'activity_segment', n: 1 },
      { source: LOCATION_SETTINGS_SOURCE_ID, kind: 'location_device', n: 3 },
      { source: LOCATION_SETTINGS_SOURCE_ID, kind: 'location_settings', n: 1 },
    ]);
    const bad = rows.quarantine.filter((row) => row.entry.endsWith('bad-values.kml'));
    assert.equal(bad.length, 8);
    assert.ok(bad.some((row) => row.category === 'invalid' && row.reason.startsWith('placemark "Bakery": coordinates "4.8952,abc,0"')));
    assert.ok(bad.some((row) => row.category === 'invalid' && row.reason.startsWith('placemark "North of the pole"')));
    const badFile = report.files.find((file) => file.path.endsWith('bad-values.kml'))!;
    assert.deepEqual([badFile.status, badFile.counts, badFile.quarantined], ['done', { points: 2 }, { invalid: 6, unsupported: 1, malformed: 1 }]);

    const again = await importAs(user, input);
    assert.equal(again.totals.records, 0);
    assert.equal(again.totals.updated, 0);
    assert.equal(again.totals.duplicates, report.totals.records);
  });

  it('a route dated by one TimeStamp is on the map, a vertex written twice stored once, the undated route in quarantine', async () => {
    const user = await createUser(t.lake, 'location-extra-routes');
    const folder = path.join(dir, 'routes', 'Takeout', 'Location History');
    await mkdir(folder, { recursive: true });
    await copyFile(new URL('stamped-routes.kml', FIXTURES), path.join(folder, 'stamped-routes.kml'));
    const report = await importAs(user, path.join(dir, 'routes'));
    const file = report.files.find((entry) => entry.path.endsWith('stamped-routes.kml'))!;
    assert.deepEqual([file.format, file.status, file.counts, file.duplicates, file.quarantined], [LOCATION_KML_SOURCE_ID, 'done', { points: 5 }, 2, { unsupported: 1 }]);
    const rows = await t.lake.db.asUser(user, async (tx) => ({
      points: (
        await tx.query<{ lat: number; lon: number; vertex: string | null; time_from: string | null }>(
          `SELECT lat, lon, attributes->>'vertex' AS vertex, attributes->>'timeFrom' AS time_from FROM timeseries.location_points ORDER BY recorded_at, lat`,
        )
      ).rows,
      quarantine: (await tx.query<{ reason: string; excerpt: string | null }>(`SELECT reason, excerpt FROM imports.quarantine`)).rows,
    }));
    assert.deepEqual(rows.points, [
      { lat: 52.3712, lon: 4.8861, vertex: '1', time_from: 'placemark' },
      { lat: 52.3725, lon: 4.8902, vertex: '2', time_from: 'placemark' },
      { lat: 52.374, lon: 4.8839, vertex: '0', time_from: 'placemark' },
      // The pier's Point came first: the route's first vertex at the same place and time is a duplicate of it.
      { lat: 52.3791, lon: 4.9003, vertex: null, time_from: null },
      { lat: 52.3842, lon: 4.9011, vertex: '1', time_from: 'placemark' },
    ]);
    assert.deepEqual(rows.quarantine, [{ reason: 'placemark "Undated route" has no TimeStamp, TimeSpan or gx:Track to date its LineString by', excerpt: '4.91,52.36 4.92,52.37' }]);
  });

  it('a later export’s Settings.json replaces the stored devices (a rename), an earlier one’s does not', async () => {
    const user = await createUser(t.lake, 'location-extra-settings');
    const settingsOnly = async (name: string, mtime: Date, rename: string) => {
      const folder = path.join(dir, name, 'Takeout', 'Location History');
      await mkdir(folder, { recursive: true });
      const file = path.join(folder, 'Settings.json');
      await writeFile(file, bytesOf('Settings.json').toString('utf8').replace('"devicePrettyName": "Pixel 7"', `"devicePrettyName": ${JSON.stringify(rename)}`));
      await utimes(file, mtime, mtime);
      return importAs(user, path.join(dir, name));
    };
    const title = async () =>
      (await t.lake.db.asUser(user, (tx) => tx.query<{ title: string }>(`SELECT title FROM user_data.items WHERE attributes->>'deviceTag' = '-7012345678901234567'`))).rows.map((row) => row.title);

    await settingsOnly('settings-2023', new Date('2023-01-01T00:00:00Z'), 'Pixel 7');
    assert.deepEqual(await title(), ['Pixel 7']);
    const newer = await settingsOnly('settings-2024', new Date('2024-01-01T00:00:00Z'), 'Work phone');
    assert.deepEqual(await title(), ['Work phone']);
    assert.equal(newer.totals.updated, 4);
    await settingsOnly('settings-2022', new Date('2022-01-01T00:00:00Z'), 'Old name');
    assert.deepEqual(await title(), ['Work phone']);
  });
});
