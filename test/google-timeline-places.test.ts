// Google Timeline places and positions as stored (issue 13, defects 3 and 4), on the backend the
// test lake runs on. Fixtures are written here in the published shapes:
// - on-device Timeline: a place named by a visit and labelled by userLocationProfile.frequentPlaces
//   keeps both, in either order, in one batch or across batches and imports (Android object, iOS
//   array); a re-import changes nothing;
// - Semantic Location History: activity segments without start/end locations take the ends of
//   their waypointPath or simplifiedRawPath; a visit without coordinates takes its most confident
//   candidate's; candidates keep their coordinates; raw path fixes are location points.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runImport } from '../src/ingest/runner.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let dir: string;
before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-timeline-places-'));
});
after(async () => {
  await t.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** Writes `content` as JSON to `name` in a folder of its own (so the file name drives detection only as a fallback). */
async function exportFile(folder: string, name: string, content: unknown): Promise<string> {
  const at = path.join(dir, folder);
  await mkdir(at, { recursive: true });
  const file = path.join(at, name);
  await writeFile(file, JSON.stringify(content, null, 2));
  return file;
}

async function importAs(user: string, file: string, batchSize = 100) {
  const report = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize });
  assert.equal(report.status, 'done');
  return report;
}

interface PlaceRow {
  place_id: string;
  name: string | null;
  lat: number | null;
  lon: number | null;
  attributes: Record<string, unknown>;
}

async function places(user: string): Promise<PlaceRow[]> {
  const result = await t.lake.db.asUser(user, (tx) =>
    tx.query<PlaceRow>(`SELECT place_id, name, lat, lon, attributes FROM user_data.places ORDER BY place_id`),
  );
  return result.rows;
}

const HOME = 'ChIJfixtureLabelHome';
const WORK = 'ChIJfixtureLabelWork';

/** An Android on-device visit segment (published shape: topCandidate.placeId, placeLocation.latLng "lat°, lng°"). */
function androidVisit(placeId: string, start: string, end: string, latLng: string, semanticType: string) {
  return {
    startTime: start,
    endTime: end,
    startTimeTimezoneUtcOffsetMinutes: 60,
    endTimeTimezoneUtcOffsetMinutes: 60,
    visit: { hierarchyLevel: 0, probability: 0.9, topCandidate: { placeId, semanticType, probability: 0.8, placeLocation: { latLng } } },
  };
}

const ANDROID_SEGMENTS = [
  androidVisit(HOME, '2024-05-01T07:00:00.000+01:00', '2024-05-01T08:00:00.000+01:00', '52.5200000°, 13.4050000°', 'INFERRED_HOME'),
  androidVisit(WORK, '2024-05-01T09:00:00.000+01:00', '2024-05-01T17:00:00.000+01:00', '52.5300000°, 13.3800000°', 'INFERRED_WORK'),
];
const PROFILE = {
  frequentPlaces: [
    { placeId: HOME, placeLocation: '52.5200000°, 13.4050000°', label: 'HOME' },
    { placeId: WORK, placeLocation: '52.5300000°, 13.3800000°', label: 'WORK' },
  ],
  persona: { travelModeAffinities: [{ mode: 'WALKING', affinity: 0.5 }] },
};

const labelled = (semanticType: string | undefined, label: string) => ({ ...(semanticType ? { semanticType } : {}), label, frequentPlace: true });
const EXPECTED = [
  { place_id: HOME, name: null, lat: 52.52, lon: 13.405, attributes: labelled('INFERRED_HOME', 'HOME') },
  { place_id: WORK, name: null, lat: 52.53, lon: 13.38, attributes: labelled('INFERRED_WORK', 'WORK') },
];

