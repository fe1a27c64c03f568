// Google Fit activities as TCX (google.fit.activities): `Fit/Activities/*.tcx` in Takeout, and any
// TCX v2 file found by its root element. Fixtures (test/fixtures/google/fit-tcx/) are written here
// from the published TrainingCenterDatabase v2 and ActivityExtension v2 schemas: a two-lap run
// with heart rate and speed, a walk with pauses (two tracks in a lap, trackpoints without a
// position, a resting lap), bad values, and the run cut short. Parsed directly, in chunks down to
// one byte, and through the import on the backend the test lake runs on (LAKE_TEST_DATABASE_URL:
// a PostgreSQL server).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { LakeRecord, LocationPointRecord, MeasurementRecord, ParseEvent, Rejection } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import { detectSource, SOURCES } from '../src/ingest/sources/all.js';
import { FIT_ACTIVITIES_SOURCE_ID, fitActivitiesSource } from '../src/ingest/sources/google/fit/activities-tcx.js';
import { validateRecord } from '../src/ingest/validate/validate.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const FIXTURES = new URL('./fixtures/google/fit-tcx/', import.meta.url);
const RUN = '2019-05-04T10_15_30+02_00_RUNNING.tcx';
const WALK = '2019-06-01T07_00_00+02_00_WALKING.tcx';
const BAD = 'bad-values.tcx';
const CUT = 'truncated.tcx';

const bytesOf = (name: string) => readFileSync(new URL(encodeURIComponent(name), FIXTURES));

interface Parsed {
  events: ParseEvent[];
  points: LocationPointRecord[];
  measurements: MeasurementRecord[];
  rejections: Rejection[];
}

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function parse(bytes: Buffer, chunkSize = 65536, file = 'Takeout/Fit/Activities/x.tcx'): Promise<Parsed> {
  const events: ParseEvent[] = [];
  const context = { path: file, repairs: { invalidUtf8: 0, nulCharacters: 0 } };
  for await (const event of fitActivitiesSource.parse(Readable.from(chunksOf(bytes, chunkSize)), context)) events.push(event);
  const records: LakeRecord[] = events.flatMap((event) => (event.kind === 'record' ? [event.record] : []));
  return {
    events,
    points: records.filter((r): r is LocationPointRecord => r.type === 'location_point'),
    measurements: records.filter((r): r is MeasurementRecord => r.type === 'measurement'),
    rejections: events.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : [])),
  };
}

/** Byte offset of the `nth` (0-based) occurrence of `marker`. */
function offsetOf(bytes: Buffer, marker: string, nth = 0): number {
  let at = -1;
  for (let k = 0; k <= nth; k++) {
    at = bytes.indexOf(marker, at + 1);
    assert.ok(at >= 0, `occurrence ${nth} of ${marker}`);
  }
  return at;
}

/** 1-based line of a byte offset, counted here without the parser. */
const lineAt = (bytes: Buffer, offset: number) => bytes.subarray(0, offset).toString('latin1').split('\n').length;

const probeOf = (file: string, head: Buffer | string) => {
  const bytes = typeof head === 'string' ? Buffer.from(head) : head;
  return { path: file, head: bytes.subarray(0, 65536), size: bytes.length };
};

const heartRates = (parsed: Parsed) => parsed.measurements.filter((m) => m.metric === 'heart_rate_bpm').map((m) => [m.measuredAt.toISOString(), m.value]);
const totals = (parsed: Parsed) =>
  Object.fromEntries(parsed.measurements.filter((m) => !['heart_rate_bpm', 'speed_mps'].includes(m.metric)).map((m) => [m.metric, [m.measuredAt.toISOString(), m.value, m.unit]]));

