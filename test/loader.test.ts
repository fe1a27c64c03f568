// The load stage: records of every type into their tables, deduplicated by content hash, with the
// checkpoint committed atomically with its batch.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let user: string;
const FILE = '00000000-0000-4000-8000-00000000f11e';

before(async () => {
  t = await openTestLake();
  user = await createUser(t.lake, 'importer');
  await t.lake.db.asUser(user, async (tx) => {
    await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [user, FILE]);
    await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'Takeout/x.json')`, [user, FILE]);
  });
});
after(() => t.dispose());

const target = () => ({ userId: user, jobId: FILE, fileId: FILE });

const TRICKY = 'tab\there, line\nbreak, back\\slash, crlf\r\n, ünïcödé 🌍';

function sampleRecords(): LakeRecord[] {
  return [
    { type: 'location_point', source: 'test.points', key: [1], recordedAt: new Date('2019-05-01T10:00:00Z'), lat: 48.85, lon: 2.35,
      accuracyM: 12, activity: 'WALKING', activityConfidence: 80, device: 'phone', attributes: { platform: 'ANDROID' } },
    { type: 'location_point', source: 'test.points', key: [2], recordedAt: new Date('2019-06-01T10:00:00Z'), lat: -33.9, lon: 151.2 },
    { type: 'item', source: 'test.activity', key: ['q1'], kind: 'search', occurredAt: new Date('2019-05-02T08:00:00Z'),
      utcOffsetMinutes: 120, title: TRICKY, url: 'https://example.org/?q=a&b', attributes: { products: ['Search'] } },
    { type: 'place', source: 'test.semantic', key: ['p1'], placeId: 'p1', name: 'Café de Flore', address: '172 Bd Saint-Germain\nParis', lat: 48.854, lon: 2.332 },
    { type: 'visit', source: 'test.semantic', key: ['p1', 1], placeId: 'p1', startedAt: new Date('2019-05-02T09:00:00Z'),
      endedAt: new Date('2019-05-02T10:30:00Z'), lat: 48.854, lon: 2.332, confidence: 0.9 },
    { type: 'measurement', source: 'test.fit', key: ['steps', '2019-05-02'], measuredAt: new Date('2019-05-02T00:00:00Z'), metric: 'steps', value: 9876, unit: 'count' },
  ];
}

test('a batch of every record type lands in its tables, text and JSON intact', async () => {
  const counts = await loadBatch(t.lake.db, target(), { records: sampleRecords(), checkpoint: { recordsDone: 6, byteOffset: 1234 } });
  assert.deepEqual(counts, {
    received: 6, inserted: 6, updated: 0, duplicates: 0,
    insertedByTable: { 'timeseries.location_points': 2, 'timeseries.measurements': 1, 'user_data.items': 1, 'user_data.places': 1, 'user_data.visits': 1 },
  });
  const item = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ title: string; url: string; utc_offset_minutes: number; attributes: unknown; import_file_id: string }>(
      `SELECT title, url, utc_offset_minutes, attributes, import_file_id FROM user_data.items`,
    ),
  );
  assert.deepEqual(item.rows, [{ title: TRICKY, url: 'https://example.org/?q=a&b', utc_offset_minutes: 120, attributes: { products: ['Search'] }, import_file_id: FILE }]);
  const place = await t.lake.db.asUser(user, (tx) => tx.query<{ name: string; address: string }>(`SELECT name, address FROM user_data.places`));
  assert.deepEqual(place.rows, [{ name: 'Café de Flore', address: '172 Bd Saint-Germain\nParis' }]);
  const points = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number; walking: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE activity = 'WALKING')::int AS walking FROM timeseries.location_points`),
  );
  assert.deepEqual(points.rows[0], { n: 2, walking: 1 });
  const checkpoint = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ records_done: number; byte_offset: number }>(`SELECT records_done, byte_offset FROM imports.checkpoints WHERE file_id = $1`, [FILE]),
  );
  assert.deepEqual(checkpoint.rows, [{ records_done: 6, byte_offset: 1234 }]);
});

