// The grid cells that index location points for radius queries (src/geo/cells.ts, migration 0015):
// the database computes the same cell as cellOf, and the ranges around a centre cover every point
// within the radius, at cell edges, across the antimeridian and near the poles.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cellOf, cellRangesAround } from '../src/geo/cells.js';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
before(async () => {
  t = await openTestLake();
});
after(() => t.dispose());

const SPHERE_M = 6_371_008.8;

/** The point `distance` metres from (lat, lon) at `bearing` degrees, on a sphere. */
function destination(lat: number, lon: number, distance: number, bearing: number): [number, number] {
  const rad = Math.PI / 180;
  const d = distance / SPHERE_M;
  const φ1 = lat * rad;
  const θ = bearing * rad;
  const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
  const λ2 = lon * rad + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
  return [φ2 / rad, ((λ2 / rad + 540) % 360) - 180];
}

/** A deterministic sequence in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('the cell ranges around a centre hold every point within the radius', () => {
  const next = random(7);
  const centres: [number, number][] = [
    [52.52, 13.405], [0, 0], [52.5, 13.4], [-33.86, 151.21], [-17.7, 179.999], [-17.7, -179.995], [64.1, -21.9], [89.95, 45], [-89.99, 0], [0.005, 179.995],
  ];
  for (let i = 0; i < 30; i++) centres.push([next() * 178 - 89, next() * 360 - 180]);
  for (const [lat, lon] of centres) {
    for (const radius of [1, 50, 700, 1500, 25_000, 200_000]) {
      const ranges = cellRangesAround(lat, lon, radius);
      assert.ok(ranges, `ranges for ${radius} m around ${lat},${lon}`);
      for (let k = 0; k < 200; k++) {
        const [pLat, pLon] = destination(lat, lon, radius * Math.sqrt(next()) * 0.999, next() * 360);
        const cell = cellOf(pLat, pLon);
        assert.ok(ranges.some(([low, high]) => cell >= low && cell <= high), `${pLat},${pLon} (${radius} m from ${lat},${lon}) is covered`);
      }
    }
  }
});

test('a point far outside the radius is outside the ranges, and a continent-wide radius needs no cells', () => {
  const ranges = cellRangesAround(52.52, 13.405, 1000)!;
  const paris = cellOf(48.8566, 2.3522);
  assert.ok(!ranges.some(([low, high]) => paris >= low && paris <= high));
  assert.ok(ranges.length <= 3, `1 km spans a few rows of cells, got ${ranges.length} ranges`);
  assert.equal(cellRangesAround(52.52, 13.405, 1_000_000), null);
});

test('the database stores the cell cellOf computes, at cell edges too', async () => {
  const user = await createUser(t.lake, 'cells');
  const points: [number, number][] = [[52.52, 13.405], [0, 0], [-0.005, -0.005], [89.999, 179.99], [-90, -180], [90, 180], [12.34, -56.78], [-33.86, 151.21]];
  const records: LakeRecord[] = points.map(([lat, lon], i) => ({
    type: 'location_point', source: 'test.cells', key: [i], recordedAt: new Date(Date.UTC(2024, 0, 1, 0, i)), lat, lon,
  }));
  await loadBatch(t.lake.db, { userId: user, jobId: null, fileId: null }, { records });
  const stored = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ lat: number; lon: number; cell: number }>(`SELECT lat, lon, cell FROM timeseries.location_points ORDER BY recorded_at`),
  );
  assert.deepEqual(stored.rows.map((r) => r.cell), points.map(([lat, lon]) => cellOf(lat, lon)));
});
