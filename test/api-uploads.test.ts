// Resumable uploads (tus 1.0 at /v1/uploads) over real HTTP on both backends: the official tus
// JavaScript client uploads a generated file in chunks, the server cuts its connection mid-way, a
// new client resumes from the URL it stored and the stored file is byte-identical; then the bad
// input: an offset that does not match (409), a checksum that does not match (refused, deleted,
// not importable), a body over the limit (413), an expired upload (410), ids with `..` (404),
// another user's upload (404), no key (401), and two writers at once.
//
// LAKE_TEST_TUS_BYTES sets the generated file's size (default 64 MiB; run it at 3 GiB by hand:
// LAKE_TEST_TUS_BYTES=3221225472).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as tus from 'tus-js-client';
import { Upload, type UrlStorage } from 'tus-js-client';
import { DISK_RESERVE_BYTES, freeBytes, MIB } from '../src/disk-space.js';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { buildServer } from '../src/api/server.js';
import { get, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';
import { waitUntil } from './support/wait.js';
import { create, head, metadata, patch, sha256, TUS } from './support/tus.js';

// The Node build exports FileUrlStorage (URLs kept in a JSON file); its type declarations do not.
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (file: string) => UrlStorage };

const TUS_BYTES = Number(process.env.LAKE_TEST_TUS_BYTES ?? 64 * 1024 * 1024);
const CHUNK = 8 * 1024 * 1024;

let t: TestLake;
let server: TestServer;
let work: string;
let aliceKey: string;
let bobKey: string;