describe('google.fit.activities: detection', () => {
  it('is registered, and recognises a TCX file by its content under any name, and no other source does', () => {
    assert.ok(SOURCES.some((source) => source.id === FIT_ACTIVITIES_SOURCE_ID));
    for (const name of [RUN, WALK, BAD, CUT]) {
      const probe = probeOf('Takeout/Drive/workout export (3).xml', bytesOf(name));
      const claims = SOURCES.filter((source) => source.detect(probe) === 'content').map((source) => source.id);
      assert.deepEqual(claims, [FIT_ACTIVITIES_SOURCE_ID], name);
      assert.equal(detectSource(probe)?.id, FIT_ACTIVITIES_SOURCE_ID);
    }
    const prefixed = '\ufeff<?xml version="1.0"?>\n<!-- from a watch -->\n<tcx:TrainingCenterDatabase xmlns:tcx="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">';
    assert.equal(fitActivitiesSource.detect(probeOf('a.bin', prefixed)), 'content');
  });

  it('falls back to the .tcx name (Fit/Activities/, its localized folders, anywhere) when the head does not show the root', () => {
    for (const file of ['Takeout/Fit/Activities/2019-05-04T10_15_30+02_00_RUNNING.tcx', 'Takeout/Fit/Aktivitäten/2019-05-04T10_15_30+02_00_RUNNING.tcx', 'Takeout/Drive/ride.TCX']) {
      assert.equal(fitActivitiesSource.detect(probeOf(file, '\n')), 'path', file);
    }
    assert.equal(fitActivitiesSource.detect(probeOf('Takeout/Fit/Activities/notes.xml', '<?xml version="1.0"?><gpx><trk/></gpx>')), null);
    assert.equal(fitActivitiesSource.detect(probeOf('Takeout/Drive/x.kml', '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><TimeStamp>')), null);
  });
});

describe('google.fit.activities: a two-lap run with heart rate and speed', () => {
  it('makes a location point per positioned trackpoint, a heart-rate measurement per reading, and the activity’s totals', async () => {
    const bytes = bytesOf(RUN);
    const parsed = await parse(bytes);
    assert.deepEqual(parsed.rejections, []);
    assert.equal(parsed.points.length, 5);
    const id = '2019-05-04T08:15:30.000Z';
    assert.deepEqual(parsed.points[1], {
      type: 'location_point',
      source: FIT_ACTIVITIES_SOURCE_ID,
      key: ['google-fit-activity', id, Date.parse('2019-05-04T08:17:00.000Z'), 48.138012, 11.580231],
      recordedAt: new Date('2019-05-04T08:17:00.000Z'),
      lat: 48.138012,
      lon: 11.580231,
      altitudeM: 520.1,
      velocityMps: 3.42,
      attributes: { activity: 'Running', activityId: id, lapIndex: 0, distanceM: 310.2 },
    });
    const last = parsed.points[4]!;
    assert.deepEqual(
      [last.recordedAt.toISOString(), last.lat, last.lon, last.altitudeM, last.velocityMps, last.attributes],
      ['2019-05-04T08:25:20.500Z', 48.145533, 11.59987, 522.2, 3.52, { activity: 'Running', activityId: id, lapIndex: 1, distanceM: 2000 }],
    );
    assert.deepEqual(parsed.points.map((p) => p.velocityMps), [0, 3.42, 3.31, 3.45, 3.52]);
    assert.deepEqual(heartRates(parsed), [
      ['2019-05-04T08:15:30.000Z', 92],
      ['2019-05-04T08:17:00.000Z', 141],
      ['2019-05-04T08:20:30.500Z', 152],
      ['2019-05-04T08:23:00.000Z', 157],
      ['2019-05-04T08:25:20.500Z', 163],
    ]);
    const hr = parsed.measurements.find((m) => m.metric === 'heart_rate_bpm' && m.value === 157)!;
    assert.deepEqual([hr.unit, hr.key, hr.attributes], ['bpm', ['google-fit-activity', id, Date.parse('2019-05-04T08:23:00.000Z'), 'heart_rate_bpm'], { activity: 'Running', activityId: id, lapIndex: 1 }]);

    // The activity: as a Fit session's measurements, at its start, with the laps.
    assert.deepEqual(totals(parsed), {
      session_duration_s: [id, 590.5, 's'],
      distance_m: [id, 2000, 'm'],
      calories_kcal: [id, 142, 'kcal'],
    });
    const duration = parsed.measurements.find((m) => m.metric === 'session_duration_s')!;
    assert.deepEqual(duration.key, ['google-fit-activity', id, 'Running', 'session_duration_s']);
    assert.deepEqual(duration.attributes, {
      activity: 'Running',
      activityId: id,
      durationFrom: 'laps',
      endedAt: '2019-05-04T08:25:20.500Z',
      laps: [
        { startedAt: '2019-05-04T08:15:30.000Z', totalTimeS: 300.5, distanceM: 1000, calories: 72, intensity: 'Active' },
        { startedAt: '2019-05-04T08:20:30.500Z', totalTimeS: 290, distanceM: 1000, calories: 70, intensity: 'Active' },
      ],
    });

    // Offsets: a trackpoint's records at its <Trackpoint>, the totals at its <Activity>.
    const offsets = parsed.events.flatMap((event) => (event.kind === 'record' ? [event.offset] : []));
    assert.equal(offsets[0], offsetOf(bytes, '<Trackpoint>'));
    assert.equal(offsets[offsets.length - 1], offsetOf(bytes, '<Activity '));
    for (const event of parsed.events) if (event.kind === 'record') assert.ok(validateRecord(event.record).ok);
  });

  it('gives the same events whatever the chunks the file arrives in', async () => {
    for (const name of [RUN, WALK, BAD, CUT]) {
      const whole = await parse(bytesOf(name));
      for (const size of [1, 7, 300]) assert.deepEqual(await parse(bytesOf(name), size), whole, `${name} in chunks of ${size}`);
    }
  });
});