describe('on-device Timeline: a place keeps what its visit and the profile each say (defect 3)', () => {
  for (const [order, content] of [
    ['segments first (Android order)', { semanticSegments: ANDROID_SEGMENTS, rawSignals: [], userLocationProfile: PROFILE }],
    ['profile first', { userLocationProfile: PROFILE, semanticSegments: ANDROID_SEGMENTS }],
  ] as const) {
    for (const batchSize of [100, 1]) {
      it(`${order}, ${batchSize === 1 ? 'a batch per record' : 'one batch'}: label, semantic type and position stored; a re-import changes nothing`, async () => {
        const user = await createUser(t.lake, `ondevice-${order.split(' ')[0]}-${batchSize}`);
        const file = await exportFile(`android-${order.split(' ')[0]}-${batchSize}`, 'Timeline.json', content);
        const first = await importAs(user, file, batchSize);
        assert.deepEqual(await places(user), EXPECTED);
        // Visits, places (2 inserted, 2 completed by the other record of the same place): none lost as a duplicate.
        assert.equal(first.totals.duplicates, 0);
        assert.equal(first.totals.updated, 2);

        const again = await importAs(user, file, batchSize);
        assert.equal(again.totals.records, 0);
        assert.equal(again.totals.updated, 0);
        assert.equal(again.totals.duplicates, first.totals.records + first.totals.updated);
        assert.deepEqual(await places(user), EXPECTED);
      });
    }
  }

  it('across imports: an iOS array visit first, then an Android profile; and the other way round', async () => {
    const ios = [
      {
        startTime: '2024-05-02T07:00:00.000-07:00',
        endTime: '2024-05-02T08:00:00.000-07:00',
        visit: { hierarchyLevel: '0', probability: '0.91', topCandidate: { placeID: HOME, semanticType: 'Home', probability: '0.85', placeLocation: 'geo:52.520000,13.405000' } },
      },
    ];
    const profileOnly = { userLocationProfile: { frequentPlaces: [PROFILE.frequentPlaces[0]] } };
    const iosFile = await exportFile('ios', 'location-history.json', ios);
    const profileFile = await exportFile('profile-only', 'Timeline.json', profileOnly);
    const expected = [{ place_id: HOME, name: null, lat: 52.52, lon: 13.405, attributes: labelled('Home', 'HOME') }];

    const visitFirst = await createUser(t.lake, 'ios-then-profile');
    await importAs(visitFirst, iosFile);
    assert.deepEqual((await places(visitFirst))[0]!.attributes, { semanticType: 'Home' });
    const labelling = await importAs(visitFirst, profileFile);
    assert.deepEqual([labelling.totals.records, labelling.totals.updated, labelling.totals.duplicates], [0, 1, 0]);
    assert.deepEqual(await places(visitFirst), expected);

    const profileFirst = await createUser(t.lake, 'profile-then-ios');
    await importAs(profileFirst, profileFile);
    assert.deepEqual((await places(profileFirst))[0]!.attributes, { label: 'HOME', frequentPlace: true });
    await importAs(profileFirst, iosFile);
    assert.deepEqual(await places(profileFirst), expected);
    const again = await importAs(profileFirst, iosFile);
    assert.deepEqual([again.totals.records, again.totals.updated], [0, 0]);
    assert.deepEqual(await places(profileFirst), expected);
  });
});

