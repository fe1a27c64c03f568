// Importing again, later or from a newer export. Facts an export does not date (YouTube
// subscriptions) are dated by the export itself, the archive entry's or the file's modification
// time; that date is part of the row's key, so the same export imported again adds nothing. A fact
// exported again in a newer state (an edited Keep note, a Fit day whose totals changed) replaces
// the stored row; an older state does not.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
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

const KEEP_NOTE = path.join(import.meta.dirname, 'fixtures/google/keep/Idea.json');

async function notes(user: string): Promise<{ body: string; revision: number }[]> {
  const result = await t.lake.db.asUser(user, (tx) =>
    tx.query<{ body: string; revision: number }>(`SELECT body, revision FROM user_data.items WHERE kind = 'note' ORDER BY occurred_at`),
  );
  return result.rows;
}

test('a Keep note edited since the last export replaces the stored note; the older export imported afterwards changes nothing', async () => {
  const user = await createUser(t.lake, 'keep-edits');
  const original = JSON.parse(await readFile(KEEP_NOTE, 'utf8')) as Record<string, unknown>;
  const edited = { ...original, textContent: 'Try a 75% hydration dough.', userEditedTimestampUsec: (original.userEditedTimestampUsec as number) + 86_400_000_000 };
  const older = path.join(dir, 'keep-older');
  const newer = path.join(dir, 'keep-newer');
  for (const [folder, note] of [[older, original], [newer, edited]] as const) {
    await mkdir(path.join(folder, 'Takeout/Keep'), { recursive: true });
    await writeFile(path.join(folder, 'Takeout/Keep/Idea.json'), JSON.stringify(note));
  }

  const first = await runImport(t.lake.db, { userId: user, inputs: [older], batchSize: 10 });
  assert.deepEqual([first.totals.records, first.totals.updated], [1, 0]);
  const second = await runImport(t.lake.db, { userId: user, inputs: [newer], batchSize: 10 });
  assert.deepEqual([second.totals.records, second.totals.updated, second.totals.duplicates], [0, 1, 0]);
  assert.deepEqual(await notes(user), [{ body: 'Try a 75% hydration dough.', revision: (edited.userEditedTimestampUsec as number) / 1000 }]);

  const third = await runImport(t.lake.db, { userId: user, inputs: [older], batchSize: 10 });
  assert.deepEqual([third.totals.records, third.totals.updated, third.totals.duplicates], [0, 0, 1]);
  assert.equal((await notes(user))[0]!.body, 'Try a 75% hydration dough.');
});

test("a newer export's Google Fit daily totals replace the older export's for the same day and metric", async () => {
  const user = await createUser(t.lake, 'fit-edits');
  const csv = (steps: number) => `Date,Step count,Distance (m)\n2024-03-01,${steps},1200.5\n2024-03-02,4000,900\n`;
  const write = async (name: string, steps: number, exportedAt: Date) => {
    const file = path.join(dir, name, 'Daily activity metrics.csv');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, csv(steps));
    await utimes(file, exportedAt, exportedAt);
    return file;
  };
  const older = await write('fit-older', 5000, new Date('2024-03-02T06:00:00Z'));
  const newer = await write('fit-newer', 8123, new Date('2024-03-05T06:00:00Z'));
  const steps = async () =>
    (await t.lake.db.asUser(user, (tx) =>
      tx.query<{ day: string; value: number }>(
        `SELECT to_char(measured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, value FROM timeseries.measurements WHERE metric LIKE '%step%' ORDER BY measured_at`,
      ),
    )).rows;

  const first = await runImport(t.lake.db, { userId: user, inputs: [older], batchSize: 10 });
  assert.equal(first.totals.records, 4);
  const second = await runImport(t.lake.db, { userId: user, inputs: [newer], batchSize: 10 });
  // Both days' rows carry the newer export's revision: the changed day and the unchanged one are replaced.
  assert.deepEqual([second.totals.records, second.totals.updated], [0, 4]);
  assert.deepEqual(await steps(), [{ day: '2024-03-01', value: 8123 }, { day: '2024-03-02', value: 4000 }]);
  const again = await runImport(t.lake.db, { userId: user, inputs: [older], batchSize: 10 });
  assert.deepEqual([again.totals.updated, again.totals.duplicates], [0, 4]);
  assert.deepEqual(await steps(), [{ day: '2024-03-01', value: 8123 }, { day: '2024-03-02', value: 4000 }]);
});