test('quarantined input is written with the batch that passed over it', async () => {
  const counts = await loadBatch(t.lake.db, target(), {
    records: [],
    quarantine: [{ entry: 'Takeout/x.json', category: 'invalid', reason: 'lat 91 out of range', byteOffset: 77, excerpt: '{"latitudeE7":910000000}' }],
    checkpoint: { recordsDone: 7, byteOffset: 2000 },
  });
  assert.deepEqual(counts, { received: 0, inserted: 0, updated: 0, duplicates: 0, insertedByTable: {} });
  const rows = await t.lake.db.asUser(user, (tx) =>
    tx.query(`SELECT entry, category, reason, byte_offset, line, excerpt FROM imports.quarantine`),
  );
  assert.deepEqual(rows.rows, [
    { entry: 'Takeout/x.json', category: 'invalid', reason: 'lat 91 out of range', byte_offset: 77, line: null, excerpt: '{"latitudeE7":910000000}' },
  ]);
  await loadBatch(t.lake.db, target(), { records: [], checkpoint: { recordsDone: 6, byteOffset: 1234 } });
});

test('loading the same records again adds nothing and counts every one as a duplicate', async () => {
  const counts = await loadBatch(t.lake.db, target(), { records: sampleRecords(), checkpoint: { recordsDone: 6, byteOffset: 1234 } });
  assert.deepEqual(counts, { received: 6, inserted: 0, updated: 0, duplicates: 6, insertedByTable: {} });
  const total = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number }>(
      `SELECT ((SELECT count(*) FROM user_data.items) + (SELECT count(*) FROM timeseries.location_points)
             + (SELECT count(*) FROM user_data.visits) + (SELECT count(*) FROM timeseries.measurements))::int AS n`,
    ),
  );
  assert.equal(total.rows[0]!.n, 5);
});

test('a batch with a bad row commits nothing, not even its checkpoint', async () => {
  const bad: LakeRecord[] = [
    { type: 'location_point', source: 'test.points', key: [10], recordedAt: new Date('2020-01-01T00:00:00Z'), lat: 10, lon: 10 },
    { type: 'location_point', source: 'test.points', key: [11], recordedAt: new Date('2020-01-01T00:01:00Z'), lat: 100, lon: 10 },
  ];
  await assert.rejects(loadBatch(t.lake.db, target(), { records: bad, checkpoint: { recordsDone: 8, byteOffset: 9999 } }), /check constraint/);
  const after = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ points: number; done: number }>(
      `SELECT (SELECT count(*) FROM timeseries.location_points)::int AS points,
              (SELECT records_done FROM imports.checkpoints WHERE file_id = $1)::int AS done`,
      [FILE],
    ),
  );
  assert.deepEqual(after.rows[0], { points: 2, done: 6 });
});

