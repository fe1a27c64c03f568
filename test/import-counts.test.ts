// What an import reports as a person counts it (issue 13): messages and attachments, not the rows
// of every table together; a Semantic Location History month by its visits, places, activity
// items and path points. On either backend.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatReport } from '../src/ingest/report.js';
import { runImport } from '../src/ingest/runner.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

/** Three messages, the second with one base64 attachment. */
const MBOX = [
  'From 1@xxx Mon Mar 01 10:00:00 +0000 2021',
  'From: Ann <ann@example.org>',
  'To: bo@example.org',
  'Subject: one',
  'Date: Mon, 1 Mar 2021 10:00:00 +0000',
  'Message-ID: <one@example.org>',
  '',
  'First.',
  '',
  'From 2@xxx Tue Mar 02 10:00:00 +0000 2021',
  'From: Ann <ann@example.org>',
  'To: bo@example.org',
  'Subject: two',
  'Date: Tue, 2 Mar 2021 10:00:00 +0000',
  'Message-ID: <two@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'With a file.',
  '--b',
  'Content-Type: text/plain; name="note.txt"',
  'Content-Disposition: attachment; filename="note.txt"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('an attached note\n').toString('base64'),
  '--b--',
  '',
  'From 3@xxx Wed Mar 03 10:00:00 +0000 2021',
  'From: Bo <bo@example.org>',
  'To: ann@example.org',
  'Subject: three',
  'Date: Wed, 3 Mar 2021 10:00:00 +0000',
  'Message-ID: <three@example.org>',
  '',
  'Third.',
  '',
].join('\n');

const visit = (placeId: string, start: string, end: string) => ({
  placeVisit: { location: { placeId, latitudeE7: 473769000, longitudeE7: 85417000, name: placeId }, duration: { startTimestamp: start, endTimestamp: end } },
});
const segment = (start: string, end: string, points: { latE7: number; lngE7: number; timestamp: string }[] = []) => ({
  activitySegment: {
    duration: { startTimestamp: start, endTimestamp: end },
    activities: [{ activityType: 'WALKING', probability: 90 }],
    ...(points.length ? { simplifiedRawPath: { points } } : {}),
  },
});
/** Five timeline objects: 3 visits to 2 places, 2 activity segments, one of them with 2 timestamped path points. */
const MONTH = {
  timelineObjects: [
    visit('ChIJhome', '2021-03-01T00:00:00Z', '2021-03-01T08:00:00Z'),
    segment('2021-03-01T08:00:00Z', '2021-03-01T08:30:00Z', [
      { latE7: 473770000, lngE7: 85418000, timestamp: '2021-03-01T08:10:00Z' },
      { latE7: 473771000, lngE7: 85419000, timestamp: '2021-03-01T08:20:00Z' },
    ]),
    visit('ChIJoffice', '2021-03-01T08:30:00Z', '2021-03-01T17:00:00Z'),
    segment('2021-03-01T17:00:00Z', '2021-03-01T17:30:00Z'),
    visit('ChIJhome', '2021-03-01T17:30:00Z', '2021-03-01T23:00:00Z'),
  ],
};

describe('import report counts by kind', () => {
  let t: TestLake;
  let dir: string;
  before(async () => {
    t = await openTestLake();
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-import-counts-'));
  });
  after(async () => {
    await t.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('an mbox of 3 messages with 1 attachment reports messages 3, attachments 1, per file and in the totals', async () => {
    const user = await createUser(t.lake, 'counts-mail');
    const mail = path.join(dir, 'mail', 'Takeout', 'Mail');
    await mkdir(mail, { recursive: true });
    await writeFile(path.join(mail, 'All mail Including Spam and Trash.mbox'), MBOX);
    const report = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'mail')], batchSize: 100, blobs: t.lake.blobs });
    const file = report.files[0]!;
    assert.equal(file.format, 'google.gmail.mbox');
    assert.deepEqual(file.counts, { messages: 3, attachments: 1 });
    assert.equal(file.records, 4); // the rows, kept for compatibility
    assert.deepEqual(report.totals.counts, { messages: 3, attachments: 1 });
    const text = formatReport(report);
    assert.match(text, /: 3 messages, 1 attachment \(4 rows\) loaded,/);
    assert.match(text, /^done: 1 files, 3 messages, 1 attachment \(4 rows\) loaded,/m);
  });

  test('a Semantic Location History month reports its visits, places, activity items and points as the file holds them', async () => {
    const user = await createUser(t.lake, 'counts-month');
    const folder = path.join(dir, 'month', 'Takeout', 'Location History', 'Semantic Location History', '2021');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, '2021_MARCH.json'), JSON.stringify(MONTH));
    const report = await runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'month')], batchSize: 100 });
    const file = report.files[0]!;
    assert.equal(file.status, 'done', file.note ?? '');
    assert.deepEqual(file.counts, { visits: 3, places: 2, activityItems: 2, points: 2 });
    assert.deepEqual(report.totals.counts, file.counts);
    assert.match(formatReport(report), /: 2 points, 3 visits, 2 places, 2 activity items \(9 rows\) loaded,/);
  });
});