describe('google.fit.activities: pauses and trackpoints without a position', () => {
  it('keeps the measurements of trackpoints without a position, the speed of one as speed_mps, and reads the time zone', async () => {
    const parsed = await parse(bytesOf(WALK));
    assert.deepEqual(parsed.rejections, []);
    assert.deepEqual(
      parsed.points.map((p) => [p.recordedAt.toISOString(), p.lat, p.lon, p.altitudeM, p.velocityMps, p.attributes?.lapIndex, p.attributes?.utcOffsetMinutes]),
      [
        ['2019-06-01T05:00:00.000Z', -33.86882, 151.20929, 12, null, 0, 120],
        ['2019-06-01T05:10:00.000Z', -33.870001, 151.212002, null, null, 0, 120],
      ],
    );
    assert.deepEqual(heartRates(parsed), [
      ['2019-06-01T05:00:00.000Z', 88],
      ['2019-06-01T05:04:00.000Z', 104],
      ['2019-06-01T05:11:00.000Z', 79],
    ]);
    assert.deepEqual(
      parsed.measurements.filter((m) => m.metric === 'speed_mps').map((m) => [m.measuredAt.toISOString(), m.value, m.unit]),
      [['2019-06-01T05:07:30.000Z', 1.25, 'm/s']],
    );
    // The pause marker (a Time alone) gives nothing; the resting lap counts in the totals.
    assert.equal(parsed.events.length, 2 + 3 + 1 + 3);
    assert.deepEqual(totals(parsed), {
      session_duration_s: ['2019-06-01T05:00:00.000Z', 720, 's'],
      distance_m: ['2019-06-01T05:00:00.000Z', 720.5, 'm'],
      calories_kcal: ['2019-06-01T05:00:00.000Z', 44, 'kcal'],
    });
    const duration = parsed.measurements.find((m) => m.metric === 'session_duration_s')!;
    assert.equal(duration.attributes?.activity, 'Other');
    assert.equal(duration.attributes?.utcOffsetMinutes, 120);
    assert.equal(duration.attributes?.endedAt, '2019-06-01T05:12:00.000Z');
    assert.deepEqual((duration.attributes!.laps as { intensity: string }[]).map((lap) => lap.intensity), ['Active', 'Resting']);
  });
});