test('a row repeated inside a batch of a new time range loads once and counts once as a duplicate', async () => {
  const point: LakeRecord = { type: 'location_point', source: 'test.points', key: [20], recordedAt: new Date('2021-03-01T00:00:00Z'), lat: 1, lon: 2 };
  const other: LakeRecord = { ...point, key: [21], recordedAt: new Date('2021-03-01T00:05:00Z') };
  const counts = await loadBatch(t.lake.db, target(), { records: [point, other, { ...point }] });
  assert.deepEqual(counts, { received: 3, inserted: 2, updated: 0, duplicates: 1, insertedByTable: { 'timeseries.location_points': 2 } });
  const hours = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_hours WHERE hour = '2021-03-01T00:00:00Z' AND recorded_at = '2021-03-01T00:00:00Z'`),
  );
  assert.equal(hours.rows[0]!.n, 1);
});

test('a message keeps its address lists, labels and attachments exactly', async () => {
  const message: LakeRecord = {
    type: 'message', source: 'test.mbox', key: ['<a@b>'], messageId: 'a@b', threadId: '1723', inReplyTo: null,
    sentAt: new Date('2022-02-02T12:00:00Z'), from: '"Doe, Jane" <jane@example.org>',
    to: ['"Quote \\ Back" <q@example.org>', 'plain@example.org'], cc: [], subject: 'Re: {braces}, "quotes"\tand tabs',
    body: 'line one\nline two', labels: ['Inbox', 'Important', 'Trips, 2022'],
    attachments: [{ filename: 'plan.pdf', contentType: 'application/pdf', size: 1234, sha256: 'ab'.repeat(32) }],
  };
  const counts = await loadBatch(t.lake.db, target(), { records: [message] });
  assert.deepEqual(counts, { received: 1, inserted: 1, updated: 0, duplicates: 0, insertedByTable: { 'user_data.messages': 1 } });
  const row = await t.lake.db.asUser(user, (tx) =>
    tx.query(`SELECT from_address, to_addresses, cc_addresses, subject, body, labels, attachments FROM user_data.messages`),
  );
  assert.deepEqual(row.rows, [{
    from_address: '"Doe, Jane" <jane@example.org>',
    to_addresses: ['"Quote \\ Back" <q@example.org>', 'plain@example.org'],
    cc_addresses: [],
    subject: 'Re: {braces}, "quotes"\tand tabs',
    body: 'line one\nline two',
    labels: ['Inbox', 'Important', 'Trips, 2022'],
    attachments: [{ filename: 'plan.pdf', contentType: 'application/pdf', size: 1234, sha256: 'ab'.repeat(32) }],
  }]);
});

test('the months of a batch get their partitions before the rows arrive', async (ctx) => {
  if (t.lake.profile.features.hypertables.enabled) return ctx.skip('TimescaleDB makes its chunks itself');
  const parts = await t.lake.db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'timeseries.location_points'::regclass AND c.relname LIKE '%2019%' ORDER BY 1`,
  );
  assert.deepEqual(parts.rows.map((r) => r.name), ['location_points_p2019_05', 'location_points_p2019_06']);
  const parked = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points_default`);
  assert.equal(parked.rows[0]!.n, 0);
});

test('a batch the database refuses is split by rows until the refused one is alone; it is quarantined with an excerpt and the rest loads', async () => {
  const { loadResilient } = await import('../src/ingest/load/resilient.js');
  const { prepareBatch } = await import('../src/ingest/load/loader.js');
  const points: LakeRecord[] = Array.from({ length: 9 }, (_, i) => ({
    type: 'location_point' as const, source: 'test.split', key: [i], recordedAt: new Date(Date.UTC(2021, 0, 1, 0, i)),
    lat: i === 6 ? 123 : 10 + i, lon: 20,
  }));
  const checkpoint = { recordsDone: 9, byteOffset: 1400 };
  const offsets = points.map((_, i) => 1000 + i * 50);
  const counts = await loadResilient(t.lake.db, target(), prepareBatch(target(), { records: points, checkpoint }, offsets), 'Takeout/split.json');
  assert.equal(counts.inserted, 8);
  assert.deepEqual(counts.quarantinedByDatabase, { invalid: 1 });
  const rows = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points WHERE source = 'test.split'`),
  );
  assert.equal(rows.rows[0]!.n, 8);
  const refused = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ entry: string; byte_offset: number; reason: string; excerpt: string }>(
      `SELECT entry, byte_offset, reason, excerpt FROM imports.quarantine WHERE entry = 'Takeout/split.json'`,
    ),
  );
  assert.equal(refused.rows.length, 1);
  assert.equal(refused.rows[0]!.byte_offset, 1300);
  assert.match(refused.rows[0]!.reason, /check constraint/);
  // The refused row as the database reads it: its values, not its owner.
  const excerpt = refused.rows[0]!.excerpt;
  assert.match(excerpt, /"lat": 123\b/);
  assert.match(excerpt, /"source": "test\.split"/);
  assert.doesNotMatch(excerpt, /user_id|content_hash/);
  const stored = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ records_done: number }>(`SELECT records_done FROM imports.checkpoints WHERE file_id = $1`, [FILE]),
  );
  assert.equal(stored.rows[0]!.records_done, 9);
});