describe('Semantic Location History: the positions in the file are stored (defect 4)', () => {
  const month = {
    timelineObjects: [
      {
        // 2013-era shape: empty start/end locations, the route only as waypoints (no times).
        activitySegment: {
          startLocation: {},
          endLocation: {},
          duration: { startTimestampMs: '1385881514222', endTimestampMs: '1385881873214' },
          activities: [{ activityType: 'WALKING', probability: 0.0 }],
          waypointPath: { waypoints: [{ latE7: 533407440, lngE7: 837026901 }, { latE7: 533408000, lngE7: 837030000 }, { latE7: 533410301, lngE7: 837051010 }], source: 'BACKFILLED', travelMode: 'WALK' },
        },
      },
      {
        // No start/end locations at all, only the raw path's timed fixes.
        activitySegment: {
          duration: { startTimestampMs: '1385884000000', endTimestampMs: '1385884600000' },
          activityType: 'CYCLING',
          simplifiedRawPath: {
            points: [
              { latE7: 533519706, lngE7: 837596359, timestampMs: '1385884010000', accuracyMeters: 10 },
              { latE7: 533500000, lngE7: 837600000, timestampMs: '1385884300000', accuracyMeters: 12 },
              { latE7: 533481369, lngE7: 837608337, timestampMs: '1385884590000', accuracyMeters: 8 },
            ],
          },
        },
      },
      {
        // A location without coordinates and no centre: the candidates hold the only positions.
        placeVisit: {
          location: { placeId: 'ChIJfixtureNoCoords', name: 'Somewhere', locationConfidence: 31.2 },
          duration: { startTimestampMs: '1385885000000', endTimestampMs: '1385888600000' },
          placeConfidence: 'LOW_CONFIDENCE',
          visitConfidence: 40,
          otherCandidateLocations: [
            { latitudeE7: 533470000, longitudeE7: 837610000, placeId: 'ChIJfixtureCandB', locationConfidence: 12.5, semanticType: 'TYPE_UNKNOWN' },
            { latitudeE7: 533480000, longitudeE7: 837620000, placeId: 'ChIJfixtureCandA', name: 'Cafe A', locationConfidence: 48.75 },
            { placeId: 'ChIJfixtureCandNoCoords', locationConfidence: 90 },
          ],
        },
      },
      {
        // A visit with its own coordinates keeps them; its candidates keep theirs.
        placeVisit: {
          location: { latitudeE7: 533407440, longitudeE7: 837026901, placeId: 'ChIJfixtureHasCoords', address: 'Street 1', locationConfidence: 88 },
          duration: { startTimestamp: '2013-12-01T12:00:00Z', endTimestamp: '2013-12-01T13:00:00Z' },
          visitConfidence: 90,
          otherCandidateLocations: [{ latitudeE7: 533400000, longitudeE7: 837000000, placeId: 'ChIJfixtureCandC', locationConfidence: 5 }],
        },
      },
    ],
  };

  it('segments take their ends from the path, a visit its top candidate, candidates keep coordinates, raw path fixes are points', async () => {
    const user = await createUser(t.lake, 'semantic-positions');
    const file = await exportFile('semantic', '2013_DECEMBER.json', month);
    const first = await importAs(user, file);
    const rows = await t.lake.db.asUser(user, async (tx) => ({
      segments: (await tx.query<{ title: string; lat: number; lon: number; attributes: Record<string, unknown> }>(
        `SELECT title, lat, lon, attributes FROM user_data.items WHERE kind = 'activity_segment' ORDER BY occurred_at`,
      )).rows,
      visits: (await tx.query<{ place_id: string; lat: number; lon: number; attributes: Record<string, unknown> }>(
        `SELECT place_id, lat, lon, attributes FROM user_data.visits ORDER BY started_at`,
      )).rows,
      points: (await tx.query<{ recorded_at: Date; lat: number; lon: number; accuracy_m: number; activity: string; source: string; origin: string }>(
        `SELECT recorded_at, lat, lon, accuracy_m, activity, source, attributes->>'origin' AS origin FROM timeseries.location_points ORDER BY recorded_at`,
      )).rows,
    }));

    const [walk, cycle] = rows.segments;
    assert.deepEqual([walk!.lat, walk!.lon, walk!.attributes.end, walk!.attributes.startFrom, walk!.attributes.endFrom],
      [53.340744, 83.7026901, { lat: 53.3410301, lon: 83.705101 }, 'waypointPath', 'waypointPath']);
    assert.deepEqual([cycle!.lat, cycle!.lon, cycle!.attributes.end, cycle!.attributes.startFrom, cycle!.attributes.endFrom],
      [53.3519706, 83.7596359, { lat: 53.3481369, lon: 83.7608337 }, 'simplifiedRawPath', 'simplifiedRawPath']);

    const [guessed, own] = rows.visits;
    assert.equal(guessed!.place_id, 'ChIJfixtureNoCoords');
    assert.deepEqual([guessed!.lat, guessed!.lon], [53.348, 83.762]);
    assert.deepEqual(guessed!.attributes.positionFrom, { otherCandidateLocations: 'ChIJfixtureCandA', locationConfidence: 48.75 });
    assert.deepEqual(guessed!.attributes.otherCandidates, [
      { placeId: 'ChIJfixtureCandB', name: null, semanticType: 'TYPE_UNKNOWN', locationConfidence: 12.5, lat: 53.347, lon: 83.761 },
      { placeId: 'ChIJfixtureCandA', name: 'Cafe A', semanticType: null, locationConfidence: 48.75, lat: 53.348, lon: 83.762 },
      { placeId: 'ChIJfixtureCandNoCoords', name: null, semanticType: null, locationConfidence: 90, lat: null, lon: null },
    ]);
    assert.deepEqual([own!.lat, own!.lon, own!.attributes.positionFrom], [53.340744, 83.7026901, undefined]);
    assert.deepEqual(own!.attributes.otherCandidates, [
      { placeId: 'ChIJfixtureCandC', name: null, semanticType: null, locationConfidence: 5, lat: 53.34, lon: 83.7 },
    ]);

    assert.deepEqual(
      rows.points.map((p) => [p.recorded_at.toISOString(), p.lat, p.lon, p.accuracy_m, p.activity, p.source, p.origin]),
      [
        ['2013-12-01T07:46:50.000Z', 53.3519706, 83.7596359, 10, 'CYCLING', 'google.location.semantic', 'simplifiedRawPath'],
        ['2013-12-01T07:51:40.000Z', 53.35, 83.76, 12, 'CYCLING', 'google.location.semantic', 'simplifiedRawPath'],
        ['2013-12-01T07:56:30.000Z', 53.3481369, 83.7608337, 8, 'CYCLING', 'google.location.semantic', 'simplifiedRawPath'],
      ],
    );

    const again = await importAs(user, file);
    assert.deepEqual([again.totals.records, again.totals.duplicates], [0, first.totals.records]);
  });
});
