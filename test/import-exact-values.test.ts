// Numbers and instants kept exactly from file to database (issue 13, defect 5): a 64-bit
// Records.json `deviceTag` keeps every digit, and microsecond instants (Chrome's time_usec, Play
// Store times, YouTube CSV times, Keep's *TimestampUsec) keep their microseconds in timestamptz. Content hashes stay what
// they were before: the same export imported again, into a lake loaded before the fix, adds nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runImport } from '../src/ingest/runner.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const RECORDS = `{"locations": [
  {"timestampMs": "1500000000000", "latitudeE7": 525200000, "longitudeE7": 134050000, "accuracy": 10, "deviceTag": -8024144696862913506},
  {"timestampMs": "1500000060000", "latitudeE7": 525200001, "longitudeE7": 134050001, "accuracy": 10, "deviceTag": 9223372036854775807},
  {"timestampMs": "1500000120000", "latitudeE7": 525200002, "longitudeE7": 134050002, "accuracy": 10, "deviceTag": 1978053447}
]}
`;
const BROWSER_HISTORY = `{"Browser History": [
  {"page_transition": "LINK", "title": "Micro", "url": "https://example.org/micro", "client_id": "c1", "time_usec": 1617181920212223},
  {"page_transition": "LINK", "title": "One microsecond", "url": "https://example.org/one", "client_id": "c1", "time_usec": "1617181920000001"}
]}
`;
const INSTALLS = `[
  {"install": {"doc": {"documentType": "Android Apps", "title": "Maps"}, "firstInstallationTime": "2019-01-05T17:20:31.123456Z", "deviceAttribute": {"model": "Pixel"}}},
  {"install": {"doc": {"documentType": "Android Apps", "title": "Keep"}, "firstInstallationTime": "2019-01-06T08:00:00.5Z", "deviceAttribute": {"model": "Pixel"}}}
]
`;
const COMMENTS = `Comment ID,Channel ID,Comment Create Timestamp,Price,Parent Comment ID,Video ID,Comment Text
UgxMicro,UCme,2023-09-19T17:42:53.434647+00:00,0,,WtOskFeLmr4,"{""text"":""exact""}"
UgxNano,UCme,2023-09-19T17:42:54.000000999+02:00,0,,WtOskFeLmr4,"{""text"":""nanoseconds""}"
`;
const KEEP_NOTE = `{"color": "DEFAULT", "isTrashed": false, "isPinned": false, "isArchived": false, "title": "Micro note",
  "textContent": "six digits", "userEditedTimestampUsec": 1700000000654321, "createdTimestampUsec": 1690000000123457}
`;

let t: TestLake;
let dir: string;
let user: string;
before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-exact-values-'));
  const files: Record<string, string> = {
    'Takeout/Location History/Records.json': RECORDS,
    'Takeout/Chrome/BrowserHistory.json': BROWSER_HISTORY,
    'Takeout/Google Play Store/Installs.json': INSTALLS,
    'Takeout/YouTube and YouTube Music/comments/comments.csv': COMMENTS,
    'Takeout/Keep/Micro note.json': KEEP_NOTE,
  };
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  user = await createUser(t.lake, 'exact-values');
  const first = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'Takeout')], batchSize: 100 });
  assert.equal(first.status, 'done');
  assert.equal(first.totals.records, 3 + 2 + 2 + 2 + 1);
});
after(async () => {
  await t?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function rows<T>(sql: string): Promise<T[]> {
  return (await t.lake.db.asUser(user, (tx) => tx.query<T & object>(sql))).rows as T[];
}

/** The stored instant with all six fraction digits, in UTC. */
const MICROS = `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;

test('a 64-bit deviceTag is stored with every digit', async () => {
  const devices = await rows<{ device: string }>(`SELECT device FROM timeseries.location_points ORDER BY recorded_at`);
  assert.deepEqual(
    devices.map((row) => row.device),
    ['-8024144696862913506', '9223372036854775807', '1978053447'],
  );
});

test('microsecond instants are stored with their microseconds', async () => {
  const items = await rows<{ kind: string; title: string | null; body: string | null; at: string }>(
    `SELECT kind, title, body, ${MICROS} AS at FROM user_data.items ORDER BY occurred_at`,
  );
  assert.deepEqual(
    items.map((item) => [item.kind, item.title ?? item.body, item.at]),
    [
      ['page_visit', 'One microsecond', '2021-03-31T09:12:00.000001'],
      ['page_visit', 'Micro', '2021-03-31T09:12:00.212223'],
      ['app_install', 'Maps', '2019-01-05T17:20:31.123456'],
      ['app_install', 'Keep', '2019-01-06T08:00:00.500000'],
      ['comment', 'exact', '2023-09-19T17:42:53.434647'],
      ['comment', 'nanoseconds', '2023-09-19T15:42:54.000000'],
      ['note', 'Micro note', '2023-07-22T04:26:40.123457'],
    ].sort((a, b) => a[2]!.localeCompare(b[2]!)),
  );
});

test("a Keep note's edit time keeps its microseconds", async () => {
  const [note] = await rows<{ edited: string }>(`SELECT attributes->>'editedAt' AS edited FROM user_data.items WHERE kind = 'note'`);
  assert.equal(note!.edited, '2023-11-14T22:13:20.654321Z');
});

