// The read endpoints of issue 17 over real HTTP, on data loaded by real imports of test fixtures
// (a Gmail mbox with attachments, Google Photos with sidecars and an album, a video, documents,
// contacts, a calendar, Google Fit): /v1/messages, /v1/media (and thumbnails), /v1/blobs with
// ranges, /v1/documents, /v1/measurements and its buckets, /v1/contacts, /v1/calendar/events, and
// the new kinds of /v1/timeline and /v1/search. Another user's key reads none of it: 404s, never
// 403s. Runs on PGlite, or on the server with LAKE_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { runImport } from '../src/ingest/runner.js';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { Thumbnails, thumbnailsDirectory } from '../src/store/thumbnails.js';
import { allPages, get, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';
import { mp4 } from './support/media.js';
import { makePdf } from './fixtures/documents/make.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const PHOTOS = 'Takeout/Google Photos';
const TRIP = `${PHOTOS}/Harbour trip`;
const YEAR = `${PHOTOS}/Photos from 2023`;

let t: TestLake;
let server: TestServer;
let work: string;
const keys = { alice: '', bob: '' };

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function photo(width: number, height: number, colour: string, camera: { make: string; model: string }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .withExif({ IFD0: { Make: camera.make, Model: camera.model } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

function sidecar(title: string, fields: { taken: number; description?: string; lat?: number; lon?: number }): Buffer {
  return Buffer.from(
    JSON.stringify({
      title,
      description: fields.description ?? '',
      photoTakenTime: { timestamp: String(fields.taken) },
      geoData: { latitude: fields.lat ?? 0, longitude: fields.lon ?? 0, altitude: 0, latitudeSpan: 0, longitudeSpan: 0 },
      people: [],
    }),
  );
}

async function put(root: string, name: string, content: Buffer | string): Promise<void> {
  await mkdir(path.dirname(path.join(root, name)), { recursive: true });
  await writeFile(path.join(root, name), content);
}

// Alice's photos: a harbour photo (in an album and its year folder), a forest photo from another
// camera, and a video; Bob's: one photo of his own.
let HARBOUR: Buffer;
let FOREST: Buffer;
let BOBS: Buffer;
const VIDEO = mp4({ durationSeconds: 3, width: 64, height: 48, createdAt: new Date('2023-07-08T10:10:10Z') });
const HARBOUR_TAKEN = Date.parse('2023-06-01T10:00:00Z') / 1000;
const FOREST_TAKEN = Date.parse('2023-06-20T16:30:00Z') / 1000;

before(async () => {
  HARBOUR = await photo(1600, 1200, '#2060c0', { make: 'Google', model: 'Pixel 7' });
  FOREST = await photo(300, 200, '#208040', { make: 'Canon', model: 'EOS R6' });
  BOBS = await photo(120, 80, '#c02020', { make: 'Apple', model: 'iPhone 12' });
  t = await openTestLake();
  work = await mkdtemp(path.join(os.tmpdir(), 'lake-api-read-'));
  const alice = path.join(work, 'alice');
  await put(alice, 'Takeout/Mail/All mail Including Spam and Trash.mbox', await import('node:fs/promises').then((fs) => fs.readFile(new URL('mbox/takeout.mbox', FIXTURES))));
  await put(alice, `${TRIP}/metadata.json`, JSON.stringify({ title: 'Harbour trip', description: '', access: 'protected', date: { timestamp: String(HARBOUR_TAKEN) }, location: 'Riviera' }));
  await put(alice, `${TRIP}/IMG_0001.jpg`, HARBOUR);
  await put(alice, `${TRIP}/IMG_0001.jpg.supplemental-metadata.json`, sidecar('IMG_0001.jpg', { taken: HARBOUR_TAKEN, description: 'lighthouse at the harbour of Nice', lat: 43.695, lon: 7.285 }));
  await put(alice, `${YEAR}/IMG_0001.jpg`, HARBOUR);
  await put(alice, `${YEAR}/IMG_0002.jpg`, FOREST);
  await put(alice, `${YEAR}/IMG_0002.jpg.supplemental-metadata.json`, sidecar('IMG_0002.jpg', { taken: FOREST_TAKEN, description: 'a walk in the Black Forest', lat: 48.0, lon: 8.2 }));
  await put(alice, `${YEAR}/VID_0003.mp4`, VIDEO);
  await put(alice, 'Takeout/Drive/lighthouse-notes.pdf', makePdf(['Notes on the lighthouse keeper rota'], { title: 'Lighthouse rota' }));
  await cp(new URL('documents/messy-semicolon.csv', FIXTURES), path.join(alice, 'Takeout/Drive/messy-semicolon.csv'));
  await cp(new URL('contacts/google-export.vcf', FIXTURES), path.join(alice, 'Takeout/Contacts/All Contacts/All Contacts.vcf'));
  await cp(new URL('calendar/google-calendar.ics', FIXTURES), path.join(alice, 'Takeout/Calendar/alice@example.org.ics'));
  await cp(new URL('google/fit/', FIXTURES), path.join(alice, 'Takeout/Fit'), { recursive: true });
  const bob = path.join(work, 'bob');
  await put(bob, `${YEAR}/IMG_9999.jpg`, BOBS);
  await put(bob, `${YEAR}/IMG_9999.jpg.json`, sidecar('IMG_9999.jpg', { taken: HARBOUR_TAKEN, description: 'bob-secret lighthouse' }));

  for (const name of ['alice', 'bob'] as const) {
    const { userId } = await createUser(t.lake.db, `read-${name}`);
    await runImport(t.lake.db, { userId, inputs: [path.join(work, name)], batchSize: 50, blobs: t.lake.blobs });
    keys[name] = (await createApiKey(t.lake.db, `read-${name}`)).key;
  }
  server = await startTestServer(t.lake);
});

after(async () => {
  await server?.close();
  await t?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

interface MessageSummary { id: string; sent_at: string; subject: string | null; labels: string[]; thread_id: string | null; attachment_count: number }
interface MessagesPage { messages: MessageSummary[]; next_cursor: string | null }

describe('messages', () => {
  test('pages hold every message once, newest first; label, thread, q and time filter', async () => {
    const pages = await allPages<MessagesPage>(server, '/v1/messages?limit=2', keys.alice);
    const all = pages.flatMap((p) => p.messages);
    assert.equal(all.length, 9, 'nine messages in the mbox are imported');
    assert.equal(new Set(all.map((m) => m.id)).size, 9);
    const times = all.map((m) => Date.parse(m.sent_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));

    const sent = await get<MessagesPage>(server, '/v1/messages?label=Sent', keys.alice);
    assert.deepEqual(sent.body.messages.map((m) => m.labels.includes('Sent')), [true]);
    assert.equal(sent.body.messages.length, all.filter((m) => m.labels.includes('Sent')).length);
    const work21 = await get<MessagesPage>(server, `/v1/messages?label=${encodeURIComponent('Work, 2021')}`, keys.alice);
    assert.equal(work21.body.messages.length, 1);

    const thread = await get<MessagesPage>(server, '/v1/messages?thread=1545668983435175434&order=asc', keys.alice);
    assert.equal(thread.body.messages.length, 2);
    assert.ok(Date.parse(thread.body.messages[0]!.sent_at) <= Date.parse(thread.body.messages[1]!.sent_at));

    const broken = await get<MessagesPage>(server, '/v1/messages?q=broken%20boundary', keys.alice);
    assert.deepEqual(broken.body.messages.map((m) => m.subject), ['Broken boundary']);

    const middle = times[4]!;
    const ranged = await get<MessagesPage>(server, `/v1/messages?from=${new Date(middle).toISOString()}`, keys.alice);
    assert.deepEqual(ranged.body.messages.map((m) => m.id), all.filter((m) => Date.parse(m.sent_at) >= middle).map((m) => m.id));

    const bad = await get(server, '/v1/messages?cursor=nonsense', keys.alice);
    assert.equal(bad.status, 400);
  });

  test('one message with its attachments, whose bytes are blobs; Bob gets 404 for it and its attachments', async () => {
    const all = (await allPages<MessagesPage>(server, '/v1/messages?limit=100', keys.alice)).flatMap((p) => p.messages);
    const withTwo = all.find((m) => m.attachment_count === 2);
    assert.ok(withTwo, 'the multipart/mixed message with two attachments');
    const one = await get(server, `/v1/messages/${withTwo.id}`, keys.alice);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, withTwo.id);
    assert.equal(one.body.attachments.length, 2);
    for (const attachment of one.body.attachments) {
      assert.match(attachment.sha256, /^[0-9a-f]{64}$/);
      assert.equal(typeof attachment.size, 'number');
      const blob = await fetch(`${server.url}/v1/blobs/${attachment.sha256}`, { headers: { authorization: `Bearer ${keys.alice}` } });
      assert.equal(blob.status, 200);
      const bytes = Buffer.from(await blob.arrayBuffer());
      assert.equal(bytes.length, attachment.size);
      assert.equal(sha(bytes), attachment.sha256);
      assert.equal(blob.headers.get('etag'), `"${attachment.sha256}"`);
      assert.equal(blob.headers.get('content-type'), attachment.type);
      // Served from the console's origin: sandboxed, never sniffed, and a download unless it is media.
      assert.match(blob.headers.get('content-security-policy') ?? '', /default-src 'none'.*; sandbox$/);
      assert.equal(blob.headers.get('x-content-type-options'), 'nosniff');
      const disposition = { 'application/pdf': null, 'text/plain': null }[attachment.type as string];
      assert.notEqual(disposition, undefined, `the fixture's attachments are a PDF and a text, not ${attachment.type}`);
      assert.equal(blob.headers.get('content-disposition'), disposition, attachment.type);
      const forBob = await get(server, `/v1/blobs/${attachment.sha256}`, keys.bob);
      assert.equal(forBob.status, 404);
      assert.equal(forBob.body.error.code, 'NOT_FOUND');
    }
    const bob = await get(server, `/v1/messages/${withTwo.id}`, keys.bob);
    assert.equal(bob.status, 404);
    assert.equal((await get<MessagesPage>(server, '/v1/messages', keys.bob)).body.messages.length, 0);
    assert.equal((await get(server, `/v1/messages/${'0'.repeat(64)}`, keys.alice)).status, 404);
    assert.equal((await get(server, '/v1/messages/xyz', keys.alice)).status, 400);
  });
});

interface MediaItem { sha256: string; mime_type: string; taken_at: string | null; albums: string[]; camera_model: string | null; description: string | null; lat: number | null }
interface MediaPage { media: MediaItem[]; next_cursor: string | null }

describe('media', () => {
  test('pages newest first; time, bbox, album and camera filters; one item with its copies and sidecar', async () => {
    const all = (await allPages<MediaPage>(server, '/v1/media?limit=1', keys.alice)).flatMap((p) => p.media);
    assert.deepEqual(new Set(all.map((m) => m.sha256)), new Set([sha(HARBOUR), sha(FOREST), sha(VIDEO)]));
    const dated = all.filter((m) => m.taken_at !== null).map((m) => Date.parse(m.taken_at!));
    assert.deepEqual(dated, [...dated].sort((a, b) => b - a));

    const ids = async (query: string) => (await get<MediaPage>(server, `/v1/media?${query}`, keys.alice)).body.media.map((m) => m.sha256).sort();
    assert.deepEqual(await ids('album=Harbour%20trip'), [sha(HARBOUR)]);
    assert.deepEqual(await ids('camera=canon'), [sha(FOREST)]);
    assert.deepEqual(await ids('bbox=7,43,8,44'), [sha(HARBOUR)]);
    assert.deepEqual(await ids('from=2023-06-10&to=2023-06-30'), [sha(FOREST)]);

    const one = await get(server, `/v1/media/${sha(HARBOUR).toUpperCase()}`, keys.alice);
    assert.equal(one.status, 200);
    assert.equal(one.body.item.description, 'lighthouse at the harbour of Nice');
    assert.equal(one.body.item.camera_model, 'Pixel 7');
    assert.deepEqual(one.body.copies.map((c: { folder: string; file_name: string }) => `${c.folder}/${c.file_name}`).sort(), [`${TRIP}/IMG_0001.jpg`, `${YEAR}/IMG_0001.jpg`].sort());
    assert.equal(one.body.sidecar?.description, 'lighthouse at the harbour of Nice');

    assert.equal((await get(server, `/v1/media/${sha(HARBOUR)}`, keys.bob)).status, 404);
    assert.deepEqual((await get<MediaPage>(server, '/v1/media', keys.bob)).body.media.map((m) => m.sha256), [sha(BOBS)]);
  });

  test('thumbnails: JPEG and WebP at the sizes offered, made once and then read from the cache', async () => {
    const cache = new Thumbnails(thumbnailsDirectory(t.lake.config.tiers.blobs), t.lake.blobs);
    const hash = sha(HARBOUR);
    assert.equal(await cache.cachedAt(hash, 256, 'jpeg'), null);
    const first = await fetch(`${server.url}/v1/media/${hash}/thumbnail?size=256`, { headers: { authorization: `Bearer ${keys.alice}` } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'image/jpeg');
    const bytes = Buffer.from(await first.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 256, 192]);
    const file = cache.pathFor(hash, 256, 'jpeg');
    assert.ok(file.startsWith(path.join(t.lake.config.dataDir, 'thumbnails')), file);
    const made = await stat(file);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await fetch(`${server.url}/v1/media/${hash}/thumbnail?size=256`, { headers: { authorization: `Bearer ${keys.alice}` } });
    assert.deepEqual(Buffer.from(await second.arrayBuffer()), bytes);
    assert.equal((await stat(file)).mtimeMs, made.mtimeMs, 'served from the cache, not made again');
    assert.equal((await stat(file)).ino, made.ino);

    const webp = await fetch(`${server.url}/v1/media/${hash}/thumbnail?size=1024&format=webp`, { headers: { authorization: `Bearer ${keys.alice}` } });
    assert.equal(webp.headers.get('content-type'), 'image/webp');
    const big = await sharp(Buffer.from(await webp.arrayBuffer())).metadata();
    assert.deepEqual([big.format, big.width, big.height], ['webp', 1024, 768]);
    // Smaller than the size asked: not enlarged.
    const small = await fetch(`${server.url}/v1/media/${sha(FOREST)}/thumbnail?size=1024`, { headers: { authorization: `Bearer ${keys.alice}` } });
    const smallMeta = await sharp(Buffer.from(await small.arrayBuffer())).metadata();
    assert.deepEqual([smallMeta.width, smallMeta.height], [300, 200]);

    const odd = await get(server, `/v1/media/${hash}/thumbnail?size=300`, keys.alice);
    assert.equal(odd.status, 400);
    assert.match(odd.body.error.message, /`size`/);
    const notHash = await get(server, '/v1/media/not-a-hash/thumbnail', keys.alice);
    assert.equal(notHash.status, 400);
    assert.match(notHash.body.error.message, /^`sha256` must be a SHA-256 in hex/);
    const video = await get(server, `/v1/media/${sha(VIDEO)}/thumbnail`, keys.alice);
    assert.equal(video.status, 415);
    assert.equal(video.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(video.body.error.message, /video\/mp4/);

    // Bob: not his photo, not even from the cache; his own works.
    const bob = await get(server, `/v1/media/${hash}/thumbnail?size=256`, keys.bob);
    assert.equal(bob.status, 404);
    assert.equal(bob.body.error.code, 'NOT_FOUND');
    assert.equal((await get(server, `/v1/media/${sha(VIDEO)}/thumbnail`, keys.bob)).status, 404, 'a video Bob does not hold: 404, not 415');
    assert.equal((await get(server, `/v1/media/${sha(BOBS)}/thumbnail`, keys.bob)).status, 200);
    assert.equal((await get(server, `/v1/media/${sha(BOBS)}/thumbnail`, keys.alice)).status, 404);

    // When the blob leaves the store, its thumbnails can go with it: every size and format.
    assert.equal(await cache.remove(sha(BOBS)), 1);
    assert.equal(await cache.cachedAt(sha(BOBS), 256, 'jpeg'), null);
    assert.equal(await cache.remove(sha(BOBS)), 0);
  });
});

describe('blobs', () => {
  async function blob(hash: string, key: string, range?: string) {
    const response = await fetch(`${server.url}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${key}`, ...(range ? { range } : {}) } });
    return { response, bytes: Buffer.from(await response.arrayBuffer()) };
  }

  test('the original bytes with type, length and ETag; ranges 206, beyond the end 416', async () => {
    const hash = sha(HARBOUR);
    const whole = await blob(hash, keys.alice);
    assert.equal(whole.response.status, 200);
    assert.deepEqual(whole.bytes, HARBOUR);
    assert.equal(whole.response.headers.get('content-type'), 'image/jpeg');
    assert.equal(whole.response.headers.get('content-length'), String(HARBOUR.length));
    assert.equal(whole.response.headers.get('etag'), `"${hash}"`);
    assert.equal(whole.response.headers.get('accept-ranges'), 'bytes');
    assert.equal(whole.response.headers.get('content-disposition'), null, 'a photo is shown, not downloaded');

    const head = await blob(hash, keys.alice, 'bytes=0-9');
    assert.equal(head.response.status, 206);
    assert.deepEqual(head.bytes, HARBOUR.subarray(0, 10));
    assert.equal(head.response.headers.get('content-range'), `bytes 0-9/${HARBOUR.length}`);
    assert.equal(head.response.headers.get('content-length'), '10');

    const tail = await blob(hash, keys.alice, 'bytes=-5');
    assert.equal(tail.response.status, 206);
    assert.deepEqual(tail.bytes, HARBOUR.subarray(HARBOUR.length - 5));
    assert.equal(tail.response.headers.get('content-range'), `bytes ${HARBOUR.length - 5}-${HARBOUR.length - 1}/${HARBOUR.length}`);

    const middle = await blob(hash, keys.alice, 'bytes=1000-');
    assert.deepEqual(middle.bytes, HARBOUR.subarray(1000));
    const across = await blob(hash, keys.alice, `bytes=100-${HARBOUR.length + 50}`);
    assert.deepEqual(across.bytes, HARBOUR.subarray(100));

    const beyond = await blob(hash, keys.alice, `bytes=${HARBOUR.length}-`);
    assert.equal(beyond.response.status, 416);
    assert.equal(beyond.response.headers.get('content-range'), `bytes */${HARBOUR.length}`);
    assert.equal(JSON.parse(beyond.bytes.toString()).error.code, 'RANGE_NOT_SATISFIABLE');

    // Several ranges, or a reversed one: ignored, the whole file (RFC 9110 §14.2 allows it).
    for (const ignored of ['bytes=0-1,5-6', 'bytes=9-2', 'items=0-5']) {
      const reply = await blob(hash, keys.alice, ignored);
      assert.equal(reply.response.status, 200, ignored);
      assert.deepEqual(reply.bytes, HARBOUR);
    }

    const cached = await fetch(`${server.url}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${keys.alice}`, 'if-none-match': `"${hash}"` } });
    assert.equal(cached.status, 304);
  });

  test('a compressed tier: ranges cut from the decompressed stream', async () => {
    const hash = sha(FOREST);
    await t.lake.blobs.move(hash, 'cold');
    const tail = await blob(hash, keys.alice, 'bytes=-5');
    assert.deepEqual(tail.bytes, FOREST.subarray(FOREST.length - 5));
    const part = await blob(hash, keys.alice, 'bytes=200-299');
    assert.deepEqual(part.bytes, FOREST.subarray(200, 300));
    const whole = await blob(hash, keys.alice);
    assert.deepEqual(whole.bytes, FOREST);
  });

  test("another user's blob and one that does not exist: the same 404, ranges or not", async () => {
    for (const [hash, key] of [[sha(HARBOUR), keys.bob], [sha(BOBS), keys.alice], ['ab'.repeat(32), keys.alice]] as const) {
      for (const range of [undefined, 'bytes=0-9', 'bytes=99999999-']) {
        const reply = await blob(hash, key, range);
        assert.equal(reply.response.status, 404, `${hash} ${range}`);
        assert.equal(JSON.parse(reply.bytes.toString()).error.code, 'NOT_FOUND');
      }
    }
  });
});

describe('documents, measurements, contacts, calendar', () => {
  test('documents: paged, by words and kind; their bytes are blobs', async () => {
    const all = (await allPages<{ documents: { id: string; sha256: string; kind: string; title: string | null; path: string }[]; next_cursor: string | null }>(server, '/v1/documents?limit=1', keys.alice)).flatMap((p) => p.documents);
    assert.deepEqual(all.map((d) => d.kind).sort(), ['csv', 'pdf']);
    const found = await get(server, '/v1/documents?q=keeper%20rota', keys.alice);
    assert.deepEqual(found.body.documents.map((d: { kind: string }) => d.kind), ['pdf']);
    assert.deepEqual((await get(server, '/v1/documents?kinds=csv', keys.alice)).body.documents.map((d: { kind: string }) => d.kind), ['csv']);
    const wrong = await get(server, '/v1/documents?kinds=spreadsheet', keys.alice);
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error.message, /pdf, docx, csv, json, text, other/);
    assert.equal((await get(server, '/v1/documents?from=2999-01-01', keys.alice)).body.documents.length, 0);
    assert.equal((await get(server, '/v1/documents', keys.bob)).body.documents.length, 0);
  });

  test("a stored web page is a sandboxed download: no script of it runs in the console's origin", async () => {
    const carol = path.join(work, 'carol');
    const page = '<!doctype html><title>saved page</title><script>sessionStorage.clear()</script><p>lighthouse opening hours</p>';
    await put(carol, 'Takeout/Drive/opening-hours.html', page);
    const { userId } = await createUser(t.lake.db, 'read-carol');
    await runImport(t.lake.db, { userId, inputs: [carol], batchSize: 50, blobs: t.lake.blobs });
    const key = (await createApiKey(t.lake.db, 'read-carol')).key;
    const [document] = (await get<{ documents: { sha256: string }[] }>(server, '/v1/documents', key)).body.documents;
    assert.ok(document, 'the page is a document');
    const bytes = await fetch(`${server.url}/v1/blobs/${document.sha256}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(bytes.status, 200);
    assert.equal(await bytes.text(), page);
    assert.match(bytes.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(bytes.headers.get('content-disposition'), 'attachment');
    assert.match(bytes.headers.get('content-security-policy') ?? '', /^default-src 'none';.*; sandbox$/);
    assert.equal(bytes.headers.get('x-content-type-options'), 'nosniff');
  });

  test('measurements: raw readings paged; hourly and daily buckets aggregate them exactly', async () => {
    const raw = (await allPages<{ readings: { id: string; measured_at: string; metric: string; value: number; unit: string }[]; next_cursor: string | null }>(server, '/v1/measurements?limit=7', keys.alice)).flatMap((p) => p.readings);
    assert.ok(raw.length > 10, `readings: ${raw.length}`);
    assert.equal(new Set(raw.map((r) => r.id)).size, raw.length);
    const metrics = [...new Set(raw.map((r) => r.metric))];
    let checked = 0;
    for (const metric of metrics) {
      const readings = raw.filter((r) => r.metric === metric);
      for (const bucket of ['hour', 'day'] as const) {
        const expected = new Map<string, number[]>();
        for (const r of readings) {
          const at = new Date(r.measured_at);
          if (bucket === 'hour') at.setUTCMinutes(0, 0, 0);
          else at.setUTCHours(0, 0, 0, 0);
          const key = `${at.toISOString()} ${r.unit}`;
          expected.set(key, [...(expected.get(key) ?? []), r.value]);
        }
        const pages = await allPages<{ buckets: { bucket: string; unit: string; count: number; min: number; max: number; avg: number }[]; next_cursor: string | null }>(
          server, `/v1/measurements?metric=${encodeURIComponent(metric)}&bucket=${bucket}&limit=2`, keys.alice,
        );
        const buckets = pages.flatMap((p) => p.buckets);
        assert.deepEqual(buckets.map((b) => `${b.bucket} ${b.unit}`), [...expected.keys()].sort(), `${metric} by ${bucket}`);
        for (const b of buckets) {
          const values = expected.get(`${b.bucket} ${b.unit}`)!;
          assert.equal(b.count, values.length);
          assert.equal(b.min, Math.min(...values));
          assert.equal(b.max, Math.max(...values));
          assert.ok(Math.abs(b.avg - values.reduce((s, v) => s + v, 0) / values.length) < 1e-9);
          checked++;
        }
      }
    }
    assert.ok(checked > 10, `buckets checked: ${checked}`);
    // A day with several readings of one metric is one row, not several.
    const steps = raw.filter((r) => r.metric === metrics.find((m) => raw.filter((r2) => r2.metric === m).length > 2));
    assert.ok(steps.length > 2);

    const missing = await get(server, '/v1/measurements?bucket=day', keys.alice);
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /`metric` is required/);
    assert.equal((await get(server, '/v1/measurements?bucket=week&metric=x', keys.alice)).status, 400);
    assert.equal((await get(server, '/v1/measurements', keys.bob)).body.readings.length, 0);
  });

  test('contacts in name order, found by name, e-mail or phone; events overlapping a range', async () => {
    const contacts = (await allPages<{ contacts: { full_name: string | null; emails: string[] }[]; next_cursor: string | null }>(server, '/v1/contacts?limit=1', keys.alice)).flatMap((p) => p.contacts);
    assert.ok(contacts.length >= 2);
    const names = contacts.map((c) => c.full_name ?? '');
    assert.deepEqual(names, [...names].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))));
    assert.deepEqual((await get(server, '/v1/contacts?q=COUNTESS@', keys.alice)).body.contacts.map((c: { full_name: string }) => c.full_name), ['Ada Lovelace']);
    assert.deepEqual((await get(server, '/v1/contacts?q=7946%200001', keys.alice)).body.contacts.map((c: { full_name: string }) => c.full_name), ['Ada Lovelace']);
    assert.equal((await get(server, '/v1/contacts', keys.bob)).body.contacts.length, 0);

    const events = (await allPages<{ events: { summary: string | null; starts_at: string; ends_at: string | null }[]; next_cursor: string | null }>(server, '/v1/calendar/events?limit=1', keys.alice)).flatMap((p) => p.events);
    const starts = events.map((e) => Date.parse(e.starts_at));
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b));
    const may = await get(server, '/v1/calendar/events?from=2024-05-01T12:00:00Z&to=2024-05-02', keys.alice);
    assert.deepEqual(may.body.events.map((e: { summary: string }) => e.summary), ['Labour Day'], 'an all-day event still going on at noon');
    assert.equal((await get(server, '/v1/calendar/events', keys.bob)).body.events.length, 0);
  });
});

interface TimelineItem { item_id: string; occurred_at: string; kind: string; title: string | null; body: string | null; link: string | null; attributes: Record<string, unknown> }
interface TimelinePage { items: TimelineItem[]; next_cursor: string | null }

describe('timeline and search: photos, mail, documents and measurements as kinds of their own', () => {
  test('the timeline holds every kind, in time order over all tables, once across pages', async () => {
    const items = (await allPages<TimelinePage>(server, '/v1/timeline?kinds=all&limit=7', keys.alice)).flatMap((p) => p.items);
    const byKind = new Map<string, TimelineItem[]>();
    for (const item of items) byKind.set(item.kind, [...(byKind.get(item.kind) ?? []), item]);
    const messages = (await allPages<MessagesPage>(server, '/v1/messages?limit=100', keys.alice)).flatMap((p) => p.messages);
    const readings = (await allPages<{ readings: { id: string }[]; next_cursor: string | null }>(server, '/v1/measurements?limit=1000', keys.alice)).flatMap((p) => p.readings);
    assert.deepEqual(new Set(byKind.get('mail')?.map((i) => i.item_id)), new Set(messages.map((m) => m.id)));
    assert.deepEqual(new Set(byKind.get('measurement')?.map((i) => i.item_id)), new Set(readings.map((r) => r.id)));
    assert.deepEqual(byKind.get('photo')?.map((i) => i.item_id).sort(), [sha(HARBOUR), sha(FOREST)].sort());
    assert.equal(byKind.get('document')?.length, 2);
    assert.equal(new Set(items.map((i) => `${i.kind} ${i.item_id}`)).size, items.length, 'no entry twice across pages');
    const times = items.map((i) => Date.parse(i.occurred_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));

    const harbour = byKind.get('photo')!.find((i) => i.item_id === sha(HARBOUR))!;
    assert.equal(harbour.occurred_at, new Date(HARBOUR_TAKEN * 1000).toISOString());
    assert.equal(harbour.body, 'lighthouse at the harbour of Nice');
    assert.equal(harbour.link, `/v1/media/${sha(HARBOUR)}`);
    const mail = byKind.get('mail')![0]!;
    assert.equal(mail.link, `/v1/messages/${mail.item_id}`);
    assert.equal((await get(server, mail.link!, keys.alice)).status, 200);

    // Only some kinds, oldest first, the video (which has a time from its own metadata) among them.
    const chosen = (await allPages<TimelinePage>(server, '/v1/timeline?kinds=photo,video,document&order=asc&limit=2', keys.alice)).flatMap((p) => p.items);
    assert.deepEqual(chosen.map((i) => i.kind).sort(), ['document', 'document', 'photo', 'photo', 'video']);
    const ascending = chosen.map((i) => Date.parse(i.occurred_at));
    assert.deepEqual(ascending, [...ascending].sort((a, b) => a - b));
    // Words: photo descriptions, mail, documents; measurements left out.
    const words = await get<TimelinePage>(server, '/v1/timeline?q=lighthouse&kinds=all', keys.alice);
    assert.deepEqual(words.body.items.map((i) => i.kind).sort(), ['document', 'photo']);
    // Time range over the typed tables.
    const june = await get<TimelinePage>(server, '/v1/timeline?from=2023-06-10&to=2023-06-30&kinds=all', keys.alice);
    assert.deepEqual(june.body.items.map((i) => i.item_id), [sha(FOREST)]);

    const wrong = await get(server, '/v1/timeline?kinds=photo,photos', keys.alice);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.code, 'INVALID_REQUEST');
    assert.match(wrong.body.error.message, /"photos" is not a kind of the timeline: one of .*page_visit.*photo, video, mail, document, measurement, or all/);

    // Without kinds, the items alone, as before the typed kinds joined the timeline.
    const plain = (await allPages<TimelinePage>(server, '/v1/timeline?limit=1000', keys.alice)).flatMap((p) => p.items);
    assert.deepEqual(plain.filter((i) => ['photo', 'video', 'mail', 'document', 'measurement'].includes(i.kind)), []);
    assert.deepEqual(plain.map((i) => i.item_id), items.filter((i) => !['photo', 'video', 'mail', 'document', 'measurement'].includes(i.kind)).map((i) => i.item_id));

    const bob = (await allPages<TimelinePage>(server, '/v1/timeline?kinds=all', keys.bob)).flatMap((p) => p.items);
    assert.deepEqual(bob.map((i) => [i.kind, i.item_id]), [['photo', sha(BOBS)]]);
  });

  test('search finds photos by description and album place, mail by subject with typos, metrics by name', async () => {
    const photos = await get(server, '/v1/search?q=lighthouse&types=photos', keys.alice);
    assert.equal(photos.status, 200, photos.text);
    assert.deepEqual(photos.body.results.map((r: { id: string }) => r.id), [sha(HARBOUR)]);
    const forest = await get(server, '/v1/search?q=black%20forest', keys.alice);
    assert.equal(forest.body.results[0]?.type, 'photos');
    assert.equal(forest.body.results[0]?.id, sha(FOREST));
    const album = await get(server, '/v1/search?q=harbour%20trip&types=photos', keys.alice);
    assert.deepEqual(album.body.results.map((r: { id: string }) => r.id), [sha(HARBOUR)]);
    // The place its album's metadata names.
    const place = await get(server, '/v1/search?q=riviera', keys.alice);
    assert.deepEqual(place.body.results.map((r: { type: string; id: string }) => [r.type, r.id]), [['photos', sha(HARBOUR)]]);

    const mail = await get(server, '/v1/search?q=broken&types=messages', keys.alice);
    assert.deepEqual(mail.body.results.map((r: { title: string }) => r.title), ['Broken boundary']);
    if (t.lake.profile.features.fuzzy_search.enabled) {
      const typo = await get(server, '/v1/search?q=boundry&types=messages', keys.alice);
      assert.equal(typo.body.results[0]?.title, 'Broken boundary');
      assert.equal(typo.body.results[0]?.fulltext, false);
    }

    const metrics = (await allPages<{ readings: { metric: string }[]; next_cursor: string | null }>(server, '/v1/measurements?limit=1000', keys.alice)).flatMap((p) => p.readings.map((r) => r.metric));
    const metric = metrics.find((m) => /step/i.test(m))!;
    assert.ok(metric, `a step metric among ${[...new Set(metrics)].join(', ')}`);
    const steps = await get(server, '/v1/search?q=steps&types=measurements', keys.alice);
    assert.ok(steps.body.results.some((r: { id: string }) => r.id === metric), JSON.stringify(steps.body.results));

    const wrong = await get(server, '/v1/search?q=x&types=photo', keys.alice);
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error.message, /one of items, messages, places, contacts, events, documents, photos, measurements/);
    assert.deepEqual((await get(server, '/v1/search?q=lighthouse', keys.bob)).body.results.map((r: { id: string }) => r.id), [sha(BOBS)]);
  });
});

describe('the OpenAPI document', () => {
  test('lists every new path', async () => {
    const doc = await get(server, '/openapi.json');
    for (const route of ['/v1/messages', '/v1/messages/{id}', '/v1/media', '/v1/media/{sha256}', '/v1/media/{sha256}/thumbnail', '/v1/blobs/{sha256}', '/v1/documents', '/v1/measurements', '/v1/contacts', '/v1/calendar/events']) {
      assert.ok(doc.body.paths[route]?.get, route);
    }
  });
});
