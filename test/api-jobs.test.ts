// Import jobs over HTTP (/v1/jobs) on both backends, from uploads sent over tus: a job is queued,
// runs as its user, is followed live over server-sent events, and leaves its report and
// quarantine; jobs are cancelled and retried; a server closed mid-import leaves its job queued and
// the next server on the same database finishes it with exactly the rows of an uninterrupted
// import, none doubled; at most LAKE_JOB_CONCURRENCY jobs run at once; another user's job is a 404.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { serve } from '../src/api/serve.js';
import { DEFAULT_BATCH_SIZE, runImport } from '../src/ingest/runner.js';
import { get, startTestServer, type TestServer } from './support/api.js';
import { writeYazl } from './support/archives.js';
import { openTestLake, type TestLake } from './support/lake.js';
import { create, uploadWhole } from './support/tus.js';

let t: TestLake;
let server: TestServer;
let work: string;
const keys: Record<string, string> = {};
const ids: Record<string, string> = {};
/** A generated Records.json large enough to be caught mid-import, and its row count imported in one go. */
let bigFile: string;
let bigRows: number;

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;

before(async () => {
  t = await openTestLake();
  for (const name of USERS) {
    ids[name] = (await createUser(t.lake.db, name)).userId;
    keys[name] = (await createApiKey(t.lake.db, name)).key;
  }
  server = await startTestServer(t.lake);
  work = await mkdtemp(path.join(os.tmpdir(), 'lake-jobs-'));
  bigFile = path.join(work, 'big', 'Records.json');
  await mkdir(path.dirname(bigFile));
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/gen-records.ts', '--mb', '6', '--out', bigFile, '--seed', '7'], {
    cwd: path.join(import.meta.dirname, '..'),
  });
  // The reference: the same file imported by `lake import`'s code path in one uninterrupted run.
  await runImport(t.lake.db, { userId: ids.carol!, inputs: [bigFile], batchSize: 5000 });
  bigRows = await pointCount('carol');
  assert.ok(bigRows > 20_000, `the generated file has ${bigRows} points`);
});
after(async () => {
  await server?.close();
  await t?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

async function pointCount(user: string): Promise<number> {
  const r = await t.lake.db.asUser(ids[user]!, (tx) => tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM timeseries.location_points`));
  return r.rows[0]!.n;
}

async function distinctHashes(user: string): Promise<{ rows: number; distinct: number }> {
  const r = await t.lake.db.asUser(ids[user]!, (tx) =>
    tx.query<{ rows: number; distinct: number }>(`SELECT count(*)::int AS rows, count(DISTINCT content_hash)::int AS distinct FROM timeseries.location_points`),
  );
  return r.rows[0]!;
}

/** A small Records.json: `points` fixes a minute apart, plus `invalid` ones with a latitude out of range. */
async function smallRecords(name: string, points: number, invalid: number, startMs = Date.UTC(2020, 0, 1)): Promise<string> {
  const file = path.join(work, name);
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  out.write('{\n  "locations": [\n');
  for (let i = 0; i < points + invalid; i++) {
    const lat = i < invalid ? 1_000_000_000 + i : 525_200_000 + i;
    out.write(`${i ? ',\n' : ''}    { "latitudeE7": ${lat}, "longitudeE7": 134050000, "accuracy": 10, "timestampMs": "${startMs + i * 60_000}" }`);
  }
  out.end('\n  ]\n}\n');
  await once(out, 'finish');
  return file;
}

async function post(path: string, key: string | null, body?: unknown, target: TestServer = server): Promise<{ status: number; body: any }> {
  const response = await fetch(target.url + path, {
    method: 'POST',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

interface SseEvent {
  event: string;
  data: any;
}

/** Read a job's event stream; `until` may stop reading early (the rest of the stream is cancelled). */
async function events(target: TestServer, key: string, jobId: string, until?: (e: SseEvent) => boolean): Promise<{ status: number; type: string | null; events: SseEvent[] }> {
  const response = await fetch(`${target.url}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${key}` } });
  const collected: SseEvent[] = [];
  if (response.status !== 200 || !response.body) return { status: response.status, type: response.headers.get('content-type'), events: collected };
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || data === undefined) continue; // a heartbeat comment
      const parsed = { event, data: JSON.parse(data) };
      collected.push(parsed);
      if (until?.(parsed)) {
        await reader.cancel();
        return { status: 200, type: response.headers.get('content-type'), events: collected };
      }
    }
  }
  return { status: 200, type: response.headers.get('content-type'), events: collected };
}

async function waitFor(target: TestServer, key: string, jobId: string, statuses: string[], timeoutMs = 300_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await get(target, `/v1/jobs/${jobId}`, key);
    if (statuses.includes(reply.body?.status)) return reply.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${reply.body?.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a job from an upload', () => {
  let jobId: string;
  let uploadId: string;

  test('is queued, runs as its user and is followed live to its end (server-sent events)', async () => {
    const file = await smallRecords('small/Records.json', 3000, 4);
    uploadId = await uploadWhole(server, keys.alice!, file, 'Records.json');
    const created = await post('/v1/jobs', keys.alice!, { upload_id: uploadId, batch_size: 500 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, 'queued');
    assert.equal(created.body.upload_id, uploadId);
    jobId = created.body.job_id;

    const followed = await events(server, keys.alice!, jobId);
    assert.equal(followed.status, 200);
    assert.match(followed.type ?? '', /^text\/event-stream/);
    assert.equal(followed.events[0]!.event, 'job', 'the job as it is now comes first');
    const last = followed.events.at(-1)!;
    assert.equal(last.event, 'done', 'the stream ends with done');
    assert.equal(last.data.status, 'done');
    assert.deepEqual(
      { files: last.data.progress.files, records: last.data.progress.records, quarantined: last.data.progress.quarantined },
      { files: 1, records: 3000, quarantined: 4 },
    );
    assert.equal(await pointCount('alice'), 3000);

    // Following a finished job: its state and done at once.
    const again = await events(server, keys.alice!, jobId);
    assert.deepEqual(again.events.map((e) => e.event), ['job', 'done']);
  });

  test('its report has one line per file, like lake import --json, and its quarantine says where and why', async () => {
    const report = await get(server, `/v1/jobs/${jobId}/report`, keys.alice!);
    assert.equal(report.status, 200);
    assert.equal(report.body.status, 'done');
    assert.equal(report.body.files.length, 1);
    const line = report.body.files[0];
    assert.deepEqual(
      { path: line.path, format: line.format, status: line.status, counts: line.counts, records: line.records, quarantined: line.quarantined },
      { path: 'Records.json', format: 'google.location.records', status: 'done', counts: { points: 3000 }, records: 3000, quarantined: { invalid: 4 } },
    );
    assert.match(line.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(report.body.totals.records, 3000);
    assert.deepEqual(report.body.totals.counts, { points: 3000 });

    const first = await get(server, `/v1/jobs/${jobId}/quarantine?limit=3`, keys.alice!);
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 3);
    assert.ok(first.body.next_cursor);
    const second = await get(server, `/v1/jobs/${jobId}/quarantine?limit=3&cursor=${first.body.next_cursor}`, keys.alice!);
    assert.equal(second.body.items.length, 1);
    assert.equal(second.body.next_cursor, null);
    const item = first.body.items[0];
    assert.equal(item.entry, 'Records.json');
    assert.equal(item.category, 'invalid');
    assert.match(item.reason, /lat/i);
    assert.ok(item.byte_offset > 0, 'where in the file');

    // The job's outcomes in the metrics: the quality stage refused the 4 bad points, 6 batches of 500 committed.
    const metrics = (await get(server, '/metrics')).text;
    const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? NaN);
    assert.ok(value(/^lake_import_rejected_total\{stage="quality",category="invalid"\} (\d+)$/m) >= 4, 'rejected by quality control');
    assert.ok(value(/^lake_import_files_total\{status="done"\} (\d+)$/m) >= 1, 'files done');
    assert.ok(value(/^lake_import_batches_total (\d+)$/m) >= 6, 'batches committed');
    assert.ok(value(/^lake_import_bytes_total (\d+)$/m) > 0, 'bytes read');
  });

  test("another user's job is a 404 everywhere; no key is a 401", async () => {
    for (const suffix of ['', '/report', '/quarantine', '/events']) {
      assert.equal((await get(server, `/v1/jobs/${jobId}${suffix}`, keys.bob!)).status, 404, suffix);
      assert.equal((await get(server, `/v1/jobs/${jobId}${suffix}`)).status, 401, suffix);
    }
    for (const action of ['cancel', 'retry']) assert.equal((await post(`/v1/jobs/${jobId}/${action}`, keys.bob!)).status, 404, action);
    assert.deepEqual((await get(server, '/v1/jobs', keys.bob!)).body.jobs, []);
    assert.equal((await post('/v1/jobs', keys.bob!, { upload_id: uploadId })).status, 404, "bob cannot import alice's upload");
    assert.equal(await pointCount('bob'), 0);
    assert.equal((await get(server, '/v1/jobs/not-a-job', keys.alice!)).status, 404);
  });

  test('refusals: an unknown upload 404, an unfinished one 409, a bad body 400, a finished job cannot be cancelled 409', async () => {
    assert.equal((await post('/v1/jobs', keys.alice!, { upload_id: '00000000-0000-4000-8000-000000000000' })).status, 404);
    const unfinished = await create(server, keys.alice!, 100, { filename: 'Records.json', sha256: '0'.repeat(64) });
    const notYet = await post('/v1/jobs', keys.alice!, { upload_id: unfinished.id });
    assert.equal(notYet.status, 409);
    assert.equal(notYet.body.error.code, 'CONFLICT');
    assert.equal((await post('/v1/jobs', keys.alice!, { upload_id: uploadId, batch_size: 0 })).status, 400);
    assert.equal((await post('/v1/jobs', keys.alice!, { upload_id: uploadId, extra: 1 })).status, 400);
    assert.equal((await post('/v1/jobs', keys.alice!, {})).status, 400);
    assert.equal((await post(`/v1/jobs/${jobId}/cancel`, keys.alice!)).status, 409);
    assert.equal((await post(`/v1/jobs/${jobId}/retry`, keys.alice!)).status, 409, 'a done job is not retried');
  });

  test('a Takeout .zip upload is read as an archive: one report line per entry, unknown files skipped but listed', async () => {
    const records = await smallRecords('zip/Records.json', 50, 1, Date.UTC(2023, 0, 1));
    const zip = path.join(work, 'zip', 'takeout-20240101T000000Z-001.zip');
    await writeYazl(zip, [
      { name: 'Takeout/Location History/Records.json', content: await readFile(records) },
      { name: 'Takeout/archive_browser.html', content: Buffer.from('<html><body>index</body></html>') },
    ]);
    const upload = await uploadWhole(server, keys.carol!, zip, path.basename(zip));
    const before = await pointCount('carol');
    const created = await post('/v1/jobs', keys.carol!, { upload_id: upload });
    assert.equal(created.body.batch_size, DEFAULT_BATCH_SIZE, 'without batch_size, the batches of lake import');
    const done = await waitFor(server, keys.carol!, created.body.job_id, ['done', 'partial', 'failed']);
    assert.equal(done.status, 'done', JSON.stringify(done));
    assert.equal(done.filename, path.basename(zip));
    const report = await get(server, `/v1/jobs/${created.body.job_id}/report`, keys.carol!);
    const lines = Object.fromEntries(report.body.files.map((f: any) => [f.path, f]));
    assert.deepEqual(Object.keys(lines).sort(), ['Takeout/Location History/Records.json', 'Takeout/archive_browser.html']);
    assert.equal(lines['Takeout/Location History/Records.json'].archive, path.basename(zip));
    assert.deepEqual(lines['Takeout/Location History/Records.json'].quarantined, { invalid: 1 });
    assert.equal(await pointCount('carol'), before + 50);
  });

  test('the parts of a split Takeout, uploaded one by one, are one job (upload_ids)', async () => {
    const parts: string[] = [];
    for (const [n, start] of [[1, Date.UTC(2023, 5, 1)], [2, Date.UTC(2023, 6, 1)]] as const) {
      const records = await smallRecords(`split-${n}/Records.json`, 20, 0, start);
      const zip = path.join(work, `split-${n}`, `takeout-20240202T000000Z-00${n}.zip`);
      await writeYazl(zip, [{ name: `Takeout/Location History/Records${n === 1 ? '' : ' (1)'}.json`, content: await readFile(records) }]);
      parts.push(await uploadWhole(server, keys.carol!, zip, path.basename(zip)));
    }
    const before = await pointCount('carol');
    assert.equal((await post('/v1/jobs', keys.carol!, { upload_id: parts[0], upload_ids: parts })).status, 400, 'one or the other');
    const created = await post('/v1/jobs', keys.carol!, { upload_ids: parts });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.upload_ids, parts);
    assert.equal((await post('/v1/jobs', keys.carol!, { upload_id: parts[1] })).status, 409, 'a part already waits in a job');
    const done = await waitFor(server, keys.carol!, created.body.job_id, ['done', 'partial', 'failed']);
    assert.equal(done.status, 'done', JSON.stringify(done));
    const report = await get(server, `/v1/jobs/${created.body.job_id}/report`, keys.carol!);
    assert.deepEqual(report.body.files.map((f: any) => f.archive).sort(), ['takeout-20240202T000000Z-001.zip', 'takeout-20240202T000000Z-002.zip']);
    assert.equal(await pointCount('carol'), before + 40);
  });

  test('the list pages newest first with a cursor', async () => {
    const file = await smallRecords('list/Records.json', 10, 0, Date.UTC(2021, 0, 1));
    const upload = await uploadWhole(server, keys.alice!, file, 'Records.json');
    const made: string[] = [jobId];
    for (let i = 0; i < 2; i++) {
      const created = await post('/v1/jobs', keys.alice!, { upload_id: upload });
      made.push(created.body.job_id);
      await waitFor(server, keys.alice!, created.body.job_id, ['done', 'partial', 'failed']);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await get(server, `/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`, keys.alice!);
      assert.equal(page.status, 200);
      seen.push(...page.body.jobs.map((j: { job_id: string }) => j.job_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [...made].reverse());
  });
});

describe('interrupted jobs', () => {
  test('cancelled while running, then retried: it resumes and ends with the rows of an uninterrupted import, none doubled', { timeout: 600_000 }, async () => {
    const upload = await uploadWhole(server, keys.dave!, bigFile, 'Records.json');
    const created = await post('/v1/jobs', keys.dave!, { upload_id: upload, batch_size: 500 });
    await events(server, keys.dave!, created.body.job_id, (e) => e.event === 'progress' && e.data.records >= 1000);
    const cancelled = await post(`/v1/jobs/${created.body.job_id}/cancel`, keys.dave!);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, 'cancelled');
    const partway = await pointCount('dave');
    assert.ok(partway > 0 && partway < bigRows, `stopped part-way: ${partway} of ${bigRows}`);

    const retried = await post(`/v1/jobs/${created.body.job_id}/retry`, keys.dave!);
    assert.equal(retried.status, 202);
    assert.equal(retried.body.status, 'queued');
    const finished = await waitFor(server, keys.dave!, created.body.job_id, ['done', 'partial', 'failed']);
    assert.equal(finished.status, 'done');
    assert.equal(finished.attempts, 2);
    assert.equal(await pointCount('dave'), bigRows);
    assert.deepEqual(await distinctHashes('dave'), { rows: bigRows, distinct: bigRows });
    const report = await get(server, `/v1/jobs/${created.body.job_id}/report`, keys.dave!);
    assert.equal(report.body.files.length, 1, 'the resumed file is one line');
    assert.equal(report.body.totals.records, bigRows);
  });

  test('lake serve stopped mid-import (SIGTERM) leaves the job queued; the next server on the same database finishes it, nothing doubled', { timeout: 600_000 }, async () => {
    // The first server is `lake serve`'s own loop (serve.ts), stopped the way SIGTERM stops it.
    const stop = new AbortController();
    let listening!: (url: string) => void;
    const address = new Promise<string>((resolve) => (listening = resolve));
    const serving = serve(t.lake, { host: '127.0.0.1', port: 0, shutdownTimeoutMs: 30_000, stop: stop.signal, onListening: (url) => listening(url) });
    const first = { url: await address } as TestServer;
    const upload = await uploadWhole(first, keys.erin!, bigFile, 'Records.json');
    const created = await post('/v1/jobs', keys.erin!, { upload_id: upload, batch_size: 500 }, first);
    assert.equal(created.status, 201);
    const jobId = created.body.job_id as string;
    await events(first, keys.erin!, jobId, (e) => e.event === 'progress' && e.data.records >= 1000);
    stop.abort(); // SIGTERM: stop accepting, let requests finish, stop the import at a batch boundary
    await serving;

    const left = await t.lake.db.asUser(ids.erin!, (tx) =>
      tx.query<{ status: string; files: string[] }>(
        `SELECT j.status, array(SELECT f.status FROM imports.files f WHERE f.job_id = j.job_id) AS files FROM imports.jobs j WHERE j.job_id = $1`,
        [jobId],
      ),
    );
    assert.deepEqual(left.rows[0], { status: 'queued', files: ['loading'] }, 'back in the queue, its file resumable');
    const partway = await pointCount('erin');
    assert.ok(partway > 0 && partway < bigRows, `stopped part-way: ${partway} of ${bigRows}`);

    const second = await startTestServer(t.lake);
    try {
      const finished = await waitFor(second, keys.erin!, jobId, ['done', 'partial', 'failed', 'cancelled']);
      assert.equal(finished.status, 'done');
      assert.equal(finished.attempts, 2, 'started again by the second server');
      assert.equal(await pointCount('erin'), bigRows, 'the rows of an uninterrupted import');
      assert.deepEqual(await distinctHashes('erin'), { rows: bigRows, distinct: bigRows });
      const report = await get(second, `/v1/jobs/${jobId}/report`, keys.erin!);
      assert.equal(report.body.totals.records, bigRows);
    } finally {
      await second.close();
    }
  });

  test('at most the configured number of jobs run at once; the rest wait in the queue', { timeout: 600_000 }, async () => {
    const slots = t.lake.db.backend === 'embedded' ? 1 : 2;
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const file = await smallRecords(`slots-${i}/Records.json`, 4000, 0, Date.UTC(2022, i, 1));
      const upload = await uploadWhole(server, keys.bob!, file, 'Records.json');
      made.push((await post('/v1/jobs', keys.bob!, { upload_id: upload, batch_size: 250 })).body.job_id);
    }
    const metrics = await get(server, '/metrics');
    assert.match(metrics.text, /^lake_import_jobs_queued \d+$/m);
    assert.match(metrics.text, new RegExp(`^lake_import_job_slots ${slots}$`, 'm'));
    const finished = [];
    for (const id of made) finished.push(await waitFor(server, keys.bob!, id, ['done', 'partial', 'failed']));
    assert.deepEqual(finished.map((j) => j.status), ['done', 'done', 'done']);
    // No instant is inside more than `slots` of the jobs' [started, finished] intervals.
    const edges = finished.flatMap((j) => [
      { at: Date.parse(j.started_at), step: 1 },
      { at: Date.parse(j.finished_at), step: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.step - b.step);
    let running = 0;
    let most = 0;
    for (const edge of edges) most = Math.max(most, (running += edge.step));
    assert.ok(most <= slots, `${most} jobs ran at once with ${slots} slots`);
    assert.equal(await pointCount('bob'), 12_000);
    const counted = await get(server, '/metrics');
    const records = Number(/^lake_import_job_records_total (\d+)/m.exec(counted.text)?.[1]);
    assert.ok(records >= 12_000, `lake_import_job_records_total ${records}`);
  });
});
