// GET /v1/tiles/{z}/{x}/{y}.mvt over real HTTP (issue 17, map tiles): the tiles are decoded with
// @mapbox/vector-tile and their features checked against the points, visits and places loaded:
// each point in its own tile and not the next one, none of another user's, the time filter, the
// counts of the cells layer equal to the points they summarize after an import, a re-import and a
// file's removal, ETag and 304, and the refusals. Runs on PGlite, or on the server with
// LAKE_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { removeFileRows } from '../src/ingest/receive/ledger.js';
import { createApiKey } from '../src/query/api-keys.js';
import { CELL_BITS } from '../src/query/tiles.js';
import { startTestServer, type TestServer } from './support/api.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let server: TestServer;
const keys = { alice: '', bob: '' };
const ids = { alice: '', bob: '' };
const FILES = { first: '00000000-0000-4000-8000-0000000000b1', second: '00000000-0000-4000-8000-0000000000b2' };

interface Point {
  at: number;
  lat: number;
  lon: number;
  accuracy?: number;
}

/** The slippy-map tile of a position at zoom z (the usual formula, written here on its own). */
function tileOf(lat: number, lon: number, z: number): [number, number] {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  return [Math.floor(((lon + 180) / 360) * n), Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n)];
}

// Alice: a walk in Berlin across two years (points every 7 hours and 13 minutes, so days, months
// and years are cut at odd places), a few in Paris; Bob: points in Berlin too.
const ALICE_BERLIN: Point[] = Array.from({ length: 600 }, (_, i) => ({
  at: Date.parse('2023-11-20T03:17:00Z') + i * (7 * 3_600_000 + 13 * 60_000),
  lat: 52.5 + (i % 37) * 0.0011,
  lon: 13.38 + (i % 23) * 0.0017,
  accuracy: i % 5 === 0 ? undefined : 3 + (i % 40),
}));
const ALICE_PARIS: Point[] = Array.from({ length: 40 }, (_, i) => ({ at: Date.parse('2024-03-10T08:00:00Z') + i * 600_000, lat: 48.8566 + i * 0.0001, lon: 2.3522, accuracy: 12.5 }));
const BOB: Point[] = Array.from({ length: 50 }, (_, i) => ({ at: Date.parse('2024-01-05T00:00:00Z') + i * 3_600_000, lat: 52.51 + i * 0.0003, lon: 13.4, accuracy: 7 }));

function records(points: readonly Point[], source = 'test.tiles'): LakeRecord[] {
  return points.map((p) => ({ type: 'location_point', source, key: [p.at, p.lat, p.lon], recordedAt: new Date(p.at), lat: p.lat, lon: p.lon, accuracyM: p.accuracy }));
}

