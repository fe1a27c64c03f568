// Google Timeline variants (issue 13, defect 7), through the real import path on the backend the
// test lake runs on (embedded PGlite, or the server with LAKE_TEST_DATABASE_URL). Fixtures in
// test/fixtures/timeline-variants/ are written here from the published shapes:
// - android-raw-signals/Timeline.json: rawSignals activityRecord (both spellings of the
//   candidates) → `activity_detected` items, wifiScan → `wifi_access_points` measurements without
//   the access points' MAC addresses, a position given as a `geo:` URI with altitude and `u=`,
//   times as `YYYY-MM-DD HH:MM:SS +ZZZZ` and as epoch milliseconds;
// - ios-variants/location-history.json: `geo:lat,lon,alt` in visits, activities and path points,
//   an RFC 5870 `crs` other than WGS 84 refused, segments without endTime kept with nothing made up,
//   times in the other spellings, and the spellings that stay refused (10-digit epochs, no offset);
// - semantic-spellings/2020_JANUARY.json: Semantic Location History *Timestamp fields written with a
//   spaced offset or as epoch milliseconds, beside the old *TimestampMs.
// The real exports in ../shared/fixtures/real are imported too where present.
import assert from 'node:assert/strict';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ParseEvent, RepairCounts } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import type { Source } from '../src/ingest/source.js';
import { semanticLocationHistorySource } from '../src/ingest/sources/google/location/semantic.js';
import { timelineOnDeviceSource } from '../src/ingest/sources/google/location/ondevice.js';
import { parseTimelineInstant } from '../src/ingest/sources/google/location/timeline-times.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const FIXTURES = new URL('./fixtures/timeline-variants/', import.meta.url);
const REAL = new URL('../../shared/fixtures/real/', import.meta.url);
const fixturePath = (relative: string) => fileURLToPath(new URL(relative, FIXTURES));

let t: TestLake;
let dir: string;
before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-timeline-variants-'));
});
after(async () => {
  await t?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function importFile(user: string, file: string) {
  const report = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 100 });
  assert.equal(report.status, 'done');
  return report;
}

async function rows<T>(user: string, sql: string): Promise<T[]> {
  return (await t.lake.db.asUser(user, (tx) => tx.query<T & object>(sql))).rows as T[];
}

/** An instant as stored, in UTC with milliseconds (timestamptz comes back as a Date or a string depending on the driver). */
const utc = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

interface Quarantined {
  category: string;
  reason: string;
  excerpt: string | null;
}
const quarantine = (user: string) => rows<Quarantined>(user, `SELECT category, reason, excerpt FROM imports.quarantine ORDER BY byte_offset, reason`);

/** Everything stored for the user, as text: to look for what must not be there. */
async function everythingStored(user: string): Promise<string> {
  const tables = ['user_data.items', 'user_data.visits', 'user_data.places', 'timeseries.location_points', 'timeseries.measurements', 'imports.quarantine'];
  const dumps = await Promise.all(tables.map((table) => rows<{ row: string }>(user, `SELECT row_to_json(r)::text AS row FROM ${table} r`)));
  return dumps.flat().map((row) => row.row).join('\n');
}

