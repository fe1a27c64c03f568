// Large files of standalone sources are parsed in a worker thread when the lake loads into the
// embedded database (src/ingest/pipeline/parse-in-worker.ts). The worker must change nothing but
// the speed: the same rows, reports, quarantine entries and repair counts as parsing in the
// runner's thread, a file that ends early kept up to where it broke, and a stopped import that
// resumes where its last batch committed.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ImportAbortedError, runImport } from '../src/ingest/runner.js';
import { SOURCES } from '../src/ingest/sources/all.js';
import { isStandalone, loadStandaloneSource } from '../src/ingest/sources/registry.js';
import type { FileReport } from '../src/ingest/report.js';
import { tarFile } from './support/archives.js';
import { BACKEND, createUser, openTestLake, type TestLake } from './support/lake.js';

const skip = BACKEND === 'server' ? 'the parse worker serves the embedded database only (a server loads in its own processes)' : false;
const POINTS = 12_000;

let t: TestLake;
let dir: string;
before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-parse-worker-'));
  // Records.json with what the stages must handle: values out of range (quarantined with their
  // offsets), NUL and a lone surrogate in strings (repaired and counted), a point repeated.
  const points = Array.from({ length: POINTS }, (_, i) => {
    const ms = Date.UTC(2019, 0, 1) + i * 45_000;
    const lat = i % 1000 === 7 ? 950000000 : 480000000 + i * 13;
    const device = i % 500 === 3 ? '"phone\\u0000\\ud800"' : String(1000 + (i % 3));
    return `{"timestampMs":"${ms}","latitudeE7":${lat},"longitudeE7":${23000000 + i * 7},"accuracy":${5 + (i % 20)},"deviceTag":${device}}`;
  });
  points.push(points[100]!);
  await writeFile(path.join(dir, 'Records.json'), `{"locations":[${points.join(',\n')}]}`);
  // My Activity cut off mid-array: what came before the cut stays, the file is partial.
  const activities = Array.from({ length: 3000 }, (_, i) =>
    JSON.stringify({ header: 'Search', title: `Searched for lake ${i}`, titleUrl: `https://www.google.com/search?q=lake+${i}`,
      time: new Date(Date.UTC(2020, 5, 1) + i * 60_000).toISOString(), products: ['Search'] }));
  const activity = `[${activities.join(',\n')}]`;
  await writeFile(path.join(dir, 'MyActivity.json'), activity.slice(0, Math.floor(activity.length * 0.8)));
});
after(async () => {
  await t.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** What an import stored for a user: content hashes and quarantine entries, in a stable order. */
async function stored(userId: string) {
  return t.lake.db.asUser(userId, async (tx) => ({
    points: (await tx.query<{ h: string }>(`SELECT encode(content_hash, 'hex') AS h FROM timeseries.location_points ORDER BY 1`)).rows.map((r) => r.h),
    devices: (await tx.query<{ device: string }>(`SELECT DISTINCT device FROM timeseries.location_points ORDER BY 1`)).rows.map((r) => r.device),
    items: (await tx.query<{ h: string }>(`SELECT encode(content_hash, 'hex') AS h FROM user_data.items ORDER BY 1`)).rows.map((r) => r.h),
    quarantine: (await tx.query(`SELECT entry, category, reason, byte_offset FROM imports.quarantine ORDER BY entry, byte_offset, reason`)).rows,
    hours: (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_hours`)).rows[0]!.n,
  }));
}

const comparable = (files: FileReport[]) =>
  files.map(({ seconds: _s, ...file }) => file).sort((a, b) => a.path.localeCompare(b.path));

test('a worker loads each standalone source alone, and it is the very source the runner detected', async () => {
  // No database involved: this runs on both backends.
  const standalone = SOURCES.filter((source) => isStandalone(source.id));
  assert.ok(standalone.some((source) => source.id === 'google.location.records'));
  for (const source of standalone) assert.equal(await loadStandaloneSource(source.id), source, source.id);
  assert.equal(isStandalone('google.gmail.mbox'), false, 'the mbox parser writes attachments to the blob store');
  assert.equal(isStandalone('toString'), false);
  await assert.rejects(loadStandaloneSource('google.gmail.mbox'), /no standalone source google\.gmail\.mbox/);
});

test('parsed in a worker or in the runner\'s thread, a file gives the same rows, report, quarantine and repairs', { skip }, async () => {
  const inThread = await createUser(t.lake, 'in-thread');
  const inWorker = await createUser(t.lake, 'in-worker');
  const run = (userId: string, parseWorkerMinBytes: number) => runImport(t.lake.db, { userId, inputs: [dir], batchSize: 1000, parseWorkerMinBytes });
  const a = await run(inThread, Infinity);
  const b = await run(inWorker, 0);
  assert.deepEqual(comparable(b.files), comparable(a.files));
  const records = a.files.find((f) => f.path.endsWith('Records.json'))!;
  assert.equal(records.records, POINTS - 12, 'all but the 12 points out of range');
  assert.equal(records.duplicates, 1);
  assert.deepEqual(records.repairs, { invalidUtf8: 24, nulCharacters: 24 });
  assert.equal(a.files.find((f) => f.path.endsWith('MyActivity.json'))!.status, 'partial');
  const [left, right] = [await stored(inThread), await stored(inWorker)];
  assert.deepEqual(right, left);
  assert.ok(left.devices.includes('phone\ufffd'), 'the repaired device tag is stored');
  assert.equal(left.quarantine.filter((q) => q.category === 'invalid').length, 12);
});

test('an import stopped while a worker parses resumes after its last committed batch, with the rows of an uninterrupted one', { skip }, async () => {
  const userId = await createUser(t.lake, 'stopped');
  const stop = new AbortController();
  const options = { userId, inputs: [path.join(dir, 'Records.json')], batchSize: 500, parseWorkerMinBytes: 0 };
  await assert.rejects(
    runImport(t.lake.db, { ...options, signal: stop.signal, onProgress: (p) => p.records >= 2000 && stop.abort('test') }),
    ImportAbortedError,
  );
  const resumed = await runImport(t.lake.db, options);
  const file = resumed.files[0]!;
  assert.equal(file.status, 'done');
  assert.ok(file.resumedFrom >= 2000 && file.resumedFrom < POINTS, `resumed after ${file.resumedFrom} events`);
  const whole = await createUser(t.lake, 'whole');
  await runImport(t.lake.db, { ...options, userId: whole });
  assert.deepEqual((await stored(userId)).points, (await stored(whole)).points);
});

test('an archive that breaks while a worker parses one of its files fails that file as it would without the worker', { skip }, async () => {
  // Two parsers that take the early end differently: the JSON scanner fails, the HTML reader ends
  // its last record (the import must fail all the same, with the archive's error).
  const records = await readFile(path.join(dir, 'Records.json'));
  const fixture = await readFile(new URL('./fixtures/google/my-activity-html/search-MyActivity.html', import.meta.url), 'utf8');
  const cell = fixture.slice(fixture.indexOf('<div class="outer-cell'), fixture.indexOf('<div class="outer-cell', fixture.indexOf('<div class="outer-cell') + 1));
  const html = `<html><body><div class="mdl-grid">${Array.from({ length: 6000 }, (_, i) => cell.replace('café crème', `lake ${i}`)).join('')}</div></body></html>`;
  for (const [entry, content] of [['Takeout/Location History/Records.json', records], ['Takeout/My Activity/Search/MyActivity.html', Buffer.from(html)]] as const) {
    const tgz = gzipSync(tarFile({ name: entry }, content));
    const broken = path.join(dir, 'broken', `${path.basename(entry)}.tgz`);
    await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(broken), { recursive: true }));
    await writeFile(broken, tgz.subarray(0, Math.floor(tgz.length * 0.6)));
    const run = async (name: string, parseWorkerMinBytes: number) => {
      const userId = await createUser(t.lake, name);
      const report = await runImport(t.lake.db, { userId, inputs: [broken], batchSize: 1000, parseWorkerMinBytes });
      const rows = await stored(userId);
      return { report, rows: rows.points.length + rows.items.length };
    };
    const inThread = await run(`broken-in-thread-${path.extname(entry).slice(1)}`, Infinity);
    const inWorker = await run(`broken-in-worker-${path.extname(entry).slice(1)}`, 0);
    assert.equal(inThread.report.status, 'failed', entry);
    assert.ok(inThread.report.error?.code.startsWith('ARCHIVE_'), JSON.stringify(inThread.report.error));
    assert.deepEqual(inWorker.report.error, inThread.report.error, entry);
    assert.deepEqual(inWorker.report.files.map((f) => [f.path, f.status]), inThread.report.files.map((f) => [f.path, f.status]), entry);
    assert.ok(inWorker.rows > 0, `${entry}: what was read before the break is kept`);
    assert.equal(inWorker.rows, inThread.rows, entry);
  }
});
