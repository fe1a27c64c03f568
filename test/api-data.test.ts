// The /v1 data endpoints over real HTTP, with two users' data loaded by the import loader: each
// user sees exactly their own rows on every endpoint, pages hold every row exactly once, filters
// select what they say, GeoJSON has its shape, and the NDJSON export gives back every row.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { locationConditions, type LocationFilter } from '../src/query/locations.js';
import { SqlParams } from '../src/query/sql.js';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { allPages, get, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';

const BERLIN = { lat: 52.52, lon: 13.405 };
const PARIS = { lat: 48.8566, lon: 2.3522 };
const TOKYO = { lat: 35.6762, lon: 139.6503 };
/** Alice's track: one point a minute from here; enough points to span several export chunks. */
const TRACK_START = Date.parse('2024-03-01T00:00:00Z');
const TRACK_POINTS = 4500;

let t: TestLake;
let server: TestServer;
const users: Record<'alice' | 'bob', { id: string; key: string; fileId: string }> = {} as never;

interface Feature {
  type: string;
  geometry: { type: string; coordinates: number[] };
  properties: { recorded_at: string; source: string; [name: string]: unknown };
}
interface FeatureCollection {
  type: string;
  features: Feature[];
  next_cursor: string | null;
}
interface TimelinePage {
  items: { item_id: string; occurred_at: string; kind: string; source: string; title: string | null }[];
  next_cursor: string | null;
}

function aliceRecords(): LakeRecord[] {
  const records: LakeRecord[] = [];
  const kinds = ['search', 'page_visit', 'video_watch'];
  for (let i = 0; i < 230; i++) {
    // Every tenth item shares its time with the one before: pages must break ties (by content hash).
    const minute = i % 10 === 9 ? i - 1 : i;
    records.push({
      type: 'item',
      source: i % 2 === 0 ? 'test.activity' : 'test.chrome',
      key: ['alice', i],
      kind: kinds[i % 3]!,
      occurredAt: new Date(Date.parse('2024-01-15T00:00:00Z') + minute * 6 * 3600_000),
      title: `alice-secret ${i % 5 === 0 ? 'giraffe' : 'zebra'} ${i}`,
      lat: i % 4 === 0 ? BERLIN.lat : null,
      lon: i % 4 === 0 ? BERLIN.lon : null,
    });
  }
  for (let i = 0; i < TRACK_POINTS; i++) {
    // Within ~300 m of the centre of Berlin, the first 40 in Paris; every 50th point shares its time.
    const inParis = i < 40;
    const centre = inParis ? PARIS : BERLIN;
    const at = TRACK_START + (i % 50 === 49 ? i - 1 : i) * 60_000;
    records.push({
      type: 'location_point',
      source: 'test.records',
      key: ['alice', i],
      recordedAt: new Date(at),
      lat: centre.lat + ((i % 7) - 3) * 0.0004,
      lon: centre.lon + ((i % 11) - 5) * 0.0004,
      accuracyM: 10,
      altitudeM: i % 3 === 0 ? 34 : null,
    });
  }
  // Two points on either side of the antimeridian (Fiji) and one 1.5 km east of Berlin's centre.
  records.push(
    { type: 'location_point', source: 'test.records', key: ['fiji', 1], recordedAt: new Date('2024-06-01T00:00:00Z'), lat: -17, lon: 179.9 },
    { type: 'location_point', source: 'test.records', key: ['fiji', 2], recordedAt: new Date('2024-06-01T01:00:00Z'), lat: -17, lon: -179.9 },
    { type: 'location_point', source: 'test.records', key: ['east', 1], recordedAt: new Date('2024-06-02T00:00:00Z'), lat: BERLIN.lat, lon: BERLIN.lon + 0.0221 },
    { type: 'place', source: 'test.semantic', key: ['alice-place'], placeId: 'alice-home', name: 'alice-secret home', lat: BERLIN.lat, lon: BERLIN.lon },
    { type: 'visit', source: 'test.semantic', key: ['alice-visit'], placeId: 'alice-home', startedAt: new Date('2024-02-01T10:00:00Z'), endedAt: new Date('2024-02-01T12:00:00Z') },
    { type: 'measurement', source: 'test.fit', key: ['alice-steps'], measuredAt: new Date('2024-02-01T00:00:00Z'), metric: 'steps', value: 1234, unit: 'count' },
    {
      type: 'message', source: 'test.mail', key: ['alice-mail'], messageId: 'alice@example.org', threadId: null, sentAt: new Date('2024-02-03T08:00:00Z'),
      from: 'alice@example.org', to: ['friend@example.org'], cc: [], subject: 'alice-secret mail', body: 'hello', labels: [], inReplyTo: null, attachments: [],
    },
  );
  return records;
}

function bobRecords(): LakeRecord[] {
  const records: LakeRecord[] = [];
  for (let i = 0; i < 12; i++) {
    records.push({ type: 'item', source: 'test.bob', key: ['bob', i], kind: 'search', occurredAt: new Date(Date.parse('2024-01-20T00:00:00Z') + i * 3600_000), title: `bob-secret ${i}` });
    records.push({ type: 'location_point', source: 'test.bob', key: ['bob', i], recordedAt: new Date(TRACK_START + i * 60_000), lat: TOKYO.lat, lon: TOKYO.lon });
  }
  records.push(
    { type: 'place', source: 'test.bob', key: ['bob-place'], placeId: 'bob-home', name: 'bob-secret home' },
    { type: 'visit', source: 'test.bob', key: ['bob-visit'], placeId: 'bob-home', startedAt: new Date('2024-02-01T10:00:00Z'), endedAt: new Date('2024-02-01T11:00:00Z') },
  );
  return records;
}

/** An import job and file for the user, so loaded rows have provenance. */
async function importFile(userId: string, path: string): Promise<string> {
  return t.lake.db.asUser(userId, async (tx) => {
    const job = await tx.query<{ job_id: string }>(`INSERT INTO imports.jobs (user_id, status) VALUES ($1, 'done') RETURNING job_id`, [userId]);
    const file = await tx.query<{ file_id: string }>(
      `INSERT INTO imports.files (user_id, job_id, path, archive, sha256, size_bytes, detected_format, status)
       VALUES ($1, $2, $3, 'takeout-001.zip', sha256('x'), 42, 'google.myactivity.json', 'done') RETURNING file_id`,
      [userId, job.rows[0]!.job_id, path],
    );
    return file.rows[0]!.file_id;
  });
}

async function countAs(userId: string, sql: string, params: unknown[] = []): Promise<number> {
  const r = await t.lake.db.asUser(userId, (tx) => tx.query<{ n: number }>(sql, params));
  return r.rows[0]!.n;
}

before(async () => {
  t = await openTestLake();
  for (const [name, records] of [['alice', aliceRecords()], ['bob', bobRecords()]] as const) {
    const { userId } = await createUser(t.lake.db, name);
    const fileId = await importFile(userId, `Takeout/${name}/MyActivity.json`);
    for (let i = 0; i < records.length; i += 1000) {
      await loadBatch(t.lake.db, { userId, jobId: null, fileId }, { records: records.slice(i, i + 1000) });
    }
    users[name] = { id: userId, key: (await createApiKey(t.lake.db, name)).key, fileId };
  }
  server = await startTestServer(t.lake);
});
after(async () => {
  await server?.close();
  await t.dispose();
});

describe('user B gets none of user A’s data, and A gets all of A’s, on every endpoint', () => {
  test('/v1/timeline', async () => {
    for (const name of ['alice', 'bob'] as const) {
      const other = name === 'alice' ? 'bob' : 'alice';
      const pages = await allPages<TimelinePage>(server, '/v1/timeline?limit=1000', users[name].key);
      const items = pages.flatMap((p) => p.items);
      assert.equal(items.length, await countAs(users[name].id, `SELECT count(*)::int AS n FROM user_data.items`), name);
      assert.ok(items.every((i) => i.title?.startsWith(`${name}-secret`)), `${name} sees only their own items`);
      assert.ok(!JSON.stringify(pages).includes(`${other}-secret`));
    }
  });

  test('/v1/locations', async () => {
    const bob = (await allPages<FeatureCollection>(server, '/v1/locations?limit=10000', users.bob.key)).flatMap((p) => p.features);
    assert.equal(bob.length, 12);
    assert.ok(bob.every((f) => f.properties.source === 'test.bob' && f.geometry.coordinates[1] === TOKYO.lat));
    const alice = (await allPages<FeatureCollection>(server, '/v1/locations?limit=10000', users.alice.key)).flatMap((p) => p.features);
    assert.equal(alice.length, TRACK_POINTS + 3);
    assert.ok(alice.every((f) => f.properties.source === 'test.records'));
    // The same area and time, asked by bob: nothing of alice's.
    const berlin = await get<FeatureCollection>(server, `/v1/locations?near=${BERLIN.lat},${BERLIN.lon}&radius=5000`, users.bob.key);
    assert.deepEqual(berlin.body.features, []);
  });

  test('/v1/items/:id: 404 with no hint for the other user’s item, the item and its provenance for its owner', async () => {
    const aliceItem = (await get<TimelinePage>(server, '/v1/timeline?limit=1', users.alice.key)).body.items[0]!;
    const asBob = await get(server, `/v1/items/${aliceItem.item_id}`, users.bob.key);
    const missing = await get(server, '/v1/items/0b0e6a4c-27a1-4d4e-9c51-3f1c2a7f9e10', users.bob.key);
    assert.equal(asBob.status, 404);
    assert.deepEqual(asBob.body, { error: { code: 'NOT_FOUND', message: `no item ${aliceItem.item_id}` } });
    assert.deepEqual(missing.body, { error: { code: 'NOT_FOUND', message: 'no item 0b0e6a4c-27a1-4d4e-9c51-3f1c2a7f9e10' } }, 'the same answer as an id that does not exist');
    const asAlice = await get(server, `/v1/items/${aliceItem.item_id}`, users.alice.key);
    assert.equal(asAlice.status, 200);
    assert.deepEqual(asAlice.body.item, aliceItem);
    const file = asAlice.body.provenance.file;
    assert.deepEqual(
      { file_id: file.file_id, path: file.path, archive: file.archive, size_bytes: file.size_bytes, detected_format: file.detected_format, status: file.status },
      { file_id: users.alice.fileId, path: 'Takeout/alice/MyActivity.json', archive: 'takeout-001.zip', size_bytes: 42, detected_format: 'google.myactivity.json', status: 'done' },
    );
    assert.match(file.sha256, /^[0-9a-f]{64}$/);
    assert.equal(aliceItem.title?.startsWith('alice-secret'), true);
  });

  test('/v1/stats/monthly counts each user’s own rows', async () => {
    const bob = await get<{ months: { month: string; table: string; source: string; count: number }[] }>(server, '/v1/stats/monthly', users.bob.key);
    assert.deepEqual(bob.body.months, [
      { month: '2024-01', table: 'items', source: 'test.bob', count: 12 },
      { month: '2024-02', table: 'visits', source: 'test.bob', count: 1 },
      { month: '2024-03', table: 'location_points', source: 'test.bob', count: 12 },
    ]);
    const alice = await get<{ months: { month: string; table: string; source: string; count: number }[] }>(server, '/v1/stats/monthly', users.alice.key);
    const expected = await t.lake.db.asUser(users.alice.id, (tx) =>
      tx.query<{ month: string; source: string; count: number }>(
        `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, source, count(*)::int AS count FROM user_data.items GROUP BY 1, 2 ORDER BY 1, 2`,
      ),
    );
    assert.deepEqual(
      alice.body.months.filter((m) => m.table === 'items').map(({ month, source, count }) => ({ month, source, count })),
      expected.rows,
    );
    const points = alice.body.months.filter((m) => m.table === 'location_points').reduce((sum, m) => sum + m.count, 0);
    assert.equal(points, TRACK_POINTS + 3);
    for (const table of ['visits', 'measurements', 'messages']) {
      assert.deepEqual(alice.body.months.filter((m) => m.table === table).map((m) => m.count), [1], table);
    }
    const windowed = await get<{ months: { month: string }[] }>(server, '/v1/stats/monthly?from=2024-02-01&to=2024-03-01', users.alice.key);
    assert.deepEqual([...new Set(windowed.body.months.map((m) => m.month))], ['2024-02']);
  });

  test('/v1/export: every row the user owns, and no other user’s', async () => {
    for (const name of ['alice', 'bob'] as const) {
      const response = await fetch(`${server.url}/v1/export`, { headers: { authorization: `Bearer ${users[name].key}` } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      const lines = (await response.text()).trimEnd().split('\n').map((line) => JSON.parse(line));
      const summary = lines.pop();
      const counted: Record<string, number> = {};
      for (const line of lines) {
        assert.equal(line.row.user_id, users[name].id, `every row is ${name}'s`);
        assert.equal('search' in line.row || 'geog' in line.row, false, 'derived columns are left out');
        assert.equal('secret_hash' in line.row, false, 'API key hashes are left out');
        counted[line.table] = (counted[line.table] ?? 0) + 1;
      }
      // Every table of user data, found in the catalog here as well: a new table cannot be left out.
      const tables = await t.lake.db.query<{ name: string }>(
        `SELECT format('%s.%s', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('user_data', 'timeseries', 'imports', 'analytics', 'vectors', 'archive', 'audit')
            AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)`,
      );
      assert.ok(tables.rows.length >= 20, `${tables.rows.length} user tables`);
      const expected: Record<string, number> = {};
      for (const { name: table } of tables.rows) expected[table] = await countAs(users[name].id, `SELECT count(*)::int AS n FROM ${table}`);
      assert.deepEqual(summary.complete, true, name);
      const exported: Record<string, number> = { ...summary.rows };
      // The access log grows while the test runs (it is written once a second): at most what is there now.
      assert.ok(summary.rows['audit.events'] <= expected['audit.events']!, 'audit.events');
      summary.rows['audit.events'] = expected['audit.events'];
      assert.deepEqual(Object.fromEntries(Object.entries(summary.rows).sort()), Object.fromEntries(Object.entries(expected).sort()), name);
      assert.deepEqual(counted, Object.fromEntries(Object.entries(exported).filter(([, n]) => n > 0)), 'the lines are the rows the last line counts');
      if (name === 'alice') assert.ok(expected['timeseries.location_points']! > 2000, 'the points span more than one export chunk');
      assert.ok(expected['user_data.users'] === 1 && expected['imports.files']! > 0, 'the user row and the import ledger too');
      // Keys are unique: the chunks neither overlap nor repeat.
      const pointKeys = lines.filter((l) => l.table === 'timeseries.location_points').map((l) => `${l.row.recorded_at}|${l.row.content_hash}`);
      assert.equal(new Set(pointKeys).size, pointKeys.length);
    }
  });
});

describe('pagination returns every row exactly once', () => {
  test('timeline, newest first and oldest first, with ties in time, filtered and not', async () => {
    const all = await t.lake.db.asUser(users.alice.id, (tx) => tx.query<{ item_id: string; kind: string }>(`SELECT item_id, kind FROM user_data.items`));
    for (const [query, expected] of [
      ['limit=7', all.rows],
      ['limit=7&order=asc', all.rows],
      ['limit=9&kinds=search&kinds=video_watch', all.rows.filter((r) => r.kind !== 'page_visit')],
      ['limit=9&kinds=search,video_watch&order=asc', all.rows.filter((r) => r.kind !== 'page_visit')],
    ] as const) {
      const pages = await allPages<TimelinePage>(server, `/v1/timeline?${query}`, users.alice.key);
      const ids = pages.flatMap((p) => p.items.map((i) => i.item_id));
      assert.equal(ids.length, new Set(ids).size, `${query}: no item twice`);
      assert.deepEqual([...ids].sort(), expected.map((r) => r.item_id).sort(), query);
      assert.ok(pages.slice(0, -1).every((p) => p.items.length === Number(/limit=(\d+)/.exec(query)![1])), `${query}: full pages until the last`);
      const times = pages.flatMap((p) => p.items.map((i) => Date.parse(i.occurred_at)));
      const ordered = query.includes('order=asc') ? times.every((x, i) => i === 0 || times[i - 1]! <= x) : times.every((x, i) => i === 0 || times[i - 1]! >= x);
      assert.ok(ordered, `${query}: in order`);
    }
  });

  test('locations, with ties in time', async () => {
    const to = new Date(TRACK_START + 300 * 60_000).toISOString();
    const pages = await allPages<FeatureCollection>(server, `/v1/locations?from=2024-03-01&to=${to}&limit=13`, users.alice.key);
    const features = pages.flatMap((p) => p.features);
    assert.equal(pages.length, Math.ceil(300 / 13));
    const expected = await t.lake.db.asUser(users.alice.id, (tx) =>
      tx.query<{ at: Date; lon: number; lat: number }>(`SELECT recorded_at AS at, lon, lat FROM timeseries.location_points WHERE recorded_at < $1 ORDER BY 1, 2, 3`, [to]),
    );
    const key = (at: number, lon: number, lat: number) => `${at}|${lon}|${lat}`;
    assert.deepEqual(
      features.map((f) => key(Date.parse(f.properties.recorded_at), f.geometry.coordinates[0]!, f.geometry.coordinates[1]!)).sort(),
      expected.rows.map((r) => key(r.at.getTime(), r.lon, r.lat)).sort(),
    );
  });

  test('simplified locations: one point per time bucket, every bucket once across pages', async () => {
    const bucketMs = 600_000;
    const pages = await allPages<FeatureCollection>(server, '/v1/locations?simplify=600&limit=4&to=2024-05-01', users.alice.key);
    const times = pages.flatMap((p) => p.features.map((f) => Date.parse(f.properties.recorded_at)));
    const buckets = times.map((ms) => Math.floor(ms / bucketMs));
    assert.equal(new Set(buckets).size, buckets.length, 'no bucket twice');
    assert.ok(buckets.every((b, i) => i === 0 || buckets[i - 1]! < b), 'buckets in order');
    assert.equal(buckets.length, Math.ceil(TRACK_POINTS / 10), 'every ten-minute bucket of the track');
    // The first point of each bucket is the one shown.
    assert.ok(times.every((ms) => ms % bucketMs === 0), 'each bucket starts with a point on the minute of its start');
  });

  test('whole-hour buckets come from the hourly summary and match the points themselves, range ends cut mid-hour and paged', async () => {
    type Page = FeatureCollection & { next_cursor: string | null };
    const features = async (path: string) => (await allPages<Page>(server, path, users.alice.key)).flatMap((p) => p.features);
    // A bounding box around the whole world keeps the same points but reads them from the points table.
    const world = '&bbox=-180,-90,180,90';
    for (const range of ['simplify=3600&from=2024-03-01T00:25:00Z&to=2024-03-03T05:35:00Z&limit=5', 'simplify=7200&limit=3', 'simplify=3600&from=2024-03-02T10:10:00Z&to=2024-03-02T10:50:00Z']) {
      const summary = await features(`/v1/locations?${range}`);
      assert.ok(summary.length > 0, range);
      assert.deepEqual(summary, await features(`/v1/locations?${range}${world}`), range);
    }
  });
});

describe('locations as GeoJSON', () => {
  test('a FeatureCollection of Point features with [lon, lat(, altitude)] and properties', async () => {
    const reply = await get<FeatureCollection>(server, '/v1/locations?limit=3&from=2024-03-01T00:40:00Z', users.alice.key);
    assert.equal(reply.status, 200);
    const collection = reply.body;
    assert.equal(collection.type, 'FeatureCollection');
    assert.equal(collection.features.length, 3);
    assert.equal(typeof collection.next_cursor, 'string');
    const [first] = collection.features;
    assert.equal(first!.type, 'Feature');
    assert.equal(first!.geometry.type, 'Point');
    // What a point does not record is left out, not null.
    assert.deepEqual(first!.properties, { recorded_at: '2024-03-01T00:40:00.000Z', accuracy_m: 10, source: 'test.records' });
    // Point 40: 40 % 3 != 0 so no altitude; point 42 has one.
    assert.deepEqual(first!.geometry.coordinates, [BERLIN.lon + ((40 % 11) - 5) * 0.0004, BERLIN.lat + ((40 % 7) - 3) * 0.0004]);
    assert.equal(collection.features[2]!.geometry.coordinates.length, 3);
    assert.equal(collection.features[2]!.geometry.coordinates[2], 34);
  });

  test('the properties a point records are there, strings escaped; the ones it does not are left out', async () => {
    const { userId } = await createUser(t.lake.db, 'dora');
    const key = (await createApiKey(t.lake.db, 'dora')).key;
    await loadBatch(t.lake.db, { userId, jobId: null, fileId: null }, {
      records: [
        { type: 'location_point', source: 'test.full', key: [1], recordedAt: new Date('2024-07-01T10:00:00.123Z'), lat: 1.5, lon: -2.25,
          altitudeM: 12.5, accuracyM: 3, velocityMps: 1.25, headingDeg: 270, activity: 'ON "FOOT"', device: 'phone\\1' },
        { type: 'location_point', source: 'test.full', key: [2], recordedAt: new Date('2024-07-01T11:00:00Z'), lat: 1.5, lon: -2.25 },
      ],
    });
    const page = await get<FeatureCollection>(server, '/v1/locations?from=2024-07-01&to=2024-07-02', key);
    assert.deepEqual(page.body.features.map((f) => [f.geometry.coordinates, f.properties]), [
      [[-2.25, 1.5, 12.5], { recorded_at: '2024-07-01T10:00:00.123Z', accuracy_m: 3, velocity_mps: 1.25, heading_deg: 270, activity: 'ON "FOOT"', device: 'phone\\1', source: 'test.full' }],
      [[-2.25, 1.5], { recorded_at: '2024-07-01T11:00:00.000Z', source: 'test.full' }],
    ]);
  });

  test('radius in metres around a point', async () => {
    const within = async (radius: number) =>
      (await allPages<FeatureCollection>(server, `/v1/locations?near=${BERLIN.lat},${BERLIN.lon}&radius=${radius}&limit=10000`, users.alice.key)).flatMap((p) => p.features);
    const berlinPoints = TRACK_POINTS - 40;
    assert.equal((await within(1000)).length, berlinPoints, 'the Berlin track, not the point 1.5 km east');
    assert.equal((await within(2000)).length, berlinPoints + 1, 'with the point 1.5 km east');
    assert.equal((await within(1_000_000)).length, TRACK_POINTS + 1, 'Paris is 880 km away');
    const paris = (await allPages<FeatureCollection>(server, `/v1/locations?near=${PARIS.lat},${PARIS.lon}&radius=500&limit=10000`, users.alice.key)).flatMap((p) => p.features);
    assert.equal(paris.length, 40);
  });

  test('bounding box, also across the antimeridian, combined with a time range', async () => {
    const box = async (bbox: string, extra = '') =>
      (await allPages<FeatureCollection>(server, `/v1/locations?bbox=${bbox}&limit=10000${extra}`, users.alice.key)).flatMap((p) => p.features);
    assert.equal((await box('2,48,3,49')).length, 40, 'Paris');
    const fiji = await box('179,-20,-179,-15');
    assert.deepEqual(fiji.map((f) => f.geometry.coordinates[0]).sort(), [-179.9, 179.9]);
    assert.equal((await box('170,-20,179.95,-15')).length, 1);
    const berlinOneHour = await box('13,52,14,53', '&from=2024-03-01T01:00:00Z&to=2024-03-01T02:00:00Z');
    assert.equal(berlinOneHour.length, 60);
  });

  test('without PostGIS the radius is the haversine distance, and it selects the same points, with or without the cells', async () => {
    const filter: LocationFilter = { from: null, to: null, bbox: null, near: { ...BERLIN, radiusM: 1700 } };
    const select = async (useGeography: boolean, cells = false) => {
      const params = new SqlParams();
      const where = locationConditions(filter, params, useGeography, cells);
      const r = await t.lake.db.asUser(users.alice.id, (tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points WHERE ${where.join(' AND ')}`, params.values),
      );
      return r.rows[0]!.n;
    };
    assert.equal(await select(false), TRACK_POINTS - 40 + 1);
    assert.equal(await select(false, true), await select(false), 'the cell index finds them all');
    if (t.lake.profile.features.geo.enabled) assert.equal(await select(true, true), await select(false));
  });
});

test('timeline filters: time range, kinds, sources and words', async () => {
  const key = users.alice.key;
  const all = (await allPages<TimelinePage>(server, '/v1/timeline?limit=1000', key)).flatMap((p) => p.items);
  const check = async (query: string, keep: (item: TimelinePage['items'][number]) => boolean) => {
    const got = (await allPages<TimelinePage>(server, `/v1/timeline?limit=1000&${query}`, key)).flatMap((p) => p.items.map((i) => i.item_id));
    const expected = all.filter(keep).map((i) => i.item_id);
    assert.ok(expected.length > 0 && expected.length < all.length, `${query} selects some, not all`);
    assert.deepEqual(got, expected, query);
  };
  await check('from=2024-02-01&to=2024-02-10T12:00:00Z', (i) => Date.parse(i.occurred_at) >= Date.parse('2024-02-01T00:00:00Z') && Date.parse(i.occurred_at) < Date.parse('2024-02-10T12:00:00Z'));
  await check('kinds=search', (i) => i.kind === 'search');
  await check('sources=test.chrome', (i) => i.source === 'test.chrome');
  await check('q=giraffe', (i) => i.title!.includes('giraffe'));
  await check('q=giraffe&kinds=page_visit&sources=test.activity', (i) => i.title!.includes('giraffe') && i.kind === 'page_visit' && i.source === 'test.activity');
  await check('q=-giraffe', (i) => !i.title!.includes('giraffe'));
});
