// Semantic Location History edges, through the real import path on the backend the test lake runs
// on (embedded PGlite, or the server with LAKE_TEST_DATABASE_URL). Fixtures in
// test/fixtures/semantic-edges/ are written here from the shapes other tools' fixtures use:
// - start-only/2025_MARCH.json: placeVisits and activitySegments whose duration has a start and no
//   end (ISO, spaced offset and *Ms spellings; an explicit null end), placed by their location, by
//   otherCandidateLocations only, by a waypointPath only, or not at all; an end that is present but
//   unreadable still refuses the object;
// - bom/2023_JANUARY.json (UTF-8 BOM) and key-not-first/2023_FEBRUARY.json (other top-level keys
//   before timelineObjects): still this source's, by content;
// - geojson/2023_January.json: a GeoJSON FeatureCollection named like a month file, which is not
//   Semantic Location History and is kept as a JSON document.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runImport } from '../src/ingest/runner.js';
import { detectSource } from '../src/ingest/sources/all.js';
import { LOCATION_SEMANTIC } from '../src/ingest/sources/google/location/entries.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const FIXTURES = new URL('./fixtures/semantic-edges/', import.meta.url);
const fixturePath = (relative: string) => fileURLToPath(new URL(relative, FIXTURES));

let t: TestLake;
let dir: string;
before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-semantic-edges-'));
});
after(async () => {
  await t?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** The fixture copied under a Takeout-like path (`Semantic Location History/<year>/<name>`). */
async function takeoutCopy(relative: string, year: string): Promise<string> {
  const folder = path.join(dir, relative.split('/')[0]!, 'Takeout/Location History/Semantic Location History', year);
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, path.basename(relative));
  await writeFile(file, readFileSync(fixturePath(relative)));
  return file;
}

async function importFile(user: string, file: string) {
  const report = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 100 });
  assert.equal(report.status, 'done');
  return report;
}

async function rows<T>(user: string, sql: string): Promise<T[]> {
  return (await t.lake.db.asUser(user, (tx) => tx.query<T & object>(sql))).rows as T[];
}

/** An instant as stored, in UTC with milliseconds. */
const utc = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const quarantine = (user: string) => rows<{ category: string; reason: string }>(user, `SELECT category, reason FROM imports.quarantine ORDER BY byte_offset, reason`);

const probeOf = (probePath: string, bytes: Buffer) => ({ path: probePath, head: bytes.subarray(0, 65536), size: bytes.length });

