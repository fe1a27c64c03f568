// GET /v1/stats/daily over real HTTP (the console's activity calendar): exact counts per local day
// and kind for two users (Bob sees none of Alice's), locations as hours with a fix from the hourly
// summary, day boundaries in Europe/Berlin across a change to summer time, the range of days and
// its cap, and the refusals (unknown time zone, dates that are not dates). Runs on PGlite, or on
// the server with LAKE_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { createApiKey } from '../src/query/api-keys.js';
import { get, startTestServer, type TestServer } from './support/api.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let server: TestServer;
const keys = { alice: '', bob: '' };
const ids = { alice: '', bob: '' };
const FILE = '00000000-0000-4000-8000-0000000000d1';

type Row = { day: string; kind: string; count: number };
type Body = { from: string; to: string; tz: string; days: Row[] };

const points = (times: string[], lat = 52.52, lon = 13.4): LakeRecord[] =>
  times.map((at, i) => ({ type: 'location_point', source: 'test.daily', key: [at], recordedAt: new Date(at), lat: lat + i * 0.001, lon, accuracyM: 5 }));

/** Rows as "day kind count" lines, for readable failures. */
const lines = (rows: Row[]) => rows.map((r) => `${r.day} ${r.kind} ${r.count}`);

async function daily(query: string, key = keys.alice): Promise<Body> {
  const reply = await get<Body>(server, `/v1/stats/daily?${query}`, key);
  assert.equal(reply.status, 200, reply.text);
  return reply.body;
}

