// The same location fix from two exports is stored once (issue 13, defect 9): an older
// Records.json (E7 integers, 7 decimals) and the on-device Timeline ("lat°, lng°" strings, 6
// decimals) overlap. Another source's fix within a second and a millionth of a degree on each axis
// is the same fix, and the one imported later counts as a duplicate, in either order. Fixes of one
// source are never merged (their keys tell them apart), whatever the batch boundaries.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runImport } from '../src/ingest/runner.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const T = Date.parse('2024-03-01T10:00:00Z');
const at = (seconds: number) => T + seconds * 1000;
const fix = (ms: number, latE7: number, lngE7: number, accuracy = 10) =>
  ({ timestamp: new Date(ms).toISOString(), latitudeE7: latE7, longitudeE7: lngE7, accuracy });

const RECORDS = {
  locations: [
    fix(at(0), 525200004, 134050003), // R0 = T0
    fix(at(60), 525210001, 134060001), // R1 = T1 (half a second apart)
    fix(at(120), 525220000, 134070000), // R2: T2 is 3 millionths away, T4 two seconds later
    fix(at(540), 525230000, 134080000), // R3 = T6, which is 0.8 s later: alone in its batch
    fix(at(1200), 525240000, 134090000, 10), // R5 and R6: one source, 0.3 s apart, same place
    fix(at(1200.3), 525240000, 134090000, 12),
  ],
};
/** Timeline.json positions: 6 decimals, written in another zone. */
const position = (ms: number, lat: string, lon: string) => ({
  position: { LatLng: `${lat}°, ${lon}°`, accuracyMeters: 10, timestamp: new Date(ms + 3_600_000).toISOString().replace('Z', '+01:00') },
});
const TIMELINE = {
  rawSignals: [
    position(at(0), '52.520000', '13.405000'), // T0
    position(at(60.5), '52.521000', '13.406000'), // T1
    position(at(120), '52.522003', '13.407000'), // T2: 3e-6° away, another fix
    position(at(122), '52.522000', '13.407000'), // T4: 2 s later, another fix
    position(at(600), '52.525000', '13.410000'), // T5: only here
    position(at(540.8), '52.523000', '13.408000'), // T6
  ],
};
const SAME = 3; // T0~R0, T1~R1, T6~R3

let t: TestLake;
let dir: string;
before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-same-fix-'));
  await mkdir(path.join(dir, 'records'));
  await mkdir(path.join(dir, 'ondevice'));
  await writeFile(path.join(dir, 'records', 'Records.json'), JSON.stringify(RECORDS));
  await writeFile(path.join(dir, 'ondevice', 'Timeline.json'), JSON.stringify(TIMELINE));
});
after(async () => {
  await t?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function importAs(user: string, folder: string) {
  // One record per batch: every batch's range is a single instant, so a stored fix found only
  // through the second's margin (T6 beside R3) is found by the margin, not by the batch's range.
  const report = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, folder)], batchSize: 1 });
  assert.equal(report.status, 'done');
  return report.totals;
}

async function storedPoints(user: string) {
  const result = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ at: string; source: string }>(
      `SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') AS at, source FROM timeseries.location_points ORDER BY recorded_at, source`,
    ),
  );
  return result.rows;
}

for (const order of [['records', 'ondevice'], ['ondevice', 'records']] as const) {
  test(`the same fix from Records.json and the on-device Timeline is stored once (${order.join(' first, then ')})`, async () => {
    const user = await createUser(t.lake, `same-fix-${order[0]}`);
    const first = await importAs(user, order[0]);
    const firstCount = order[0] === 'records' ? RECORDS.locations.length : TIMELINE.rawSignals.length;
    assert.equal(first.records, firstCount);
    assert.equal(first.duplicates, 0);
    const second = await importAs(user, order[1]);
    const secondCount = order[1] === 'records' ? RECORDS.locations.length : TIMELINE.rawSignals.length;
    assert.equal(second.duplicates, SAME, 'the fixes both exports hold count as duplicates');
    assert.equal(second.records, secondCount - SAME);

    const points = await storedPoints(user);
    assert.equal(points.length, RECORDS.locations.length + TIMELINE.rawSignals.length - SAME);
    // The instants stored: one of each same fix (from the export imported first), both of the rest.
    const firstSource = order[0] === 'records' ? 'google.location.records' : 'google.location.ondevice';
    const kept = (records: string, ondevice: string) => (order[0] === 'records' ? records : ondevice);
    assert.deepEqual(
      points.map((p) => p.at),
      [
        kept('10:00:00.000', '10:00:00.000'),
        kept('10:01:00.000', '10:01:00.500'),
        '10:02:00.000', '10:02:00.000', // R2 and T2: 3e-6° apart
        '10:02:02.000', // T4
        kept('10:09:00.000', '10:09:00.800'),
        '10:10:00.000', // T5
        '10:20:00.000', '10:20:00.300', // R5 and R6: one source
      ],
    );
    for (const p of points.filter((p) => ['10:00:00.000', '10:09:00.000', '10:09:00.800'].includes(p.at))) assert.equal(p.source, firstSource);

    // Both exports again: nothing new, each fix a duplicate once more.
    const againFirst = await importAs(user, order[0]);
    const againSecond = await importAs(user, order[1]);
    assert.equal(againFirst.records + againSecond.records, 0);
    assert.equal(againFirst.duplicates, firstCount);
    assert.equal(againSecond.duplicates, secondCount);
    assert.equal((await storedPoints(user)).length, points.length);
  });
}

test('the hourly summary holds the fix stored, not the duplicate', async () => {
  const user = await createUser(t.lake, 'same-fix-hours');
  await importAs(user, 'records');
  await importAs(user, 'ondevice');
  const hours = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ source: string; at: string }>(`SELECT source, to_char(recorded_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') AS at FROM timeseries.location_hours`),
  );
  assert.deepEqual(hours.rows, [{ source: 'google.location.records', at: '10:00:00.000' }]);
});