test('content hashes are those of the keys before microseconds and 64-bit tags were kept', async () => {
  // The natural keys as they were (millisecond times, the tag as JSON.parse's double), hashed as tables.ts does.
  const sha256 = (key: unknown[]) => createHash('sha256').update(JSON.stringify(key)).digest('hex');
  const point = sha256(['location_point', 'google.location.records', 1500000000000, 525200000, 134050000, 10, '-8024144696862914000']);
  const install = sha256(['item', 'google.play', 'app_install', 'Maps', 'Android Apps', Date.parse('2019-01-05T17:20:31.123Z'), 'Pixel']);
  const plainPoint = sha256(['location_point', 'google.location.records', 1500000120000, 525200002, 134050002, 10, '1978053447']);
  // Pinned: a change to contentHash or to these keys would duplicate every such row on re-import.
  assert.equal(plainPoint, '32babc911a968f01d3d69d8ca0956a6a562331674b77800a1e8a25c7448453f7');
  const chrome = 'b13e5a1e159bce389591891490683044654912a5d24da5825218a15dbe7e71ab'; // ['chrome', 1617181920212223, url, 'c1']
  const hashes = await rows<{ hash: string }>(
    `SELECT encode(content_hash, 'hex') AS hash FROM timeseries.location_points
     UNION ALL SELECT encode(content_hash, 'hex') FROM user_data.items`,
  );
  const stored = new Set(hashes.map((row) => row.hash));
  for (const expected of [point, plainPoint, install, chrome]) assert.ok(stored.has(expected), `content hash ${expected} stored`);
});

test('importing the same export again adds nothing', async () => {
  const again = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'Takeout')], batchSize: 100 });
  assert.equal(again.status, 'done');
  assert.equal(again.totals.records, 0);
  assert.equal(again.totals.duplicates, 10);
  const [count] = await rows<{ n: string }>(`SELECT (SELECT count(*) FROM timeseries.location_points) + (SELECT count(*) FROM user_data.items) AS n`);
  assert.equal(Number(count!.n), 10);
});

test('into a lake that stored those instants cut to the millisecond, importing again adds nothing and restores the microseconds', async () => {
  // What the importer stored before microseconds were kept.
  await t.lake.db.query(`UPDATE user_data.items SET occurred_at = date_trunc('milliseconds', occurred_at) WHERE user_id = $1`, [user]);
  const [cut] = await rows<{ n: string }>(`SELECT count(*) AS n FROM user_data.items WHERE ${MICROS} NOT LIKE '%000'`);
  assert.equal(Number(cut!.n), 0);
  const again = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'Takeout')], batchSize: 100 });
  assert.equal(again.status, 'done');
  assert.equal(again.totals.records, 0);
  assert.equal(again.totals.duplicates, 10);
  const items = await rows<{ at: string }>(`SELECT ${MICROS} AS at FROM user_data.items ORDER BY occurred_at`);
  assert.deepEqual(
    items.map((item) => item.at),
    ['2019-01-05T17:20:31.123456', '2019-01-06T08:00:00.500000', '2021-03-31T09:12:00.000001', '2021-03-31T09:12:00.212223', '2023-07-22T04:26:40.123457', '2023-09-19T15:42:54.000000', '2023-09-19T17:42:53.434647'],
  );
});

test('E7 values beyond the poles and epoch seconds in timestampMs are quarantined, naming the value; none is stored', async () => {
  // The fixture of test/sources-google-json.test.ts: 4 readable points, 8 refused (3 E7 out of range, 5 timestamps).
  const records = await readFile(new URL('./fixtures/google/location-values/Records.json', import.meta.url));
  const edges = await mkdtemp(path.join(os.tmpdir(), 'lake-exact-values-edges-'));
  try {
    await mkdir(path.join(edges, 'Takeout', 'Location History'), { recursive: true });
    await writeFile(path.join(edges, 'Takeout', 'Location History', 'Records.json'), records);
    const owner = await createUser(t.lake, 'exact-values-edges');
    const report = await runImport(t.lake.db, { userId: owner, inputs: [path.join(edges, 'Takeout')], batchSize: 100 });
    assert.equal(report.status, 'done');
    assert.equal(report.totals.records, 4);
    assert.equal(report.totals.quarantined, 8);
    const stored = await t.lake.db.asUser(owner, (tx) =>
      tx.query<{ at: string; lat: number; lon: number }>(
        `SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS at, lat, lon FROM timeseries.location_points ORDER BY recorded_at`,
      ),
    );
    assert.deepEqual(
      stored.rows.map((row) => [row.at, Number(row.lat), Number(row.lon)]),
      [
        ['2017-12-10T23:14:58.033', -1e-7, -1e-7],
        ['2017-12-10T23:14:58.034', 90, -180],
        ['2017-12-10T23:15:03.000', 35.1324214, -112.2434442],
        ['2025-01-01T12:00:02.000', 35.1324213, -112.2434441],
      ],
    );
    const quarantined = await t.lake.db.asUser(owner, (tx) => tx.query<{ reason: string }>(`SELECT reason FROM imports.quarantine ORDER BY byte_offset`));
    const reasons = quarantined.rows.map((row) => row.reason);
    assert.equal(reasons.length, 8);
    assert.match(reasons[0]!, /latitudeE7 910000000 is 91°/);
    assert.match(reasons[1]!, /longitudeE7 2000000000 is 200°/);
    assert.match(reasons[2]!, /latitudeE7 2147483648 is -214\.7483648°/);
    assert.match(reasons[3]!, /timestampMs="1512947703" has 10 digits: epoch seconds \(2017-12-10T23:15:03\.000Z\)/);
  } finally {
    await rm(edges, { recursive: true, force: true });
  }
});