before(async () => {
  t = await openTestLake({ LAKE_API_RATE_LIMIT: '0' });
  for (const name of ['alice', 'bob'] as const) {
    ids[name] = await createUser(t.lake, name);
    keys[name] = (await createApiKey(t.lake.db, name)).key;
    await t.lake.db.asUser(ids[name], async (tx) => {
      await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [ids[name], FILE]);
      await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'x.json')`, [ids[name], FILE]);
    });
  }
  await t.lake.db.asUser(ids.alice, async (tx) => {
    const user = ids.alice;
    // Berlin is UTC+1 until 2024-03-31T01:00Z, UTC+2 after.
    for (const [i, [at, kind]] of [
      ['2024-03-09T23:30:00Z', 'search'], // Berlin: 03-10 00:30
      ['2024-03-10T10:00:00Z', 'search'],
      ['2024-03-10T22:59:59Z', 'page_visit'], // Berlin: 03-10 23:59:59
      ['2024-03-10T23:00:00Z', 'page_visit'], // Berlin: 03-11 00:00
      ['2024-03-31T21:59:00Z', 'video_watch'], // Berlin (summer time): 03-31 23:59
      ['2024-03-31T22:00:00Z', 'video_watch'], // Berlin: 04-01 00:00
      ['2022-12-31T12:00:00Z', 'search'], // out of every range asked
    ].entries()) {
      await tx.query(`INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source) VALUES ($1, $2, $3, $4, 'test.daily')`, [user, at, Buffer.from([1, i]), kind]);
    }
    await tx.query(
      `INSERT INTO user_data.media (user_id, sha256, mime_type, size_bytes, source, taken_at) VALUES
         ($1, decode(repeat('a1', 32), 'hex'), 'image/jpeg', 10, 'test.daily', '2024-03-10T12:00:00Z'),
         ($1, decode(repeat('a2', 32), 'hex'), 'video/mp4', 10, 'test.daily', '2024-03-10T13:00:00Z'),
         ($1, decode(repeat('a3', 32), 'hex'), 'image/jpeg', 10, 'test.daily', NULL)`,
      [user],
    );
    await tx.query(`INSERT INTO user_data.messages (user_id, sent_at, content_hash, source) VALUES ($1, '2024-03-11T05:00:00Z', '\\x0301', 'test.daily')`, [user]);
    await tx.query(
      `INSERT INTO user_data.documents (user_id, content_hash, sha256, path, kind, size_bytes, extraction, source, created_at)
       VALUES ($1, '\\x0401', decode(repeat('b1', 32), 'hex'), 'notes.txt', 'text', 5, 'text', 'test.daily', '2024-03-10T08:00:00Z')`,
      [user],
    );
    await tx.query(
      `INSERT INTO timeseries.measurements (user_id, measured_at, content_hash, metric, value, unit, source) VALUES
         ($1, '2024-03-10T06:00:00Z', '\\x0501', 'steps', 120, 'count', 'test.daily'), ($1, '2024-03-10T06:30:00Z', '\\x0502', 'steps', 80, 'count', 'test.daily')`,
      [user],
    );
  });
  await t.lake.db.asUser(ids.bob, async (tx) => {
    await tx.query(`INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source) VALUES ($1, '2024-03-10T10:00:00Z', '\\x0601', 'search', 'test.daily')`, [ids.bob]);
  });
  const target = (user: string) => ({ userId: user, jobId: FILE, fileId: FILE });
  // Alice: hours 09 (two fixes), 10 and 23 (UTC) of March 10th, and one hour in 2022.
  await loadBatch(t.lake.db, target(ids.alice), { records: points(['2024-03-10T09:05:00Z', '2024-03-10T09:40:00Z', '2024-03-10T10:10:00Z', '2024-03-10T23:20:00Z', '2022-12-31T08:00:00Z']) });
  // Bob: two hours of March 10th.
  await loadBatch(t.lake.db, target(ids.bob), { records: points(['2024-03-10T10:00:00Z', '2024-03-10T11:00:00Z', '2024-03-10T11:30:00Z'], 48.85, 2.35) });
  server = await startTestServer(t.lake);
});
after(async () => {
  await server?.close();
  await t?.dispose();
});

describe('GET /v1/stats/daily', () => {
  test('counts per UTC day and kind, locations as hours with a fix; Bob sees only his', async () => {
    const alice = await daily('from=2024-03-01&to=2024-04-15');
    assert.deepEqual([alice.from, alice.to, alice.tz], ['2024-03-01', '2024-04-15', 'UTC']);
    assert.deepEqual(lines(alice.days), [
      '2024-03-09 search 1',
      '2024-03-10 document 1',
      '2024-03-10 location_hours 3',
      '2024-03-10 measurement 2',
      '2024-03-10 page_visit 2',
      '2024-03-10 photo 1',
      '2024-03-10 search 1',
      '2024-03-10 video 1',
      '2024-03-11 mail 1',
      '2024-03-31 video_watch 2',
    ]);
    const bob = await daily('from=2024-03-01&to=2024-04-15', keys.bob);
    assert.deepEqual(lines(bob.days), ['2024-03-10 location_hours 2', '2024-03-10 search 1']);
    // Alice's 2022 rows, in a range of their own.
    assert.deepEqual(lines((await daily('from=2022-12-01&to=2023-01-01')).days), ['2022-12-31 location_hours 1', '2022-12-31 search 1']);
    assert.deepEqual((await daily('from=2022-12-01&to=2023-01-01', keys.bob)).days, []);
  });

  test('days of a time zone: Berlin’s midnight, before and after the change to summer time', async () => {
    const berlin = await daily('from=2024-03-01&to=2024-04-15&tz=Europe/Berlin');
    assert.equal(berlin.tz, 'Europe/Berlin');
    assert.deepEqual(lines(berlin.days), [
      '2024-03-10 document 1',
      '2024-03-10 location_hours 2',
      '2024-03-10 measurement 2',
      '2024-03-10 page_visit 1',
      '2024-03-10 photo 1',
      '2024-03-10 search 2',
      '2024-03-10 video 1',
      '2024-03-11 location_hours 1',
      '2024-03-11 mail 1',
      '2024-03-11 page_visit 1',
      '2024-03-31 video_watch 1',
      '2024-04-01 video_watch 1',
    ]);
    // One Berlin day: from its midnight (23:00 UTC the day before) to the next.
    const one = await daily('from=2024-03-10&to=2024-03-11&tz=europe/berlin');
    assert.deepEqual([one.from, one.to, one.tz], ['2024-03-10', '2024-03-11', 'Europe/Berlin']);
    assert.deepEqual(lines(one.days), lines(berlin.days.filter((r) => r.day === '2024-03-10')));
    // The last Berlin day of March ends at 22:00 UTC (summer time).
    assert.deepEqual(lines((await daily('from=2024-03-31&to=2024-04-01&tz=Europe/Berlin')).days), ['2024-03-31 video_watch 1']);
    // Far west: 23:30 UTC on March 9th is still the 9th, 05:00 UTC on the 11th is the 10th.
    const la = await daily('from=2024-03-09&to=2024-03-12&tz=America/Los_Angeles');
    assert.deepEqual(
      lines(la.days.filter((r) => ['search', 'mail'].includes(r.kind))),
      ['2024-03-09 search 1', '2024-03-10 mail 1', '2024-03-10 search 1'],
    );
  });

  test('the range: a year up to today by default, at most 400 days', async () => {
    const plain = await daily('');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const now = new Date();
    const expectedTo = [tomorrow, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString().slice(0, 10)];
    assert.ok(expectedTo.includes(plain.to), plain.to);
    const to = new Date(`${plain.to}T00:00:00Z`);
    assert.equal(plain.from, new Date(Date.UTC(to.getUTCFullYear() - 1, to.getUTCMonth(), to.getUTCDate())).toISOString().slice(0, 10));
    assert.equal(plain.tz, 'UTC');
    // From alone: 365 days from it.
    const year = await daily('from=2024-01-01');
    assert.deepEqual([year.from, year.to], ['2024-01-01', '2024-12-31']);
    assert.equal(year.days.filter((r) => r.day === '2024-03-10').length, 7);
    // 400 days are counted; 401 are refused.
    assert.equal((await daily('from=2023-02-05&to=2024-03-11')).days.length, 8);
    const tooLong = await get(server, '/v1/stats/daily?from=2023-02-05&to=2024-03-12', keys.alice);
    assert.equal(tooLong.status, 400, tooLong.text);
    assert.equal(tooLong.body.error.code, 'INVALID_REQUEST');
    assert.match(tooLong.body.error.message, /`to` must be at most 400 days after `from` \(401 asked\)/);
  });

  test('refusals: 400 INVALID_REQUEST naming the parameter', async (ctx) => {
    const cases: [string, RegExp][] = [
      ['tz=Mars/Olympus_Mons', /`tz` "Mars\/Olympus_Mons" is not an IANA time zone/],
      ['tz=%2B01:00', /tz/],
      ['tz=', /tz/],
      ['from=2024-02-30', /`from` "2024-02-30" is not a real date/],
      ['from=0000-06-01&to=0000-07-01', /`from` must be in the year 1 or later/],
      ['to=0000-12-31', /`to` must be in the year 1 or later/],
      ['from=2024-03-10T00:00:00Z', /from/],
      ['from=2024-03-10&to=2024-03-10', /`to` must be later than `from`/],
      ['from=2024-03-10&to=2024-03-01', /`to` must be later than `from`/],
      ['day=2024-03-10', /unknown query parameter `day`/],
    ];
    for (const [query, mentions] of cases) {
      await ctx.test(query, async () => {
        const reply = await get(server, `/v1/stats/daily?${query}`, keys.alice);
        assert.equal(reply.status, 400, `${query}: ${reply.text}`);
        assert.equal(reply.body.error.code, 'INVALID_REQUEST', query);
        assert.match(reply.body.error.message, mentions, query);
      });
    }
    assert.equal((await get(server, '/v1/stats/daily')).status, 401);
  });
});