describe('on-device Timeline.json rawSignals: activityRecord, wifiScan, geo positions', () => {
  let user: string;
  let firstRecords: number;
  before(async () => {
    user = await createUser(t.lake, 'variants-android');
    firstRecords = (await importFile(user, fixturePath('android-raw-signals/Timeline.json'))).totals.records;
  });

  it('activityRecord → activity_detected items: the most confident type, every candidate as written', async () => {
    const items = await rows<{ at: string; utc_offset_minutes: number | null; title: string; lat: number | null; attributes: Record<string, unknown> }>(
      user,
      `SELECT ${utc('occurred_at')} AS at, utc_offset_minutes, title, lat, attributes FROM user_data.items WHERE kind = 'activity_detected' ORDER BY occurred_at`,
    );
    assert.deepEqual(items, [
      {
        at: '2024-04-26T18:54:38.000Z',
        utc_offset_minutes: 120,
        title: 'IN_VEHICLE',
        lat: null,
        attributes: {
          origin: 'rawSignals',
          confidence: 0.75,
          activities: [
            { type: 'STILL', confidence: 0.125 },
            { type: 'IN_VEHICLE', confidence: 0.75 },
            { type: 'WALKING', confidence: 0.125 },
          ],
        },
      },
      {
        // detectedActivities/probability spelling, an epoch-milliseconds timestamp; equals: the first.
        at: '2024-04-26T18:55:45.000Z',
        utc_offset_minutes: null,
        title: 'ON_BICYCLE',
        lat: null,
        attributes: {
          origin: 'rawSignals',
          confidence: 0.5,
          activities: [
            { type: 'ON_BICYCLE', confidence: 0.5 },
            { type: 'ON_FOOT', confidence: 0.5 },
          ],
        },
      },
    ]);
  });

  it('wifiScan → wifi_access_points measurements: count and signal range, never the MAC addresses', async () => {
    const measurements = await rows<{ at: string; metric: string; value: number; unit: string; source: string; attributes: Record<string, unknown> }>(
      user,
      `SELECT ${utc('measured_at')} AS at, metric, value, unit, source, attributes FROM timeseries.measurements ORDER BY measured_at`,
    );
    assert.deepEqual(measurements, [
      {
        at: '2024-06-06T10:44:37.000Z',
        metric: 'wifi_access_points',
        value: 3,
        unit: 'count',
        source: 'google.location.ondevice',
        attributes: { origin: 'rawSignals', strongestRssiDbm: -50, weakestRssiDbm: -88, utcOffsetMinutes: 60 },
      },
      // Spaced-offset deliveryTime; an empty scan heard nothing: 0.
      { at: '2024-06-06T10:45:37.000Z', metric: 'wifi_access_points', value: 0, unit: 'count', source: 'google.location.ondevice', attributes: { origin: 'rawSignals', utcOffsetMinutes: 60 } },
      // devicesRecords left out (empty lists are omitted from the export): 0 as well.
      { at: '2024-06-06T10:46:37.000Z', metric: 'wifi_access_points', value: 0, unit: 'count', source: 'google.location.ondevice', attributes: { origin: 'rawSignals', utcOffsetMinutes: 60 } },
    ]);
    const stored = await everythingStored(user);
    for (const mac of ['111111111111111', '222222222222222', '333333333333333', '444444444444444']) {
      assert.ok(!stored.includes(mac), `MAC ${mac} stored somewhere (records or quarantine excerpts)`);
    }
  });

  it('positions: geo: altitude → altitude_m, u= → accuracy_m; a spaced-offset timestamp', async () => {
    const points = await rows<{ at: string; lat: number; lon: number; accuracy_m: number | null; altitude_m: number | null; attributes: Record<string, unknown> }>(
      user,
      `SELECT ${utc('recorded_at')} AS at, lat, lon, accuracy_m, altitude_m, attributes FROM timeseries.location_points ORDER BY recorded_at`,
    );
    assert.deepEqual(points, [
      { at: '2024-06-06T10:44:37.000Z', lat: 48.833657, lon: 2.256223, accuracy_m: 13, altitude_m: 91.5, attributes: { origin: 'rawSignals', source: 'WIFI', utcOffsetMinutes: 60 } },
      { at: '2024-06-06T10:48:37.000Z', lat: 48.833657, lon: 2.256223, accuracy_m: 20, altitude_m: 90.5, attributes: { origin: 'rawSignals', source: 'GPS', utcOffsetMinutes: 60 } },
    ]);
  });

  it('a visit timed by a spaced offset and an epoch-milliseconds endTime', async () => {
    const visits = await rows<{ started: string; ended: string; place_id: string }>(
      user,
      `SELECT ${utc('started_at')} AS started, ${utc('ended_at')} AS ended, place_id FROM user_data.visits`,
    );
    assert.deepEqual(visits, [{ started: '2024-06-06T09:00:00.000Z', ended: '2024-06-06T09:50:00.000Z', place_id: 'ChIJvariantAndroidCafe' }]);
  });

  it('what cannot be read is quarantined, naming it; an unknown signal kind is reported once', async () => {
    const quarantined = await quarantine(user);
    assert.deepEqual(
      quarantined.map(({ category, reason }) => [category, reason]),
      [
        ['invalid', 'rawSignals activityRecord without a readable timestamp or any typed activity (timestamp "2024-04-26T21:00:00.000+02:00")'],
        ['invalid', 'rawSignals activityRecord without a readable timestamp or any typed activity (timestamp "yesterday")'],
        ['invalid', 'rawSignals wifiScan without a readable deliveryTime or a devicesRecords list'],
        ['unsupported', '1 rawSignals cellScan entry not imported: no record type for them'],
      ],
    );
    assert.match(quarantined[2]!.excerpt ?? '', /"at lunch".*1 entries/);
  });

  it('a re-import adds nothing', async () => {
    assert.equal(firstRecords, 1 + 1 + 2 + 3 + 2);
    const again = await importFile(user, fixturePath('android-raw-signals/Timeline.json'));
    assert.equal(again.totals.records, 0);
    assert.equal(again.totals.duplicates, firstRecords);
  });
});