describe('Semantic Location History: a duration with a start and no end', () => {
  let user: string;
  let firstRecords: number;
  before(async () => {
    user = await createUser(t.lake, 'semantic-start-only');
    firstRecords = (await importFile(user, await takeoutCopy('start-only/2025_MARCH.json', '2025'))).totals.records;
  });

  it('visits end when they start and say so; placed by their location, else the most confident candidate', async () => {
    const visits = await rows<{ started: string; ended: string; place_id: string | null; lat: number | null; lon: number | null; attributes: Record<string, unknown> }>(
      user,
      `SELECT ${utc('started_at')} AS started, ${utc('ended_at')} AS ended, place_id, lat, lon, attributes FROM user_data.visits ORDER BY started_at`,
    );
    assert.deepEqual(
      visits.map(({ attributes, ...visit }) => ({ ...visit, endedAtFrom: attributes.endedAtFrom ?? null, positionFrom: attributes.positionFrom ?? null })),
      [
        { started: '2025-03-24T19:25:02.000Z', ended: '2025-03-24T19:25:02.000Z', place_id: 'ChIJedgeStartIso', lat: 47.4, lon: 8.54, endedAtFrom: 'startTimestamp', positionFrom: null },
        { started: '2025-03-24T21:00:00.000Z', ended: '2025-03-24T21:00:00.000Z', place_id: null, lat: 47.41, lon: 8.55, endedAtFrom: 'startTimestampMs', positionFrom: null },
        {
          started: '2025-03-25T07:00:00.000Z',
          ended: '2025-03-25T07:00:00.000Z',
          place_id: null,
          lat: 47.43,
          lon: 8.57,
          endedAtFrom: 'startTimestamp',
          positionFrom: { otherCandidateLocations: 'ChIJedgeCandidateHigh', locationConfidence: 70 },
        },
        // `location: {}` and `endTimestamp: null`: kept, with nothing to place it.
        { started: '2025-03-25T08:00:00.000Z', ended: '2025-03-25T08:00:00.000Z', place_id: null, lat: null, lon: null, endedAtFrom: 'startTimestamp', positionFrom: null },
      ],
    );
    const places = await rows<{ place_id: string; name: string }>(user, `SELECT place_id, name FROM user_data.places ORDER BY place_id`);
    assert.deepEqual(places, [{ place_id: 'ChIJedgeStartIso', name: 'Bakery' }]);
  });

  it('activity segments: no endedAt made up; placed by startLocation, else the waypoints; the raw path fixes kept', async () => {
    const segments = await rows<{ at: string; utc_offset_minutes: number | null; title: string | null; lat: number | null; lon: number | null; attributes: Record<string, unknown> }>(
      user,
      `SELECT ${utc('occurred_at')} AS at, utc_offset_minutes, title, lat, lon, attributes FROM user_data.items WHERE kind = 'activity_segment' ORDER BY occurred_at`,
    );
    assert.deepEqual(
      segments.map(({ attributes, ...segment }) => ({
        ...segment,
        endedAt: attributes.endedAt ?? null,
        startFrom: attributes.startFrom ?? null,
        endFrom: attributes.endFrom ?? null,
        end: attributes.end ?? null,
      })),
      [
        { at: '2025-03-25T09:00:00.000Z', utc_offset_minutes: 60, title: 'WALKING', lat: 47.44, lon: 8.58, endedAt: null, startFrom: null, endFrom: null, end: null },
        { at: '2025-03-25T10:20:00.000Z', utc_offset_minutes: null, title: null, lat: 47.45, lon: 8.59, endedAt: null, startFrom: 'waypointPath', endFrom: 'waypointPath', end: { lat: 47.46, lon: 8.6 } },
        { at: '2025-03-25T12:00:00.000Z', utc_offset_minutes: null, title: null, lat: null, lon: null, endedAt: null, startFrom: null, endFrom: null, end: null },
        { at: '2025-03-25T13:00:00.000Z', utc_offset_minutes: null, title: 'CYCLING', lat: 47.47, lon: 8.61, endedAt: null, startFrom: null, endFrom: 'simplifiedRawPath', end: { lat: 47.471, lon: 8.611 } },
      ],
    );
    const points = await rows<{ at: string; lat: number; lon: number; activity: string }>(
      user,
      `SELECT ${utc('recorded_at')} AS at, lat, lon, activity FROM timeseries.location_points ORDER BY recorded_at`,
    );
    assert.deepEqual(points, [{ at: '2025-03-25T13:05:00.000Z', lat: 47.471, lon: 8.611, activity: 'CYCLING' }]);
  });

  it('an end that is present but unreadable still refuses the object, naming it', async () => {
    assert.deepEqual(
      (await quarantine(user)).map(({ category, reason }) => [category, reason]),
      [
        ['invalid', 'placeVisit without a readable duration (endTimestamp="soon")'],
        ['invalid', 'activitySegment without a readable duration (endTimestampMs="later")'],
      ],
    );
  });

  it('a re-import adds nothing (the missing end keeps the keys apart and stable)', async () => {
    assert.equal(firstRecords, 4 + 1 + 4 + 1); // visits, place, segments, raw path fix
    const again = await importFile(user, await takeoutCopy('start-only/2025_MARCH.json', '2025'));
    assert.equal(again.totals.records, 0);
  });
});

