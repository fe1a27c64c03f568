// The hourly summary of location points (timeseries.location_hours: each hour's first point) stays
// equal to what the points give after every kind of write: loader batches in any order with
// duplicates, a file's rows removed, photo points moved by a later sidecar.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { removeFileRows } from '../src/ingest/receive/ledger.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let alice: string;
let bob: string;
const FILES = { first: '00000000-0000-4000-8000-0000000000a1', second: '00000000-0000-4000-8000-0000000000a2' };

before(async () => {
  t = await openTestLake();
  alice = await createUser(t.lake, 'alice');
  bob = await createUser(t.lake, 'bob');
  for (const user of [alice, bob]) {
    await t.lake.db.asUser(user, async (tx) => {
      for (const file of Object.values(FILES)) {
        await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [user, file]);
        await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'x.json')`, [user, file]);
      }
    });
  }
});
after(() => t.dispose());

/** Points every `stepMs` from `start`, keyed by time and position (so re-sending one is a duplicate). */
function points(start: string, count: number, stepMs: number, lat = 52.5): LakeRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const at = Date.parse(start) + i * stepMs;
    return { type: 'location_point', source: 'test.hours', key: [at, lat + i / 1000], recordedAt: new Date(at), lat: lat + i / 1000, lon: 13.4, accuracyM: i % 50 };
  });
}

/** The summary, and the heads computed from the points, as the user sees them. */
async function compare(user: string): Promise<{ summary: string[]; expected: string[] }> {
  return t.lake.db.asUser(user, async (tx) => {
    const row = `concat_ws('|', hour, recorded_at, encode(content_hash, 'hex'), lat, lon, accuracy_m, source)`;
    const summary = await tx.query<{ r: string }>(`SELECT ${row} AS r FROM timeseries.location_hours ORDER BY hour`);
    const expected = await tx.query<{ r: string }>(
      `SELECT ${row} AS r FROM (
         SELECT DISTINCT ON (date_bin(interval '1 hour', recorded_at, timestamptz 'epoch'))
                date_bin(interval '1 hour', recorded_at, timestamptz 'epoch') AS hour, recorded_at, content_hash, lat, lon, accuracy_m, source
           FROM timeseries.location_points ORDER BY 1, recorded_at, content_hash) heads ORDER BY hour`,
    );
    return { summary: summary.rows.map((x) => x.r), expected: expected.rows.map((x) => x.r) };
  });
}

async function assertCurrent(user: string, hours: number): Promise<void> {
  const { summary, expected } = await compare(user);
  assert.equal(expected.length, hours, 'hours with points');
  assert.deepEqual(summary, expected);
}

test('batches in any order, overlapping hours and duplicates keep one row an hour: its first point', async () => {
  const target = (file: string) => ({ userId: alice, jobId: file, fileId: file });
  // Late points first, then earlier ones in the same hours, then the whole lot again (duplicates).
  await loadBatch(t.lake.db, target(FILES.first), { records: points('2024-05-01T10:20:00Z', 120, 60_000) });
  await assertCurrent(alice, 3);
  await loadBatch(t.lake.db, target(FILES.second), { records: points('2024-05-01T09:59:30Z', 30, 45_000, 48.1) });
  await assertCurrent(alice, 4);
  const again = await loadBatch(t.lake.db, target(FILES.first), { records: points('2024-05-01T10:20:00Z', 120, 60_000) });
  assert.equal(again.duplicates, 120);
  await assertCurrent(alice, 4);
  // Bob's points in the same hours are his alone.
  await loadBatch(t.lake.db, { userId: bob, jobId: FILES.first, fileId: FILES.first }, { records: points('2024-05-01T10:00:00Z', 10, 60_000, 40) });
  await assertCurrent(bob, 1);
  await assertCurrent(alice, 4);
});

test('ties at an hour\'s first instant, out-of-order batches and a refused first point still give each hour its first point', async () => {
  const carol = await createUser(t.lake, 'carol');
  await t.lake.db.asUser(carol, async (tx) => {
    await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [carol, FILES.first]);
    await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'x.json')`, [carol, FILES.first]);
  });
  const target = { userId: carol, jobId: FILES.first, fileId: FILES.first };
  const at = (iso: string, lat: number): LakeRecord =>
    ({ type: 'location_point', source: 'test.hours', key: [iso, lat], recordedAt: new Date(iso), lat, lon: 13.4 });
  // Three points at 14:00:05 (only their hashes order them), listed after later ones of the hour.
  await loadBatch(t.lake.db, target, {
    records: [at('2024-05-01T14:40:00Z', 1), at('2024-05-01T14:00:05Z', 2), at('2024-05-01T15:10:00Z', 3), at('2024-05-01T14:00:05Z', 4), at('2024-05-01T14:00:05Z', 5)],
  });
  await assertCurrent(carol, 2);
  // The same through the staging path (its range is taken now), with a new, earlier tie.
  await loadBatch(t.lake.db, target, { records: [at('2024-05-01T14:00:05Z', 6), at('2024-05-01T14:00:01Z', 7), at('2024-05-01T14:00:01Z', 8)] });
  await assertCurrent(carol, 2);
  // A batch split because its hour's first point is refused (latitude 123): the next point heads the hour.
  const { loadResilient } = await import('../src/ingest/load/resilient.js');
  const { prepareBatch } = await import('../src/ingest/load/loader.js');
  const records = [at('2024-05-01T16:00:00Z', 123), at('2024-05-01T16:20:00Z', 9), at('2024-05-01T16:30:00Z', 10), at('2024-05-01T16:10:00Z', 11)];
  const counts = await loadResilient(t.lake.db, target, prepareBatch(target, { records }), 'x.json');
  assert.equal(counts.inserted, 3);
  await assertCurrent(carol, 3);
});

test("removing a file's rows recomputes the hours it held, and only the owner's", async () => {
  await removeFileRows(t.lake.db, alice, FILES.second, ['timeseries.location_points']);
  await assertCurrent(alice, 3);
  await assertCurrent(bob, 1);
  await removeFileRows(t.lake.db, alice, FILES.first, ['timeseries.location_points']);
  await assertCurrent(alice, 0);
  await assertCurrent(bob, 1);
});

test('refresh_location_hours without a user identity changes nothing', async () => {
  await t.lake.db.query(`SELECT timeseries.refresh_location_hours(ARRAY[timestamptz '2024-05-01T10:30:00Z'])`);
  await assertCurrent(bob, 1);
});