describe('on-device iOS array: geo altitude, segments without endTime, other time spellings', () => {
  let user: string;
  before(async () => {
    user = await createUser(t.lake, 'variants-ios');
    await importFile(user, fixturePath('ios-variants/location-history.json'));
  });

  it('visits: geo:lat,lon,alt keeps the altitude; without endTime a visit ends when it starts, and says so', async () => {
    const visits = await rows<{ started: string; ended: string; place_id: string; lat: number; lon: number; attributes: Record<string, unknown> }>(
      user,
      `SELECT ${utc('started_at')} AS started, ${utc('ended_at')} AS ended, place_id, lat, lon, attributes FROM user_data.visits ORDER BY started_at`,
    );
    assert.deepEqual(
      visits.map(({ attributes, ...visit }) => ({ ...visit, altitudeM: attributes.altitudeM ?? null, endedAtFrom: attributes.endedAtFrom ?? null, utcOffsetMinutes: attributes.utcOffsetMinutes })),
      [
        { started: '2023-08-27T20:48:56.000Z', ended: '2023-08-27T22:04:26.000Z', place_id: 'ChIJvariantIosAltitude', lat: 27.720022, lon: -97.347951, altitudeM: 12.5, endedAtFrom: null, utcOffsetMinutes: -300 },
        { started: '2023-08-28T14:00:00.000Z', ended: '2023-08-28T14:00:00.000Z', place_id: 'ChIJvariantIosNoEnd', lat: 27.7, lon: -97.3, altitudeM: null, endedAtFrom: 'startTime', utcOffsetMinutes: -300 },
      ],
    );
    const places = await rows<{ place_id: string; lat: number; lon: number }>(user, `SELECT place_id, lat, lon FROM user_data.places ORDER BY place_id`);
    assert.deepEqual(places, [
      { place_id: 'ChIJvariantIosAltitude', lat: 27.720022, lon: -97.347951 },
      { place_id: 'ChIJvariantIosNoEnd', lat: 27.7, lon: -97.3 },
    ]);
  });

  it('an activity and a trip without endTime: no endedAt made up; altitudes of both ends kept', async () => {
    const items = await rows<{ kind: string; at: string; utc_offset_minutes: number | null; title: string | null; lat: number | null; lon: number | null; attributes: Record<string, unknown> }>(
      user,
      `SELECT kind, ${utc('occurred_at')} AS at, utc_offset_minutes, title, lat, lon, attributes FROM user_data.items ORDER BY occurred_at`,
    );
    assert.deepEqual(items, [
      {
        kind: 'trip',
        at: '2023-08-27T20:48:56.000Z',
        utc_offset_minutes: -360,
        title: null,
        lat: null,
        lon: null,
        attributes: { destinationPlaceIds: ['ChIJvariantIosDestination'], distanceFromOriginKm: 1594 },
      },
      {
        kind: 'activity_segment',
        at: '2023-08-28T15:00:00.000Z',
        utc_offset_minutes: -300,
        title: 'walking',
        lat: 27.7,
        lon: -97.3,
        attributes: { activityType: 'walking', probability: null, candidateProbability: 0.9, distanceM: 800, altitudeM: 4.25, end: { lat: 27.75, lon: -97.35, altitudeM: -3.5 } },
      },
    ]);
  });

  it('path points: epoch-millisecond segment times, altitude and u= from geo:, crs=wgs84 read, a path without endTime', async () => {
    const points = await rows<{ at: string; lat: number; lon: number; accuracy_m: number | null; altitude_m: number | null }>(
      user,
      `SELECT ${utc('recorded_at')} AS at, lat, lon, accuracy_m, altitude_m FROM timeseries.location_points ORDER BY recorded_at`,
    );
    assert.deepEqual(points, [
      { at: '2023-08-28T14:30:00.000Z', lat: 27.74, lon: -97.34, accuracy_m: null, altitude_m: null },
      { at: '2023-08-28T15:05:00.000Z', lat: 27.71, lon: -97.31, accuracy_m: 8, altitude_m: 15.5 },
      { at: '2023-08-28T15:10:00.000Z', lat: 27.72, lon: -97.32, accuracy_m: null, altitude_m: null },
    ]);
  });

  it('refused: another crs, a 10-digit epoch, an unreadable endTime, times without an offset', async () => {
    const quarantined = await quarantine(user);
    assert.deepEqual(
      quarantined.map(({ category, reason }) => [category, reason]),
      [
        ['invalid', 'timelinePath point without a readable point or time'],
        ['invalid', 'timeline segment without readable startTime/endTime ("1693234800", "1693242000")'],
        ['invalid', 'timeline segment without readable startTime/endTime ("2023-08-29T09:00:00.000-05:00", "soon")'],
        ['invalid', 'timeline segment without readable startTime/endTime ("2023-08-29 09:00:00", "2023-08-29 10:00:00")'],
      ],
    );
    assert.match(quarantined[0]!.excerpt ?? '', /crs=EPSG:3857/);
  });

  it('a re-import adds nothing (segments without endTime keep their keys)', async () => {
    const again = await importFile(user, fixturePath('ios-variants/location-history.json'));
    assert.equal(again.totals.records, 0);
    assert.equal(again.totals.duplicates, 2 + 2 + 2 + 3);
  });
});