describe('Semantic Location History detection: content, not the month name alone', () => {
  it('a month file with a BOM, or with timelineObjects after other keys, is recognised by its content', () => {
    for (const relative of ['bom/2023_JANUARY.json', 'key-not-first/2023_FEBRUARY.json']) {
      const bytes = readFileSync(fixturePath(relative));
      const probe = probeOf(`Takeout/Location History/Semantic Location History/2023/${path.basename(relative)}`, bytes);
      assert.equal(LOCATION_SEMANTIC.detect(probe), 'content', relative);
      assert.equal(detectSource(probe)?.id, 'google.location.semantic', relative);
      // Anywhere, under any name.
      assert.equal(detectSource(probeOf('x/renamed.json', bytes))?.id, 'google.location.semantic', relative);
    }
  });

  it('a JSON named like a month file that shows other content is left to the JSON document', () => {
    const bytes = readFileSync(fixturePath('geojson/2023_January.json'));
    for (const probePath of ['watched/user@domain.com/2023_January.json', 'Takeout/Location History/Semantic Location History/2023/2023_January.json']) {
      const probe = probeOf(probePath, bytes);
      assert.equal(LOCATION_SEMANTIC.detect(probe), null, probePath);
      assert.equal(detectSource(probe)?.id, 'document.json', probePath);
    }
    // Arrays and scalars are not month files either; a head that shows no key yet, or a
    // `timelineObjects` that is not an array, keeps the name's claim (the parser reports it).
    const name = 'Takeout/Location History/Semantic Location History/2023/2023_MARCH.json';
    assert.equal(LOCATION_SEMANTIC.detect(probeOf(name, Buffer.from('[{"type": "Feature"}]'))), null);
    assert.equal(LOCATION_SEMANTIC.detect(probeOf(name, Buffer.from('"2023"'))), null);
    assert.equal(LOCATION_SEMANTIC.detect(probeOf(name, Buffer.from('\n'))), 'path');
    assert.equal(LOCATION_SEMANTIC.detect(probeOf(name, Buffer.from('{\n  '))), 'path');
    assert.equal(LOCATION_SEMANTIC.detect(probeOf(name, Buffer.from('{"timelineObjects": null}'))), 'path');
    assert.equal(LOCATION_SEMANTIC.detect(probeOf('x/other.json', Buffer.from('{"timelineObjects": null}'))), null);
  });

  it('imported: the GeoJSON is kept as a document, nothing quarantined; the month files load', async () => {
    const user = await createUser(t.lake, 'semantic-detection');
    const folder = path.join(dir, 'watched/user@domain.com');
    await mkdir(folder, { recursive: true });
    const geojson = path.join(folder, '2023_January.json');
    await writeFile(geojson, readFileSync(fixturePath('geojson/2023_January.json')));
    const report = await importFile(user, geojson);
    assert.deepEqual(
      report.files.map((file) => [file.format, file.status, file.records]),
      [['document.json', 'done', 1]],
    );
    const documents = await rows<{ kind: string; body: string }>(user, `SELECT kind, body FROM user_data.documents`);
    assert.equal(documents.length, 1);
    assert.equal(documents[0]!.kind, 'json');
    assert.match(documents[0]!.body, /FeatureCollection/);
    assert.deepEqual(await quarantine(user), []);

    for (const [relative, year] of [
      ['bom/2023_JANUARY.json', '2023'],
      ['key-not-first/2023_FEBRUARY.json', '2023'],
    ] as const) {
      const month = await importFile(user, await takeoutCopy(relative, year));
      assert.deepEqual(
        month.files.map((file) => [file.format, file.status]),
        [['google.location.semantic', 'done']],
        relative,
      );
    }
    const visits = await rows<{ place_id: string; started: string; ended: string }>(user, `SELECT place_id, ${utc('started_at')} AS started, ${utc('ended_at')} AS ended FROM user_data.visits`);
    assert.deepEqual(visits, [{ place_id: 'ChIJedgeBom', started: '2023-01-01T11:00:00.000Z', ended: '2023-01-01T12:00:00.000Z' }]);
    const segments = await rows<{ at: string; title: string }>(user, `SELECT ${utc('occurred_at')} AS at, title FROM user_data.items WHERE kind = 'activity_segment'`);
    assert.deepEqual(segments, [{ at: '2023-02-01T09:00:00.000Z', title: 'IN_BUS' }]);
    assert.deepEqual(await quarantine(user), []);
  });
});