test('a refused batch of several tables is split across them: only the refused row of each table is quarantined', async () => {
  const { loadResilient } = await import('../src/ingest/load/resilient.js');
  const { prepareBatch } = await import('../src/ingest/load/loader.js');
  const records: LakeRecord[] = Array.from({ length: 12 }, (_, i) => i % 2 === 0
    ? { type: 'location_point' as const, source: 'test.split-tables', key: [i], recordedAt: new Date(Date.UTC(2021, 1, 1, 0, i)),
      lat: i === 4 ? -95 : 10 + i, lon: 20 }
    : { type: 'measurement' as const, source: 'test.split-tables', key: [i], measuredAt: new Date(Date.UTC(2021, 1, 1, 0, i)),
      metric: i === 9 ? null as unknown as string : 'steps', value: i, unit: 'count' });
  const offsets = records.map((_, i) => 700 + i * 10);
  const counts = await loadResilient(t.lake.db, target(), prepareBatch(target(), { records, checkpoint: { recordsDone: 12, byteOffset: 810 } }, offsets),
    'Takeout/split-tables.json');
  assert.equal(counts.inserted, 10);
  assert.deepEqual(counts.quarantinedByDatabase, { invalid: 2 });
  const refused = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ byte_offset: number; reason: string }>(`SELECT byte_offset, reason FROM imports.quarantine WHERE entry = 'Takeout/split-tables.json' ORDER BY 1`),
  );
  assert.deepEqual(refused.rows.map((r) => r.byte_offset), [740, 790]);
  assert.match(refused.rows[0]!.reason, /check constraint/);
  assert.match(refused.rows[1]!.reason, /null value/);
  const loaded = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number }>(`SELECT (SELECT count(*) FROM timeseries.location_points WHERE source = 'test.split-tables')
                                  + (SELECT count(*) FROM timeseries.measurements WHERE source = 'test.split-tables') AS n`),
  );
  assert.equal(Number(loaded.rows[0]!.n), 10);
});

test('binary COPY keeps values exact: times before 2000 and after 2038, ms precision, reals, empty and long arrays, NaN as NULL', async () => {
  const times = ['1969-07-20T20:17:40.123Z', '1999-12-31T23:59:59.999Z', '2000-01-01T00:00:00.000Z', '2038-01-19T03:14:08.001Z', '2099-12-31T23:59:59.999Z'];
  const records: LakeRecord[] = times.map((iso, i) => ({
    type: 'measurement', source: 'test.binary', key: [iso], measuredAt: new Date(iso), metric: 'm', value: i === 0 ? -1e-300 : 1e300 / (i + 1), unit: 'u',
  }));
  records.push({ type: 'location_point', source: 'test.binary', key: ['nan'], recordedAt: new Date(times[1]!), lat: 1.5, lon: -2.25,
    accuracyM: Number.NaN, altitudeM: -12.5, activityConfidence: 99 });
  records.push({
    type: 'message', source: 'test.binary', key: ['m'], messageId: 'id@x', threadId: null, sentAt: new Date(times[0]!), from: 'a@x',
    to: [], cc: Array.from({ length: 300 }, (_, i) => `"quoted" ${i} \\ ü`), subject: '', body: null, labels: ['Inbox'], inReplyTo: null, attachments: [],
  });
  const counts = await loadBatch(t.lake.db, target(), { records });
  assert.equal(counts.inserted, records.length);
  const rows = await t.lake.db.asUser(user, async (tx) => ({
    measurements: (await tx.query<{ at: string; value: number }>(
      `SELECT to_char(measured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, value FROM timeseries.measurements WHERE source = 'test.binary' ORDER BY measured_at`)).rows,
    point: (await tx.query(`SELECT accuracy_m, altitude_m, activity_confidence, lat, lon FROM timeseries.location_points WHERE source = 'test.binary'`)).rows,
    message: (await tx.query<{ to: string[]; cc: string[]; subject: string; body: null; labels: string[] }>(
      `SELECT to_addresses AS to, cc_addresses AS cc, subject, body, labels FROM user_data.messages WHERE source = 'test.binary'`)).rows[0]!,
  }));
  assert.deepEqual(rows.measurements.map((r) => r.at), times);
  assert.deepEqual(rows.measurements.map((r) => r.value), [-1e-300, ...[2, 3, 4, 5].map((d) => 1e300 / d)]);
  assert.deepEqual(rows.point, [{ accuracy_m: null, altitude_m: -12.5, activity_confidence: 99, lat: 1.5, lon: -2.25 }]);
  assert.deepEqual(rows.message.to, []);
  assert.deepEqual(rows.message.cc, Array.from({ length: 300 }, (_, i) => `"quoted" ${i} \\ ü`));
  assert.equal(rows.message.subject, '');
  assert.equal(rows.message.body, null);
  assert.deepEqual(rows.message.labels, ['Inbox']);
});