describe('Semantic Location History: *Timestamp fields with spaced offsets or epoch milliseconds', () => {
  let user: string;
  before(async () => {
    user = await createUser(t.lake, 'variants-semantic');
    // A Takeout-like path: the file is also recognised by its content.
    const folder = path.join(dir, 'Takeout/Location History/Semantic Location History/2020');
    await mkdir(folder, { recursive: true });
    const file = path.join(folder, '2020_JANUARY.json');
    await writeFile(file, readFileSync(fixturePath('semantic-spellings/2020_JANUARY.json')));
    await importFile(user, file);
  });

  it('visits and the activity segment at the instants written; the old *Ms spelling still read', async () => {
    const visits = await rows<{ started: string; ended: string; place_id: string }>(
      user,
      `SELECT ${utc('started_at')} AS started, ${utc('ended_at')} AS ended, place_id FROM user_data.visits ORDER BY started_at`,
    );
    assert.deepEqual(visits, [
      { started: '2020-01-05T08:12:00.000Z', ended: '2020-01-05T10:00:00.000Z', place_id: 'ChIJvariantSemanticSpaced' },
      { started: '2020-01-05T12:00:00.000Z', ended: '2020-01-05T13:00:00.000Z', place_id: 'ChIJvariantSemanticMs' },
    ]);
    const [segment] = await rows<{ at: string; utc_offset_minutes: number | null; title: string; ended: unknown }>(
      user,
      `SELECT ${utc('occurred_at')} AS at, utc_offset_minutes, title, attributes->'endedAt' AS ended FROM user_data.items WHERE kind = 'activity_segment'`,
    );
    assert.deepEqual(segment, { at: '2020-01-05T10:00:00.000Z', utc_offset_minutes: null, title: 'WALKING', ended: '2020-01-05T10:30:00.500Z' });
  });

  it('raw path fixes timed either way', async () => {
    const points = await rows<{ at: string; lat: number; lon: number; activity: string }>(
      user,
      `SELECT ${utc('recorded_at')} AS at, lat, lon, activity FROM timeseries.location_points ORDER BY recorded_at`,
    );
    assert.deepEqual(points, [
      { at: '2020-01-05T10:10:00.000Z', lat: 48.857, lon: 2.353, activity: 'WALKING' },
      { at: '2020-01-05T10:20:00.000Z', lat: 48.858, lon: 2.354, activity: 'WALKING' },
    ]);
  });

  it('a 10-digit epoch and a time without an offset stay refused, naming the fields', async () => {
    const quarantined = await quarantine(user);
    assert.deepEqual(
      quarantined.map(({ category, reason }) => [category, reason]),
      [
        ['invalid', 'placeVisit without a readable duration (startTimestamp="1578218400")'],
        ['invalid', 'placeVisit without a readable duration (startTimestamp="2020-01-05 12:00:00")'],
      ],
    );
  });
});