describe('google.fit.activities: bad values and damaged files', () => {
  it('quarantines each bad value at its element, with its line, and keeps the rest of the trackpoint and the file', async () => {
    const bytes = bytesOf(BAD);
    const parsed = await parse(bytes);
    const at = (marker: string) => {
      const offset = offsetOf(bytes, marker);
      return [offset, lineAt(bytes, offset)];
    };
    const label = 'activity 2020-08-15T16:00:00Z lap 1';
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.byteOffset, r.line, r.excerpt]),
      [
        ['invalid', `${label}: trackpoint Time "2020-08-15 16:05" is not an instant with a time zone; its values are not imported`, ...at('<Time>2020-08-15 16:05'), '2020-08-15 16:05'],
        [
          'invalid',
          `${label}: Position is out of range (latitude 151.509, longitude -0.129); the trackpoint's position is not imported`,
          bytes.lastIndexOf('<Position>', offsetOf(bytes, '151.509')),
          lineAt(bytes, offsetOf(bytes, '151.509')),
          '151.509 -0.129',
        ],
        ['invalid', `${label}: HeartRateBpm "n/a" is not a number; it is not imported`, ...at('<Value>n/a'), 'n/a'],
        ['invalid', `${label}: Calories "about 400" is not a number; the activity's total calories is not imported`, ...at('<Calories>'), 'about 400'],
      ],
    );
    // Nothing of the bad values is stored: not the trackpoint with a bad time, not the position out
    // of range (its heart rate is kept), not the heart rate "n/a" (its position is kept).
    assert.deepEqual(
      parsed.points.map((p) => [p.recordedAt.toISOString(), p.lat, p.lon, p.velocityMps]),
      [
        ['2020-08-15T16:00:00.000Z', 51.507351, -0.127758, null],
        ['2020-08-15T16:15:00.000Z', 51.510102, -0.130204, 6.5],
      ],
    );
    assert.deepEqual(heartRates(parsed), [
      ['2020-08-15T16:00:00.000Z', 101],
      ['2020-08-15T16:10:00.000Z', 131],
    ]);
    assert.deepEqual(totals(parsed), { session_duration_s: ['2020-08-15T16:00:00.000Z', 1800, 's'], distance_m: ['2020-08-15T16:00:00.000Z', 12000, 'm'] });
  });

  it('keeps the trackpoints before a cut and says at which byte and line the file ends', async () => {
    const bytes = bytesOf(CUT);
    const parsed = await parse(bytes);
    assert.deepEqual(parsed.rejections, [
      {
        category: 'malformed',
        reason: 'the file ends inside activity 2019-05-04T08:15:30.000Z: its last trackpoint and its totals are not imported',
        byteOffset: bytes.length,
        line: lineAt(bytes, bytes.length),
        excerpt: null,
      },
    ]);
    assert.equal(bytes.length, 3883);
    const whole = await parse(bytesOf(RUN));
    assert.deepEqual(parsed.points, whole.points.slice(0, 4));
    assert.deepEqual(heartRates(parsed), heartRates(whole).slice(0, 4));
    assert.deepEqual(totals(parsed), {});

    const run = bytesOf(RUN);
    const afterActivity = run.subarray(0, run.indexOf('</Activity>') + '</Activity>'.length);
    const atBoundary = await parse(afterActivity);
    assert.equal(atBoundary.points.length, 5);
    assert.deepEqual(atBoundary.rejections.map((r) => [r.category, r.reason, r.byteOffset]), [['malformed', 'the file ends before </TrainingCenterDatabase>: it was cut short', afterActivity.length]]);
  });

  it('refuses what is not TCX, naming what it is', async () => {
    const gpx = await parse(Buffer.from('<?xml version="1.0"?>\n<gpx><trk/></gpx>'));
    assert.deepEqual(gpx.rejections.map((r) => [r.category, r.reason, r.byteOffset, r.line]), [['unsupported', 'the root element is <gpx>, not <TrainingCenterDatabase>', 22, 2]]);
    const empty = Buffer.from('<TrainingCenterDatabase><Activities/></TrainingCenterDatabase>');
    assert.deepEqual((await parse(empty)).rejections.map((r) => [r.category, r.reason]), [['unsupported', `no Activity in ${empty.length} bytes of TCX`]]);
    const utf16 = await parse(Buffer.from('<?xml version="1.0" encoding="UTF-16"?><TrainingCenterDatabase/>'));
    assert.deepEqual(utf16.rejections.map((r) => r.reason), ['TCX declared in the utf-16 encoding, which is not read (UTF-8 and ISO-8859-1 are)']);
  });
});