async function tile(path: string, key: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; bytes: Buffer; layers: VectorTile['layers']; json: any }> {
  const response = await fetch(server.url + path, { headers: { authorization: `Bearer ${key}`, ...headers } });
  const bytes = Buffer.from(await response.arrayBuffer());
  const isTile = response.status === 200;
  return {
    status: response.status,
    headers: response.headers,
    bytes,
    layers: isTile ? new VectorTile(new PbfReader(bytes)).layers : {},
    json: bytes.length > 0 && (response.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(bytes.toString()) : undefined,
  };
}

/** A layer's features as { lon, lat, properties }. */
function features(layers: VectorTile['layers'], name: string, [z, x, y]: [number, number, number]): { lon: number; lat: number; properties: Record<string, unknown> }[] {
  const layer = layers[name];
  if (!layer) return [];
  assert.equal(layer.extent, 4096);
  return Array.from({ length: layer.length }, (_, i) => {
    const feature = layer.feature(i);
    assert.equal(feature.type, 1, 'points');
    const geometry = feature.toGeoJSON(x, y, z).geometry as { type: string; coordinates: number[] };
    assert.equal(geometry.type, 'Point');
    return { lon: geometry.coordinates[0]!, lat: geometry.coordinates[1]!, properties: { ...feature.properties } };
  });
}

/** The sum of the counts of the cells layer of a tile. */
async function cellTotal(z: number, x: number, y: number, query = '', key = keys.alice): Promise<number> {
  const reply = await tile(`/v1/tiles/${z}/${x}/${y}.mvt?layers=cells${query}`, key);
  assert.equal(reply.status, 200, reply.bytes.toString());
  return features(reply.layers, 'cells', [z, x, y]).reduce((sum, f) => sum + (f.properties.count as number), 0);
}

/** Each cell of the tile at (52.51, 13.39), once, with the count, first and last time of its points. */
async function assertCells(z: number, points: readonly Point[], query = ''): Promise<void> {
  const [x, y] = tileOf(52.51, 13.39, z);
  const reply = await tile(`/v1/tiles/${z}/${x}/${y}.mvt?layers=cells${query}`, keys.alice);
  assert.equal(reply.status, 200);
  const cells = features(reply.layers, 'cells', [z, x, y]);
  const expected = new Map<string, Point[]>();
  for (const p of points) {
    const [cx, cy] = tileOf(p.lat, p.lon, z + CELL_BITS);
    if (cx >> CELL_BITS !== x || cy >> CELL_BITS !== y) continue;
    expected.set(`${cx},${cy}`, [...(expected.get(`${cx},${cy}`) ?? []), p]);
  }
  assert.equal(cells.length, expected.size, `cells at zoom ${z} ${query}`);
  for (const cell of cells) {
    // The feature sits at the centre of its cell.
    const [cx, cy] = tileOf(cell.lat, cell.lon, z + CELL_BITS);
    const inCell = expected.get(`${cx},${cy}`);
    assert.ok(inCell, `cell ${cx},${cy}`);
    expected.delete(`${cx},${cy}`); // each cell once
    assert.equal(cell.properties.count, inCell.length);
    assert.equal(cell.properties.first, Math.floor(Math.min(...inCell.map((p) => p.at)) / 1000));
    assert.equal(cell.properties.last, Math.floor(Math.max(...inCell.map((p) => p.at)) / 1000));
  }
}

const inRange = (points: readonly Point[], from?: string, to?: string) =>
  points.filter((p) => (from === undefined || p.at >= Date.parse(from)) && (to === undefined || p.at < Date.parse(to)));

before(async () => {
  t = await openTestLake({ LAKE_API_RATE_LIMIT: '0' });
  for (const name of ['alice', 'bob'] as const) {
    ids[name] = await createUser(t.lake, name);
    keys[name] = (await createApiKey(t.lake.db, name)).key;
    await t.lake.db.asUser(ids[name], async (tx) => {
      for (const file of Object.values(FILES)) {
        await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [ids[name], file]);
        await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'x.json')`, [ids[name], file]);
      }
    });
  }
  const target = (user: string, file: string) => ({ userId: user, jobId: file, fileId: file });
  await loadBatch(t.lake.db, target(ids.alice, FILES.first), { records: records(ALICE_BERLIN.slice(0, 300)) });
  await loadBatch(t.lake.db, target(ids.alice, FILES.first), { records: records(ALICE_BERLIN.slice(300)) });
  await loadBatch(t.lake.db, target(ids.alice, FILES.second), { records: records(ALICE_PARIS) });
  await loadBatch(t.lake.db, target(ids.bob, FILES.first), { records: records(BOB) });
  await t.lake.db.asUser(ids.alice, async (tx) => {
    await tx.query(`INSERT INTO user_data.places (user_id, place_id, source, name, lat, lon) VALUES
                      ($1, 'cafe', 'test', 'Café am Ufer', 52.5101, 13.3902), ($1, 'louvre', 'test', 'Louvre', 48.8606, 2.3376)`, [ids.alice]);
    await tx.query(`INSERT INTO user_data.visits (user_id, started_at, content_hash, ended_at, place_id, source) VALUES
                      ($1, '2024-02-01T10:00:00Z', '\\x01', '2024-02-01T11:30:00Z', 'cafe', 'test'),
                      ($1, '2024-06-01T10:00:00Z', '\\x02', '2024-06-01T10:45:00Z', 'cafe', 'test'),
                      ($1, '2024-03-10T09:00:00Z', '\\x03', '2024-03-10T12:00:00Z', 'louvre', 'test')`, [ids.alice]);
  });
  server = await startTestServer(t.lake);
});
after(async () => {
  await server?.close();
  await t?.dispose();
});

describe('points layer', () => {
  test('each point is in the tile its position falls in, at its position, with t and accuracy; not in the next tile', async () => {
    const z = 16;
    const sample = ALICE_BERLIN[7]!;
    const [x, y] = tileOf(sample.lat, sample.lon, z);
    const expected = ALICE_BERLIN.filter((p) => tileOf(p.lat, p.lon, z).join() === `${x},${y}`);
    const reply = await tile(`/v1/tiles/${z}/${x}/${y}.mvt`, keys.alice);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'application/vnd.mapbox-vector-tile');
    assert.deepEqual(Object.keys(reply.layers).sort(), ['places', 'points', 'visits'].filter((l) => reply.layers[l]).sort());
    const got = features(reply.layers, 'points', [z, x, y]);
    assert.equal(got.length, expected.length);
    const byTime = new Map(got.map((f) => [f.properties.t as number, f]));
    for (const p of expected) {
      const f = byTime.get(Math.floor(p.at / 1000));
      assert.ok(f, `point at ${new Date(p.at).toISOString()}`);
      // Tile units are 1/4096 of the tile: at zoom 16 about 15 cm.
      assert.ok(Math.abs(f.lat - p.lat) < 1e-5 && Math.abs(f.lon - p.lon) < 1e-5, `${f.lat},${f.lon} vs ${p.lat},${p.lon}`);
      assert.equal(f.properties.accuracy, p.accuracy);
    }
    // The neighbours hold exactly the points whose positions fall in them.
    for (const [dx, dy] of [[1, 0], [0, 1], [-1, 0], [0, -1]] as const) {
      const [nx, ny] = [x + dx, y + dy];
      const there = ALICE_BERLIN.filter((p) => tileOf(p.lat, p.lon, z).join() === `${nx},${ny}`).map((p) => Math.floor(p.at / 1000)).sort();
      const next = await tile(`/v1/tiles/${z}/${nx}/${ny}.mvt?layers=points`, keys.alice);
      const times = features(next.layers, 'points', [z, nx, ny]).map((f) => f.properties.t as number).sort();
      assert.deepEqual(times, there);
      for (const time of times) assert.ok(!byTime.has(time));
    }
  });

  test("another user's points never appear; theirs are theirs", async () => {
    const z = 16;
    const [x, y] = tileOf(BOB[0]!.lat, BOB[0]!.lon, z);
    const alices = features((await tile(`/v1/tiles/${z}/${x}/${y}.mvt?layers=points`, keys.alice)).layers, 'points', [z, x, y]);
    const bobs = features((await tile(`/v1/tiles/${z}/${x}/${y}.mvt?layers=points`, keys.bob)).layers, 'points', [z, x, y]);
    const mine = (points: Point[]) => points.filter((p) => tileOf(p.lat, p.lon, z).join() === `${x},${y}`).map((p) => Math.floor(p.at / 1000)).sort();
    assert.ok(mine(BOB).length > 0 && mine(ALICE_BERLIN).length > 0);
    assert.deepEqual(alices.map((f) => f.properties.t).sort(), mine(ALICE_BERLIN));
    assert.deepEqual(bobs.map((f) => f.properties.t).sort(), mine(BOB));
    // Bob's cells, places and visits: only his points, none of Alice's places.
    assert.equal(await cellTotal(0, 0, 0, '', keys.bob), BOB.length);
    const bobsWorld = await tile('/v1/tiles/3/4/2.mvt', keys.bob);
    assert.equal(bobsWorld.layers.places, undefined);
  });

  test('from and to select the points of the range', async () => {
    const z = 16;
    const from = '2024-02-03T05:00:00Z';
    const to = '2024-04-01';
    const sample = inRange(ALICE_BERLIN, from, to)[3]!;
    const [x, y] = tileOf(sample.lat, sample.lon, z);
    assert.ok(ALICE_BERLIN.some((p) => p.at < Date.parse(from) && tileOf(p.lat, p.lon, z).join() === `${x},${y}`), 'the tile has points outside the range too');
    const expected = inRange(ALICE_BERLIN, from, to).filter((p) => tileOf(p.lat, p.lon, z).join() === `${x},${y}`).map((p) => Math.floor(p.at / 1000)).sort();
    assert.ok(expected.length > 0);
    const got = features((await tile(`/v1/tiles/${z}/${x}/${y}.mvt?layers=points&from=${from}&to=${to}`, keys.alice)).layers, 'points', [z, x, y]);
    assert.deepEqual(got.map((f) => f.properties.t).sort(), expected);
  });
});

describe('cells layer', () => {
  test('counts equal the points they summarize, at every zoom of the layer, with first and last', async () => {
    const all = [...ALICE_BERLIN, ...ALICE_PARIS];
    assert.equal(await cellTotal(0, 0, 0), all.length);
    for (const z of [1, 3, 5, 8, 10, 12, 13, 14, 15]) {
      const [x, y] = tileOf(52.51, 13.39, z);
      const expected = all.filter((p) => tileOf(p.lat, p.lon, z).join() === `${x},${y}`);
      assert.equal(await cellTotal(z, x, y), expected.length, `zoom ${z}`);
    }
    // At zoom 15 a cell is 1/32 of the tile: each cell's count, first and last, from the points.
    const [x, y] = tileOf(52.51, 13.39, 15);
    const reply = await tile(`/v1/tiles/15/${x}/${y}.mvt`, keys.alice);
    assert.equal(reply.layers.points, undefined, 'no points layer at zoom 15');
    await assertCells(15, ALICE_BERLIN);
    await assertCells(11, ALICE_BERLIN);
  });

  test('a time range is counted exactly: whole years, months, days and the points of cut days', async () => {
    const all = [...ALICE_BERLIN, ...ALICE_PARIS];
    const ranges: [string | undefined, string | undefined][] = [
      ['2024-01-01', '2025-01-01'],
      ['2023-12-15', undefined],
      [undefined, '2024-03-10T08:35:00Z'],
      ['2023-11-21T10:30:00Z', '2024-02-03T05:00:00Z'],
      ['2024-03-10T08:05:00Z', '2024-03-10T09:00:00Z'],
      ['2024-02-01', '2024-03-01'],
      ['2023-12-01', '2024-03-01'],
      ['2030-01-01', undefined],
    ];
    for (const [from, to] of ranges) {
      const query = `${from ? `&from=${from}` : ''}${to ? `&to=${to}` : ''}`;
      assert.equal(await cellTotal(0, 0, 0, query), inRange(all, from, to).length, query);
      const [x, y] = tileOf(52.51, 13.39, 9);
      assert.equal(await cellTotal(9, x, y, query), inRange(ALICE_BERLIN, from, to).length, `zoom 9 ${query}`);
      // Cell by cell where the stored level is the one drawn (10, 12) and where four cells make one (13).
      for (const z of [10, 12, 13]) await assertCells(z, inRange(ALICE_BERLIN, from, to), query);
    }
  });

  test('after a re-import (duplicates) and the removal of a file, the counts follow the points', async () => {
    const target = { userId: ids.alice, jobId: FILES.first, fileId: FILES.first };
    const again = await loadBatch(t.lake.db, target, { records: records(ALICE_BERLIN.slice(250, 350)) });
    assert.equal(again.duplicates, 100);
    assert.equal(await cellTotal(0, 0, 0), ALICE_BERLIN.length + ALICE_PARIS.length);
    // A re-import that brings some new points among old ones.
    const extra: Point[] = [{ at: Date.parse('2024-01-15T12:00:00Z'), lat: 52.52, lon: 13.41 }, { at: Date.parse('2024-01-15T12:00:30Z'), lat: 52.5201, lon: 13.41 }];
    const mixed = await loadBatch(t.lake.db, target, { records: records([...ALICE_BERLIN.slice(100, 140), ...extra, extra[0]!]) });
    assert.equal(mixed.inserted, 2);
    const berlin = [...ALICE_BERLIN, ...extra];
    assert.equal(await cellTotal(0, 0, 0), berlin.length + ALICE_PARIS.length);
    assert.equal(await cellTotal(0, 0, 0, '&from=2024-01-15T11:00:00Z&to=2024-01-16'), inRange(berlin, '2024-01-15T11:00:00Z', '2024-01-16').length);
    // Paris came from the second file: removed, its cells go.
    const [px, py] = tileOf(48.8566, 2.3522, 10);
    assert.equal(await cellTotal(10, px, py), ALICE_PARIS.length);
    await removeFileRows(t.lake.db, ids.alice, FILES.second, ['timeseries.location_points']);
    assert.equal(await cellTotal(10, px, py), 0);
    assert.equal(await cellTotal(0, 0, 0), berlin.length);
    assert.equal(await cellTotal(0, 0, 0, '&from=2024-03-01&to=2024-04-01'), inRange(berlin, '2024-03-01', '2024-04-01').length);
    assert.equal(await cellTotal(0, 0, 0, '', keys.bob), BOB.length);
  });
});

describe('visits and places', () => {
  test('places with their visit counts, visits with their place, filtered by time', async () => {
    const z = 14;
    const [x, y] = tileOf(52.5101, 13.3902, z);
    const reply = await tile(`/v1/tiles/${z}/${x}/${y}.mvt`, keys.alice);
    const places = features(reply.layers, 'places', [z, x, y]);
    assert.deepEqual(places.map((p) => p.properties), [{ id: 'cafe', name: 'Café am Ufer', visits: 2 }]);
    assert.ok(Math.abs(places[0]!.lat - 52.5101) < 1e-5 && Math.abs(places[0]!.lon - 13.3902) < 1e-5);
    const visits = features(reply.layers, 'visits', [z, x, y]);
    assert.deepEqual(visits.map((v) => v.properties), [
      { id: '01', place: 'Café am Ufer', start: Date.parse('2024-02-01T10:00:00Z') / 1000, end: Date.parse('2024-02-01T11:30:00Z') / 1000 },
      { id: '02', place: 'Café am Ufer', start: Date.parse('2024-06-01T10:00:00Z') / 1000, end: Date.parse('2024-06-01T10:45:00Z') / 1000 },
    ]);
    const march = await tile(`/v1/tiles/${z}/${x}/${y}.mvt?from=2024-05-01&to=2024-07-01`, keys.alice);
    assert.deepEqual(features(march.layers, 'places', [z, x, y]).map((p) => p.properties), [{ id: 'cafe', name: 'Café am Ufer', visits: 1 }]);
    assert.deepEqual(features(march.layers, 'visits', [z, x, y]).map((v) => v.properties.id), ['02']);
    // Visits are drawn from zoom 10; places at every zoom.
    const world = await tile('/v1/tiles/2/2/1.mvt', keys.alice);
    assert.equal(world.layers.visits, undefined);
    assert.deepEqual(features(world.layers, 'places', [2, 2, 1]).map((p) => p.properties.id).sort(), ['cafe', 'louvre']);
  });
});

describe('caching and refusals', () => {
  test('ETag, If-None-Match gives 304, Cache-Control private', async () => {
    const first = await tile('/v1/tiles/4/8/5.mvt', keys.alice);
    assert.equal(first.status, 200);
    const etag = first.headers.get('etag')!;
    assert.match(etag, /^"[\w-]+"$/);
    assert.match(first.headers.get('cache-control')!, /private/);
    const again = await tile('/v1/tiles/4/8/5.mvt', keys.alice, { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.bytes.length, 0);
    // Another range, other bytes: the old ETag does not match.
    const other = await tile('/v1/tiles/4/8/5.mvt?from=2024-06-01', keys.alice, { 'if-none-match': etag });
    assert.equal(other.status, 200);
    assert.notEqual(other.headers.get('etag'), etag);
    // Bob's tile of the same place is not Alice's.
    const bobs = await tile('/v1/tiles/4/8/5.mvt', keys.bob, { 'if-none-match': etag });
    assert.equal(bobs.status, 200);
    // An empty tile: zero bytes, still a tile.
    const empty = await tile('/v1/tiles/4/0/0.mvt', keys.alice);
    assert.equal(empty.status, 200);
    assert.equal(empty.bytes.length, 0);
  });

  test('400 for an unknown layer, a zoom over 22, x or y beyond the zoom, a bad time; 401 without a key', async () => {
    const cases: [string, RegExp][] = [
      ['/v1/tiles/3/1/1.mvt?layers=points,roads', /layers.*roads/],
      ['/v1/tiles/23/0/0.mvt', /`z`/],
      ['/v1/tiles/3/8/0.mvt', /`x` must be from 0 to 7 at zoom 3, not 8/],
      ['/v1/tiles/3/0/8.mvt', /`y`/],
      ['/v1/tiles/3/-1/0.mvt', /`x`/],
      ['/v1/tiles/3/a/0.mvt', /`x`/],
      ['/v1/tiles/3/1/1.mvt?from=2024-02-30', /`from`/],
      ['/v1/tiles/3/1/1.mvt?from=2024-03-01&to=2024-02-01', /`to`/],
      ['/v1/tiles/3/1/1.mvt?zoom=4', /zoom/],
    ];
    for (const [path, message] of cases) {
      const reply = await tile(path, keys.alice);
      assert.equal(reply.status, 400, path);
      assert.equal(reply.json.error.code, 'INVALID_REQUEST', path);
      assert.match(reply.json.error.message, message, path);
    }
    const anonymous = await fetch(`${server.url}/v1/tiles/0/0/0.mvt`);
    assert.equal(anonymous.status, 401);
  });
});