describe('timeline times', () => {
  it('reads the spellings and refuses what would be a guess', () => {
    const read = (value: unknown) => {
      const instant = parseTimelineInstant(value);
      return instant ? [instant.date.toISOString(), instant.utcOffsetMinutes] : null;
    };
    assert.deepEqual(read('2023-08-27 15:48:56 -0500'), ['2023-08-27T20:48:56.000Z', -300]);
    assert.deepEqual(read('2023-08-27 15:48:56 +05:30'), ['2023-08-27T10:18:56.000Z', 330]);
    assert.deepEqual(read('2023-08-27 15:48:56.25 +0000'), ['2023-08-27T15:48:56.250Z', 0]);
    assert.deepEqual(read('2023-08-27 15:48:56 UTC'), ['2023-08-27T15:48:56.000Z', null]);
    assert.deepEqual(read('2024-06-06T11:44:37.000+01:00'), ['2024-06-06T10:44:37.000Z', 60]);
    assert.deepEqual(read('1577836800000'), ['2020-01-01T00:00:00.000Z', null]);
    assert.deepEqual(read(1577836800000), ['2020-01-01T00:00:00.000Z', null]);
    assert.deepEqual(read('100000000000'), ['1973-03-03T09:46:40.000Z', null]);
    for (const refused of ['1577836800', 1577836800, '15778368000000', '2023-08-27 15:48:56', '2023-02-30 10:00:00 +0100', '2023-08-27 24:00:00 +0100', '2023-08-27 15:48:56 +2500', 'yesterday', null]) {
      assert.equal(read(refused), null, JSON.stringify(refused));
    }
  });

  it('the fixtures give the same events in 1-byte and 64 KiB chunks', async (ctx) => {
    const cases: Array<[string, Source]> = [
      ['android-raw-signals/Timeline.json', timelineOnDeviceSource],
      ['ios-variants/location-history.json', timelineOnDeviceSource],
      ['semantic-spellings/2020_JANUARY.json', semanticLocationHistorySource],
    ];
    for (const [relative, source] of cases) {
      await ctx.test(relative, async () => {
        const runs: ParseEvent[][] = [];
        for (const chunk of [1, 1 << 16]) {
          const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
          const events: ParseEvent[] = [];
          for await (const event of source.parse(createReadStream(fixturePath(relative), { highWaterMark: chunk }), { path: relative, repairs })) {
            events.push(event.kind === 'record' ? { ...event, asciiOnly: false } : event);
          }
          runs.push(events);
        }
        assert.ok(runs[0]!.length > 0);
        assert.deepEqual(runs[0], runs[1], relative);
      });
    }
  });
});

describe('real on-device export (../shared/fixtures/real)', () => {
  it('dawarich phone takeout: activityRecords and the wifiScan stored, no MAC address kept', async (context) => {
    const file = new URL('google-timeline-ondevice/dawarich_phone-takeout_semanticSegments.json', REAL);
    if (!existsSync(file)) {
      context.skip(`real export fixtures not present at ${fileURLToPath(REAL)} (only beside the project checkout)`);
      return;
    }
    // What the file holds, worked out here from its JSON (not quoted).
    const content = JSON.parse(readFileSync(file, 'utf8')) as { rawSignals: Array<Record<string, { devicesRecords?: Array<{ mac: number }> }>> };
    const scans = content.rawSignals.filter((signal) => signal.wifiScan);
    const activityRecords = content.rawSignals.filter((signal) => signal.activityRecord).length;
    const macs = scans.flatMap((signal) => signal.wifiScan!.devicesRecords ?? []).map((device) => String(device.mac));
    assert.ok(macs.length > 0 && activityRecords > 0);

    const user = await createUser(t.lake, 'variants-real');
    const report = await importFile(user, fileURLToPath(file));
    assert.equal(report.totals.quarantined, 0);
    const detected = await rows<{ n: number }>(user, `SELECT count(*)::int AS n FROM user_data.items WHERE kind = 'activity_detected'`);
    assert.equal(detected[0]!.n, activityRecords);
    const counts = await rows<{ value: number }>(user, `SELECT value FROM timeseries.measurements WHERE metric = 'wifi_access_points' ORDER BY measured_at`);
    assert.deepEqual(
      counts.map((row) => row.value),
      scans.map((signal) => signal.wifiScan!.devicesRecords?.length ?? 0),
    );
    const stored = await everythingStored(user);
    assert.equal(macs.filter((mac) => stored.includes(mac)).length, 0);
    assert.equal((await quarantine(user)).length, 0);
  });
});