test('the content hash is the SHA-256 of JSON.stringify([type, source, ...key]), whatever the key holds', async () => {
  const { contentHash } = await import('../src/ingest/load/tables.js');
  const { createHash } = await import('node:crypto');
  const keys: unknown[][] = [
    [], [0], [-0], [1.5e-7], [1e21], [-123456789012345], [Number.NaN], [Number.POSITIVE_INFINITY], [null], [undefined], [true, false],
    ['plain'], ['quote " backslash \\ tab \t newline \n'], ['ünïcödé 🌍'], ['\ud800 lone surrogate'], ['\u0000\u001f\u007f'],
    [1362115161298, 535511202, 99936845, 29, null], ['a', 1, null, true, 'b'],
  ];
  for (const key of keys) {
    for (const [type, source] of [['location_point', 'google.location.records'], ['item', 'odd "source" \\']]) {
      const record = { type, source, key } as unknown as LakeRecord;
      const expected = createHash('sha256').update(JSON.stringify([type, source, ...key])).digest().toString('latin1');
      assert.equal(contentHash(record), expected, JSON.stringify(key));
    }
  }
});

test('a committed batch\'s COPY buffer is written into by the next batch, which loads intact', async () => {
  const { BatchEncoder } = await import('../src/ingest/load/encode.js');
  const { loadPrepared } = await import('../src/ingest/load/loader.js');
  const encoder = new BatchEncoder(target());
  const batch = (from: number) => Array.from({ length: 50 }, (_, i): LakeRecord => ({
    type: 'location_point', source: 'test.recycle', key: [from + i], recordedAt: new Date(Date.UTC(2022, 0, 1, 0, from + i)), lat: 1 + i / 100, lon: 2,
    attributes: { n: from + i },
  }));
  for (const record of batch(0)) encoder.add(record);
  const first = encoder.finish();
  await loadPrepared(t.lake.db, target(), { tables: first, quarantine: [], checkpoint: null });
  const buffer = first[0]!.data.buffer as ArrayBuffer;
  encoder.recycle([buffer]);
  for (const record of batch(100)) encoder.add(record);
  const second = encoder.finish();
  assert.equal(second[0]!.data.buffer, buffer, 'the second batch writes into the first one\'s buffer');
  await loadPrepared(t.lake.db, target(), { tables: second, quarantine: [], checkpoint: null });
  const rows = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ n: number; sum: number }>(`SELECT count(*)::int AS n, sum((attributes->>'n')::int)::int AS sum FROM timeseries.location_points WHERE source = 'test.recycle'`));
  assert.deepEqual(rows.rows[0], { n: 100, sum: (49 * 50) / 2 + (100 * 50 + (49 * 50) / 2) });
});