describe('google.fit.activities: through the import', () => {
  let t: TestLake;
  let dir: string;
  before(async () => {
    t = await openTestLake();
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-fit-tcx-'));
  });
  after(async () => {
    await t.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads points, heart rates and activities by the registry, quarantines bad values with their lines; a re-import adds nothing', async () => {
    const user = await createUser(t.lake, 'fit-tcx');
    const files: Record<string, string> = {
      [`Takeout/Fit/Activities/${RUN}`]: RUN,
      [`Takeout/Fit/Aktivitäten/${BAD}`]: BAD,
      // Found by its content: no .tcx name, outside Fit.
      'Takeout/Drive/walk export (2).xml': WALK,
    };
    for (const [file, fixture] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), bytesOf(fixture));
    }
    const report = await runImport(t.lake.db, { userId: user, inputs: [dir], batchSize: 4 });
    assert.notEqual(report.status, 'failed');
    const byName = Object.fromEntries(report.files.map((file) => [path.basename(file.path), [file.format, file.status, file.counts, file.quarantined]]));
    assert.deepEqual(byName, {
      [RUN]: [FIT_ACTIVITIES_SOURCE_ID, 'done', { points: 5, measurements: 8 }, {}],
      [BAD]: [FIT_ACTIVITIES_SOURCE_ID, 'done', { points: 2, measurements: 4 }, { invalid: 4 }],
      'walk export (2).xml': [FIT_ACTIVITIES_SOURCE_ID, 'done', { points: 2, measurements: 7 }, {}],
    });

    const rows = await t.lake.db.asUser(user, async (tx) => ({
      points: (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points WHERE source = $1`, [FIT_ACTIVITIES_SOURCE_ID])).rows[0]!.n,
      point: (
        await tx.query<{ recorded_at: Date; lat: number; lon: number; altitude_m: number; velocity_mps: number; attributes: Record<string, unknown> }>(
          `SELECT recorded_at, lat, lon, altitude_m, velocity_mps, attributes FROM timeseries.location_points WHERE source = $1 AND recorded_at = '2019-05-04T08:23:00Z'`,
          [FIT_ACTIVITIES_SOURCE_ID],
        )
      ).rows,
      metrics: (
        await tx.query<{ metric: string; n: number; total: number }>(
          `SELECT metric, count(*)::int AS n, sum(value)::float8 AS total FROM timeseries.measurements WHERE source = $1 GROUP BY metric ORDER BY metric`,
          [FIT_ACTIVITIES_SOURCE_ID],
        )
      ).rows,
      quarantine: (
        await tx.query<{ entry: string; category: string; at: string; line: number }>(`SELECT entry, category, byte_offset::text AS at, line FROM imports.quarantine ORDER BY entry, byte_offset`)
      ).rows,
    }));
    assert.equal(rows.points, 5 + 2 + 2);
    assert.deepEqual(rows.point.map((p) => [p.recorded_at.toISOString(), p.lat, p.lon, p.altitude_m, p.velocity_mps, p.attributes]), [
      ['2019-05-04T08:23:00.000Z', 48.14312, 11.59331, 523.6, 3.45, { activity: 'Running', activityId: '2019-05-04T08:15:30.000Z', lapIndex: 1, distanceM: 1512.7 }],
    ]);
    assert.deepEqual(rows.metrics, [
      { metric: 'calories_kcal', n: 2, total: 142 + 44 },
      { metric: 'distance_m', n: 3, total: 2000 + 720.5 + 12000 },
      { metric: 'heart_rate_bpm', n: 10, total: 92 + 141 + 152 + 157 + 163 + 88 + 104 + 79 + 101 + 131 },
      { metric: 'session_duration_s', n: 3, total: 590.5 + 720 + 1800 },
      { metric: 'speed_mps', n: 1, total: 1.25 },
    ]);
    const bad = bytesOf(BAD);
    assert.deepEqual(
      rows.quarantine.map((q) => [path.basename(q.entry), q.category, Number(q.at), q.line]),
      [
        ...[offsetOf(bad, '<Calories>'), offsetOf(bad, '<Time>2020-08-15 16:05'), bad.lastIndexOf('<Position>', offsetOf(bad, '151.509')), offsetOf(bad, '<Value>n/a')].map((offset) => [
          BAD,
          'invalid',
          offset,
          lineAt(bad, offset),
        ]),
      ],
    );

    const again = await runImport(t.lake.db, { userId: user, inputs: [dir], batchSize: 4 });
    assert.equal(again.totals.records, 0);
    assert.equal(again.totals.updated, 0);
    assert.equal(again.totals.duplicates, report.totals.records + report.totals.duplicates);
  });

  it('loads what came before a cut and quarantines the cut with its byte and line', async () => {
    const user = await createUser(t.lake, 'fit-tcx-cut');
    const file = path.join(dir, 'cut', 'Takeout', 'Fit', 'Activities', '2019-05-04T10_15_30+02_00_RUNNING.tcx');
    await mkdir(path.dirname(file), { recursive: true });
    const cut = bytesOf(CUT);
    await writeFile(file, cut);
    const report = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'cut')], batchSize: 4 });
    assert.deepEqual(report.files.map((f) => [f.format, f.status, f.counts, f.quarantined]), [[FIT_ACTIVITIES_SOURCE_ID, 'done', { points: 4, measurements: 4 }, { malformed: 1 }]]);
    const quarantine = await t.lake.db.asUser(user, async (tx) => (await tx.query<{ category: string; reason: string; byte_offset: string; line: number }>(`SELECT category, reason, byte_offset::text, line FROM imports.quarantine`)).rows);
    assert.deepEqual(quarantine.map((q) => [q.category, q.reason, Number(q.byte_offset), q.line]), [
      ['malformed', 'the file ends inside activity 2019-05-04T08:15:30.000Z: its last trackpoint and its totals are not imported', cut.length, lineAt(cut, cut.length)],
    ]);
  });
});
