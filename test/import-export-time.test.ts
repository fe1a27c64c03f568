// Facts an export does not date (YouTube subscriptions) are dated by the export itself: the
// archive entry's or the file's modification time. That date is part of the row's key, so the
// same export imported again, later, adds nothing.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runImport } from '../src/ingest/runner.js';
import { writeYazl } from './support/archives.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const SUBSCRIPTIONS = path.join(import.meta.dirname, 'fixtures/google/youtube-csv/subscriptions.csv');
const ENTRY = 'Takeout/YouTube and YouTube Music/subscriptions/subscriptions.csv';

let t: TestLake;
let dir: string;
before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-export-time-'));
});
after(async () => {
  await t.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function subscriptions(user: string): Promise<{ occurred_at: Date; dated_by: string }[]> {
  const result = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ occurred_at: Date; dated_by: string }>(
      `SELECT occurred_at, attributes->>'occurredAt' AS dated_by FROM user_data.items WHERE kind = 'subscription' ORDER BY title`,
    ),
  );
  return result.rows;
}

test('a zip entry dates the subscriptions in it, and importing the same zip again later adds nothing', async () => {
  const user = await createUser(t.lake, 'zip-export');
  const exportedAt = new Date('2024-05-06T07:08:10Z');
  const zip = path.join(dir, 'takeout.zip');
  await writeYazl(zip, [{ name: ENTRY, content: await readFile(SUBSCRIPTIONS), mtime: exportedAt }]);

  const first = await runImport(t.lake.db, { userId: user, inputs: [zip], batchSize: 100 });
  assert.equal(first.status, 'done');
  const rows = await subscriptions(user);
  assert.ok(rows.length >= 3, `${rows.length} subscriptions`);
  for (const row of rows) assert.deepEqual(row, { occurred_at: exportedAt, dated_by: 'export' });

  await new Promise((resolve) => setTimeout(resolve, 1100)); // a later second: an import-time date would differ
  const second = await runImport(t.lake.db, { userId: user, inputs: [zip], batchSize: 100 });
  assert.equal(second.totals.records, 0);
  assert.equal(second.totals.duplicates, rows.length);
  assert.equal((await subscriptions(user)).length, rows.length);
});

test("a plain file's modification time dates the subscriptions; a zeroed time counts as unknown", async () => {
  const user = await createUser(t.lake, 'file-export');
  const folder = path.join(dir, 'unpacked');
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, 'subscriptions.csv');
  await copyFile(SUBSCRIPTIONS, file);
  const exportedAt = new Date('2023-11-12T13:14:15Z');
  await utimes(file, exportedAt, exportedAt);
  await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 100 });
  for (const row of await subscriptions(user)) assert.deepEqual(row, { occurred_at: exportedAt, dated_by: 'export' });

  const zeroed = await createUser(t.lake, 'zeroed-export');
  await utimes(file, new Date(0), new Date(0));
  const before = Date.now();
  await runImport(t.lake.db, { userId: zeroed, inputs: [file], batchSize: 100 });
  for (const row of await subscriptions(zeroed)) {
    assert.equal(row.dated_by, 'import');
    assert.ok(row.occurred_at.getTime() >= before - 1000, `dated ${row.occurred_at.toISOString()}, at import`);
  }
});