before(async () => {
  t = await openTestLake();
  await createUser(t.lake.db, 'alice');
  await createUser(t.lake.db, 'bob');
  aliceKey = (await createApiKey(t.lake.db, 'alice')).key;
  bobKey = (await createApiKey(t.lake.db, 'bob')).key;
  server = await startTestServer(t.lake);
  work = await mkdtemp(path.join(os.tmpdir(), 'lake-tus-'));
});
after(async () => {
  await server?.close();
  await t?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  body: string;
}

/** A request whose path is sent exactly as given (fetch would normalize `..`, `//` and `%2F`). */
function rawRequest(method: string, rawPath: string, key: string | null, patchBody: { offset?: number; body?: Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: rawPath,
        agent: false,
        headers: {
          ...TUS,
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(patchBody.body
            ? { 'upload-offset': String(patchBody.offset ?? 0), 'content-type': 'application/offset+octet-stream', 'content-length': String(patchBody.body.length) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(patchBody.body);
  });
}

/** A file of random bytes, written in 1 MiB pieces (never whole in memory), and its SHA-256. */
async function randomFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  for (let written = 0; written < size; ) {
    const piece = randomBytes(Math.min(1024 * 1024, size - written));
    hash.update(piece);
    written += piece.length;
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Run a tus-js-client upload to its end (resolve) or its first error (reject). */
function run(upload: Upload): Promise<void> {
  return new Promise((resolve, reject) => {
    upload.options.onSuccess = () => resolve();
    upload.options.onError = (error) => reject(error);
    upload.start();
  });
}

describe('the official tus client', () => {
  test(`a ${TUS_BYTES} byte file in ${CHUNK} byte chunks, cut mid-way by the server, resumed from the stored URL: byte-identical`, { timeout: 30 * 60_000 }, async () => {
    const file = path.join(work, 'takeout-20240101T000000Z-001.zip');
    const digest = await randomFile(file, TUS_BYTES);
    const urlStorage = new FileUrlStorage(path.join(work, 'tus-urls.json'));
    const options = {
      endpoint: `${server.url}/v1/uploads`,
      headers: { authorization: `Bearer ${aliceKey}` },
      chunkSize: CHUNK,
      metadata: { filename: path.basename(file), sha256: digest },
      urlStorage,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      retryDelays: null, // the cut must reach the test, not be retried inside this client
    };

    // The server cuts the connection once a little over 40% of the file has come in.
    const cutAfter = Math.floor(TUS_BYTES * 0.4) + 12_345;
    let received = 0;
    let cuts = 0;
    const onConnection = (socket: import('node:net').Socket) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (cuts === 0 && received > cutAfter) {
          cuts++;
          socket.destroy();
        }
      });
    };
    server.app.server.on('connection', onConnection);
    const first = new Upload(createReadStream(file), options);
    await assert.rejects(run(first), 'the cut ends the first client with an error');
    server.app.server.off('connection', onConnection);
    assert.equal(cuts, 1);
    assert.ok(first.url, 'the upload was created before the cut');

    const id = first.url!.split('/').at(-1)!;
    const offset = (await head(server, aliceKey, id)).offset!;
    assert.ok(offset > 0 && offset < TUS_BYTES, `part of the file is stored: offset ${offset}`);

    // A new client (as after a restart) finds the upload by the file's fingerprint and resumes.
    const second = new Upload(createReadStream(file), { ...options, retryDelays: [0, 1000] });
    const previous = await second.findPreviousUploads();
    assert.equal(previous.length, 1, 'the first client stored the upload URL');
    second.resumeFromPreviousUpload(previous[0]!);
    let firstProgress: number | null = null;
    second.options.onProgress = (sent) => {
      firstProgress ??= sent;
    };
    await run(second);
    assert.equal(second.url, first.url, 'the same upload, resumed');
    assert.ok(firstProgress === null || firstProgress >= offset, `resumed at ${offset}, not from the start`);

    const stored = path.join(t.config.uploadDir, id);
    assert.equal((await stat(stored)).size, TUS_BYTES);
    assert.equal(await fileSha256(stored), digest, 'the stored file is byte-identical');
    const state = await get(server, `/v1/uploads/${id}`, aliceKey);
    assert.equal(state.status, 200);
    assert.deepEqual(
      { status: state.body.status, size: state.body.size_bytes, offset: state.body.offset_bytes, sha256: state.body.sha256, filename: state.body.filename },
      { status: 'verified', size: TUS_BYTES, offset: TUS_BYTES, sha256: digest, filename: path.basename(file) },
    );
    await rm(file);
  });
});

describe('bad input', () => {
  test('creation needs the SHA-256 of the whole file and a length, and is refused over the size limit (413)', async () => {
    const noChecksum = await create(server, aliceKey, 10, { filename: 'a.json' });
    assert.equal(noChecksum.status, 400);
    assert.equal(JSON.parse(noChecksum.body).error.code, 'INVALID_REQUEST');
    assert.match(JSON.parse(noChecksum.body).error.message, /sha256/);
    const badChecksum = await create(server, aliceKey, 10, { filename: 'a.json', sha256: 'abc' });
    assert.equal(badChecksum.status, 400);

    const deferred = await fetch(`${server.url}/v1/uploads`, {
      method: 'POST',
      headers: { ...TUS, authorization: `Bearer ${aliceKey}`, 'upload-defer-length': '1', 'upload-metadata': `sha256 ${Buffer.from(sha256('x')).toString('base64')}` },
    });
    assert.equal(deferred.status, 400, 'uploads of unknown length are not accepted');

    const tooLarge = await create(server, aliceKey, t.config.uploadMaxBytes + 1, { filename: 'big.zip', sha256: sha256('x') });
    assert.equal(tooLarge.status, 413);
    assert.equal(JSON.parse(tooLarge.body).error.code, 'PAYLOAD_TOO_LARGE');
  });

  test('a body past the declared length is refused (413) and nothing of it is kept', async () => {
    const data = Buffer.from('0123456789');
    const created = await create(server, aliceKey, data.length, { filename: 'ten.txt', sha256: sha256(data) });
    const over = await patch(server, aliceKey, created.id!, 0, Buffer.concat([data, Buffer.from('overflow')]));
    assert.equal(over.status, 413);
    assert.equal(JSON.parse(over.body).error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal((await head(server, aliceKey, created.id!)).offset, 0);
  });

  test('an offset that does not match the stored bytes: 409 CONFLICT, the upload unchanged', async () => {
    const data = Buffer.from('hello, resumable world');
    const created = await create(server, aliceKey, data.length, { filename: 'hello.txt', sha256: sha256(data) });
    assert.equal(created.status, 201);
    assert.match(created.id!, /^[0-9a-f-]{36}$/, 'the server makes the id');
    const first = await patch(server, aliceKey, created.id!, 0, data.subarray(0, 5));
    assert.deepEqual([first.status, first.offset], [204, 5]);
    for (const wrong of [0, 3, 9]) {
      const conflict = await patch(server, aliceKey, created.id!, wrong, data.subarray(wrong));
      assert.equal(conflict.status, 409, `offset ${wrong}`);
      assert.equal(JSON.parse(conflict.body).error.code, 'CONFLICT');
    }
    assert.equal((await head(server, aliceKey, created.id!)).offset, 5);
    const rest = await patch(server, aliceKey, created.id!, 5, data.subarray(5));
    assert.deepEqual([rest.status, rest.offset], [204, data.length]);
    assert.deepEqual(await readFile(path.join(t.config.uploadDir, created.id!)), data);
    assert.equal((await get(server, `/v1/uploads/${created.id}`, aliceKey)).body.status, 'verified');
  });

  test('a checksum that does not match: 460 CHECKSUM_MISMATCH, the upload refused and deleted, no job can import it', async () => {
    const data = Buffer.from('{"locations": []}');
    const created = await create(server, aliceKey, data.length, { filename: 'Records.json', sha256: sha256('something else') });
    const last = await patch(server, aliceKey, created.id!, 0, data);
    assert.equal(last.status, 460);
    const error = JSON.parse(last.body).error;
    assert.equal(error.code, 'CHECKSUM_MISMATCH');
    assert.match(error.message, new RegExp(`${sha256(data)}.*not the declared ${sha256('something else')}`));
    assert.equal(existsSync(path.join(t.config.uploadDir, created.id!)), false, 'the bytes are deleted');
    assert.equal((await head(server, aliceKey, created.id!)).status, 410);
    const state = await get(server, `/v1/uploads/${created.id}`, aliceKey);
    assert.deepEqual([state.status, state.body.status], [200, 'refused']);

    const job = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ upload_id: created.id }),
    });
    assert.equal(job.status, 409);
    assert.equal(((await job.json()) as { error: { code: string } }).error.code, 'CONFLICT');
    const jobs = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM imports.jobs WHERE upload_id = $1`, [created.id]);
    assert.equal(jobs.rows[0]!.n, 0, 'nothing is imported');
  });

  test('an upload whose bytes are gone by the time its job runs: the job fails naming the upload, not a path on the server', async () => {
    const data = Buffer.from('{"locations": []}');
    const created = await create(server, aliceKey, data.length, { filename: 'Records.json', sha256: sha256(data) });
    assert.equal((await patch(server, aliceKey, created.id!, 0, data)).status, 204);
    // Gone from the disk (an operator's cleanup, a disk replaced) while the row says verified.
    await rm(path.join(t.config.uploadDir, created.id!));
    const posted = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ upload_id: created.id }),
    });
    assert.equal(posted.status, 201, await posted.clone().text());
    const { job_id: jobId } = (await posted.json()) as { job_id: string };
    const job = await waitUntil(
      async () => (await get(server, `/v1/jobs/${jobId}`, aliceKey)).body as { status: string; error: string | null },
      (now) => now.status === 'failed',
      { intervalMs: 100 },
    );
    assert.equal(job.error, `upload ${created.id} (Records.json): its bytes are no longer on the server; upload the file again`);
    const report = await get(server, `/v1/jobs/${jobId}/report`, aliceKey);
    assert.equal(report.body.error, job.error);
    for (const text of [job.error!, report.text]) {
      assert.ok(!text.includes(t.config.uploadDir) && !text.includes(os.tmpdir()), `no server path: ${text}`);
      assert.doesNotMatch(text, /ENOENT|link '/);
    }
  });

  test('an upload not finished in time expires: 410 GONE, its bytes deleted', async () => {
    // A second server on the same lake whose uploads live one second.
    const app = await buildServer(t.lake, { uploads: { ttlMs: 1000 } });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const short = { app, url, close: () => app.close() } satisfies TestServer;
    try {
      const data = Buffer.from('expiring bytes');
      const created = await create(short, aliceKey, data.length, { filename: 'x.txt', sha256: sha256(data) });
      assert.equal((await patch(short, aliceKey, created.id!, 0, data.subarray(0, 4))).status, 204);
      await new Promise((resolve) => setTimeout(resolve, 1300));
      const late = await patch(short, aliceKey, created.id!, 4, data.subarray(4));
      assert.equal(late.status, 410);
      assert.equal(JSON.parse(late.body).error.code, 'GONE');
      assert.equal((await head(short, aliceKey, created.id!)).status, 410);
      assert.equal(existsSync(path.join(t.config.uploadDir, created.id!)), false);
      assert.equal((await get(short, `/v1/uploads/${created.id}`, aliceKey)).body.status, 'expired');

      // The sweep deletes expired uploads nobody asks about again.
      const forgotten = await create(short, aliceKey, data.length, { filename: 'y.txt', sha256: sha256(data) });
      // Swept when its row says so (the bytes go first).
      const status = await waitUntil(
        async () => (await t.lake.db.query<{ status: string }>(`SELECT status FROM imports.uploads WHERE upload_id = $1`, [forgotten.id])).rows[0]!.status,
        (now) => now === 'expired',
        { intervalMs: 100 },
      );
      assert.equal(existsSync(path.join(t.config.uploadDir, forgotten.id!)), false, 'swept');
      assert.equal(status, 'expired');
    } finally {
      await short.close();
    }
  });

  test('a chunked PATCH (no Content-Length) for an upload whose remaining length does not fit on the disk: 507 before a byte is written', async () => {
    // A second server on the same lake whose size limit lets an upload declare more than the disk holds.
    const app = await buildServer(t.lake, { uploads: { maxBytes: Number.MAX_SAFE_INTEGER } });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const big = { app, url, close: () => app.close() } satisfies TestServer;
    try {
      const free = freeBytes(t.config.uploadDir)!;
      const size = free + 64 * 1024 ** 3;
      const created = await create(big, aliceKey, size, { filename: 'huge.zip', sha256: sha256('never sent') });
      assert.equal(created.status, 201, created.body);
      // The client sends 1 MiB and waits for the answer (an early answer closes the connection).
      let answered = () => {};
      const answer = new Promise<void>((resolve) => (answered = resolve));
      const sent = await patch(big, aliceKey, created.id!, 0, Readable.from((async function* () {
        yield Buffer.alloc(1024 * 1024);
        await Promise.race([answer, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
      })())).finally(answered);
      assert.equal(sent.status, 507, sent.body);
      const error = (JSON.parse(sent.body) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'DISK_FULL');
      const needed = ((size + DISK_RESERVE_BYTES) / MIB).toFixed(1);
      assert.ok(error.message.includes(`${needed} MiB needed`), error.message);
      assert.equal((await head(big, aliceKey, created.id!)).offset, 0);
      assert.equal((await stat(path.join(t.config.uploadDir, created.id!))).size, 0);
      // A PATCH whose Content-Length fits is still let through on the same upload (the smaller of the two counts).
      const small = Buffer.from('first bytes');
      const fits = await patch(big, aliceKey, created.id!, 0, small);
      assert.equal(fits.status, 204, fits.body);
      assert.equal(fits.offset, small.length);
      assert.equal((await fetch(`${big.url}/v1/uploads/${created.id}`, { method: 'DELETE', headers: { ...TUS, authorization: `Bearer ${aliceKey}` } })).status, 204);
    } finally {
      await big.close();
    }
  });

  test('upload ids with `..` or that are not server ids: 404, nothing outside the upload directory touched', async () => {
    const raw = async (method: string, rawPath: string) =>
      (await rawRequest(method, rawPath, aliceKey, method === 'PATCH' ? { offset: 0, body: Buffer.from('abc') } : {})).status;
    for (const method of ['HEAD', 'PATCH', 'DELETE', 'GET']) {
      for (const id of ['..', '..%2F..%2Fhot', '%2E%2E', '..%5C..%5Cx', 'not-an-id', `${'0'.repeat(8)}-0000-0000-0000-000000000000.json`]) {
        const status = await raw(method, `/v1/uploads/${id}`);
        assert.equal(status, 404, `${method} /v1/uploads/${id}`);
      }
    }
    assert.equal(existsSync(path.join(t.config.uploadDir, '..', 'abc')), false);
  });

  test("another user's upload is a 404 on every method; no key is a 401", async () => {
    const data = Buffer.from('alice only');
    const created = await create(server, aliceKey, data.length, { filename: 'a.txt', sha256: sha256(data) });
    assert.equal((await patch(server, aliceKey, created.id!, 0, data.subarray(0, 3))).status, 204);
    assert.equal((await head(server, bobKey, created.id!)).status, 404);
    assert.equal((await patch(server, bobKey, created.id!, 3, data.subarray(3))).status, 404);
    const bobDelete = await fetch(`${server.url}/v1/uploads/${created.id}`, { method: 'DELETE', headers: { ...TUS, authorization: `Bearer ${bobKey}` } });
    assert.equal(bobDelete.status, 404);
    assert.equal((await get(server, `/v1/uploads/${created.id}`, bobKey)).status, 404);
    assert.equal((await head(server, aliceKey, created.id!)).offset, 3, "bob changed nothing of alice's upload");

    assert.equal((await create(server, null, 10, { sha256: sha256('x') })).status, 401);
    assert.equal((await head(server, null, created.id!)).status, 401);
    assert.equal((await patch(server, null, created.id!, 3, data.subarray(3))).status, 401);
  });

  test("another user's upload cannot be reached through anything after one's own id: query strings, more segments, encoded or doubled slashes", async () => {
    const secret = Buffer.from('alice secret bytes');
    const alice = await create(server, aliceKey, secret.length, { filename: 'alice-private.txt', sha256: sha256(secret) });
    assert.equal((await patch(server, aliceKey, alice.id!, 0, secret.subarray(0, 5))).status, 204);
    const mine = Buffer.from('bob bytes');
    const bob = await create(server, bobKey, mine.length, { filename: 'bob.txt', sha256: sha256(mine) });
    const A = alice.id!;
    const B = bob.id!;
    const variants = [
      `/v1/uploads/${B}?x=/${A}`,
      `/v1/uploads/${B}?x=%2F${A}`,
      `/v1/uploads/${B}?/${A}`,
      `/v1/uploads/${B}/${A}`,
      `/v1/uploads/${B}%2F${A}`,
      `/v1/uploads/${B}%2f${A}`,
      `/v1/uploads/${B}//${A}`,
      `/v1/uploads/${B};/${A}`,
      `/v1/uploads/${B}/../${A}`,
      `/v1/uploads//${A}`,
      `/v1/uploads/x/${A}`,
      `/v1/uploads?x=/${A}`,
    ];
    const aliceUntouched = async (context: string) => {
      assert.equal((await head(server, aliceKey, A)).offset, 5, `${context}: alice's offset unchanged`);
      assert.deepEqual(await readFile(path.join(t.config.uploadDir, A)), secret.subarray(0, 5), `${context}: alice's bytes unchanged`);
      const row = await t.lake.db.query<{ status: string }>(`SELECT status FROM imports.uploads WHERE upload_id = $1`, [A]);
      assert.equal(row.rows[0]!.status, 'uploading', `${context}: alice's row unchanged`);
    };
    for (const variant of variants) {
      for (const method of ['HEAD', 'GET', 'PATCH', 'DELETE', 'POST']) {
        const context = `${method} ${variant}`;
        const response = await rawRequest(method, variant, bobKey, method === 'PATCH' ? { offset: 5, body: Buffer.from('EVIL') } : {});
        // Nothing of alice's upload in the answer: not its metadata (base64 in Upload-Metadata), length, offset or row.
        const seen = `${JSON.stringify(response.headers)} ${response.body}`;
        for (const secretText of ['alice-private', Buffer.from('alice-private.txt').toString('base64'), sha256(secret)]) {
          assert.ok(!seen.includes(secretText), `${context}: answered ${response.status} with alice's upload: ${seen}`);
        }
        if (response.headers['upload-length'] !== undefined) assert.equal(response.headers['upload-length'], String(mine.length), context);
        if (response.status === 200 && method === 'GET') assert.equal(JSON.parse(response.body).upload_id, B, context);
        assert.ok(response.status !== 200 || method === 'GET' || method === 'HEAD', `${context}: ${response.status}`);
        await aliceUntouched(context);
      }
    }
    // Bob's own upload (a new one: the DELETEs above removed his first), reached with anything after its id, is still only bob's.
    const again = (await create(server, bobKey, mine.length, { filename: 'bob.txt', sha256: sha256(mine) })).id!;
    const sent = await rawRequest('PATCH', `/v1/uploads/${again}?x=/${A}`, bobKey, { offset: 0, body: mine });
    assert.equal(sent.status, 204, `bob's own PATCH: ${sent.body}`);
    assert.deepEqual(await readFile(path.join(t.config.uploadDir, again)), mine);
    await aliceUntouched('after bob finished his own upload');
  });

  test('tus discovery: OPTIONS /v1/uploads answers Tus-Version, Tus-Extension and Tus-Max-Size, without a key', async () => {
    const response = await fetch(`${server.url}/v1/uploads`, { method: 'OPTIONS' });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('tus-version'), '1.0.0');
    const extensions = response.headers.get('tus-extension')!.split(',');
    for (const extension of ['creation', 'termination', 'expiration']) assert.ok(extensions.includes(extension), extension);
    assert.ok(!extensions.includes('creation-defer-length'), 'every upload must declare its length');
    assert.equal(response.headers.get('tus-max-size'), String(t.config.uploadMaxBytes));
    // No origin but the lake's own may read the answers (tus's default is any origin).
    const foreign = await fetch(`${server.url}/v1/uploads`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    const created = await fetch(`${server.url}/v1/uploads`, {
      method: 'POST',
      headers: { ...TUS, authorization: `Bearer ${aliceKey}`, origin: 'https://evil.example', 'upload-length': '3', 'upload-metadata': metadata({ filename: 'cors.txt', sha256: sha256('abc') }) },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('access-control-allow-origin'), null);
  });

  test('upload requests are in the access log of their user, with their status', async () => {
    const created = await create(server, aliceKey, 3, { filename: 'log.txt', sha256: sha256('abc') });
    await head(server, aliceKey, created.id!);
    await head(server, bobKey, created.id!);
    // Written about once a second.
    const logged = await waitUntil(
      async () =>
        (
          await t.lake.db.query<{ user: string; method: string; status: number }>(
            `SELECT u.name AS user, e.details->>'method' AS method, (e.details->>'status')::int AS status
               FROM audit.events e JOIN user_data.users u USING (user_id)
              WHERE e.details->>'path' = $1 ORDER BY e.occurred_at, e.event_id`,
            [`/v1/uploads/${created.id}`],
          )
        ).rows,
      (rows) => rows.length >= 2,
      { intervalMs: 200 },
    );
    assert.deepEqual(logged, [
      { user: 'alice', method: 'HEAD', status: 200 },
      { user: 'bob', method: 'HEAD', status: 404 },
    ]);
  });

  test('termination: DELETE removes the upload and its bytes', async () => {
    const data = Buffer.from('to be deleted');
    const created = await create(server, aliceKey, data.length, { filename: 'd.txt', sha256: sha256(data) });
    await patch(server, aliceKey, created.id!, 0, data.subarray(0, 2));
    const deleted = await fetch(`${server.url}/v1/uploads/${created.id}`, { method: 'DELETE', headers: { ...TUS, authorization: `Bearer ${aliceKey}` } });
    assert.equal(deleted.status, 204);
    assert.equal((await head(server, aliceKey, created.id!)).status, 404);
    assert.equal(existsSync(path.join(t.config.uploadDir, created.id!)), false);
  });

  test('two writers at once: one at a time; the second learns the real offset (409), and the file holds only the first one\'s bytes', async () => {
    const size = 4 * 1024 * 1024;
    const created = await create(server, aliceKey, size, { filename: 'two.bin', sha256: sha256(Buffer.alloc(size, 0xaa)) });
    const id = created.id!;
    // Writer A sends 64 KiB every 50 ms; writer B starts once A has been writing for a while.
    let sentA = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const piece = Math.min(64 * 1024, size - sentA);
        sentA += piece;
        controller.enqueue(new Uint8Array(piece).fill(0xaa));
        if (sentA >= size) controller.close();
      },
    });
    const writerA = patch(server, aliceKey, id, 0, slow).catch((error: Error) => ({ status: 0, offset: null, body: error.message }));
    while (sentA < 512 * 1024) await new Promise((resolve) => setTimeout(resolve, 20));
    const writerB = await patch(server, aliceKey, id, 0, Buffer.alloc(size, 0xbb));
    const a = await writerA;
    assert.equal(writerB.status, 409, `the second writer: ${writerB.status} ${writerB.body}`);
    assert.ok(a.status === 204 || a.status === 0, `the first writer was stopped or finished: ${a.status}`);
    const offset = (await head(server, aliceKey, id)).offset!;
    assert.ok(offset > 0, 'the first writer\'s bytes so far are kept');
    const stored = await readFile(path.join(t.config.uploadDir, id));
    assert.equal(stored.length, offset);
    assert.ok(stored.every((byte) => byte === 0xaa), 'no byte of the second writer is in the file');
  });
});
