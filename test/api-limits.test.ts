// Limits of the API over real HTTP, on a server with small limits: per-key rate limit (429 with
// Retry-After, other keys unaffected), malformed JSON (400), a JSON body over the limit (413), a
// wrong content type (415), the handler timeout cutting a stalled request (503), the statement
// timeout cancelling a query (503, server only), and socket-level errors in the API's error shape.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { ingestHandlerTimeoutMs } from '../src/api/limits.js';
import { loadConfig } from '../src/config/config.js';
import { get, startTestServer, type TestServer } from './support/api.js';
import { BACKEND, openTestLake, type TestLake } from './support/lake.js';

const RATE_LIMIT = 5;
const BODY_LIMIT = 2048;
const TIMEOUT_MS = 100;

let t: TestLake;
let server: TestServer;
/** A new key of alice's: every test has its own, so the rate limit of one does not spill into another. */
const freshKey = async () => (await createApiKey(t.lake.db, 'alice')).key;

before(async () => {
  t = await openTestLake({
    LAKE_API_RATE_LIMIT: String(RATE_LIMIT),
    LAKE_API_BODY_LIMIT_BYTES: String(BODY_LIMIT),
    LAKE_API_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  await createUser(t.lake.db, 'alice');
  await createUser(t.lake.db, 'bob');
  server = await startTestServer(t.lake);
});
after(async () => {
  await server?.close();
  await t.dispose();
});

function post(path: string, key: string, body: string, contentType: string) {
  return fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': contentType }, body });
}

test('rate limit per key: 429 RATE_LIMITED with Retry-After past the limit; other keys and bad keys are not affected', async () => {
  const key = (await createApiKey(t.lake.db, 'alice', 'rate')).key;
  const other = (await createApiKey(t.lake.db, 'bob', 'rate')).key;
  for (let i = 0; i < RATE_LIMIT; i++) {
    const reply = await get(server, '/v1/timeline', key);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-ratelimit-remaining'), String(RATE_LIMIT - 1 - i));
  }
  const limited = await get(server, '/v1/timeline', key);
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, 'RATE_LIMITED');
  assert.match(limited.body.error.message, /LAKE_API_RATE_LIMIT/);
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assert.equal((await get(server, '/v1/search?q=x', key)).status, 429, 'the limit is per key, across routes');
  assert.equal((await get(server, '/v1/timeline', other)).status, 200, 'another key is not limited');
  const bad = await get(server, '/v1/timeline', 'lake_000000000000_nope');
  assert.equal(bad.status, 401, 'a bad key is refused for what it is');
  for (let i = 0; i < RATE_LIMIT + 2; i++) assert.equal((await get(server, '/health/live')).status, 200, 'open routes are not limited');
});

test('malformed JSON: 400 INVALID_REQUEST as JSON', async () => {
  const alice = await freshKey();
  const response = await post('/v1/ingest/locations', alice, '[{"recorded_at": "2024-05-01T00:00:00Z", "lat": 1,', 'application/json');
  assert.equal(response.status, 400);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as any;
  assert.equal(body.error.code, 'INVALID_REQUEST');
  assert.match(body.error.message, /JSON/);
});

test('a JSON body over LAKE_API_BODY_LIMIT_BYTES: 413 PAYLOAD_TOO_LARGE, nothing loaded', async () => {
  const alice = await freshKey();
  const points = Array.from({ length: 40 }, (_, i) => ({ recorded_at: new Date(Date.parse('2024-06-01T00:00:00Z') + i * 1000).toISOString(), lat: 1, lon: 1 }));
  const body = JSON.stringify(points);
  assert.ok(body.length > BODY_LIMIT);
  const response = await post('/v1/ingest/locations', alice, body, 'application/json');
  assert.equal(response.status, 413);
  assert.equal(((await response.json()) as any).error.code, 'PAYLOAD_TOO_LARGE');
  const within = await post('/v1/ingest/locations', alice, JSON.stringify(points.slice(0, 5)), 'application/json');
  assert.equal(within.status, 200);
  assert.equal(((await within.json()) as any).accepted, 5);
});

test('a wrong content type: 415 UNSUPPORTED_MEDIA_TYPE as JSON', async () => {
  const alice = await freshKey();
  const response = await post('/v1/ingest/measurements', alice, 'metric,value\nsteps,1\n', 'text/csv');
  assert.equal(response.status, 415);
  assert.equal(((await response.json()) as any).error.code, 'UNSUPPORTED_MEDIA_TYPE');
});

test('a request that stalls past its handler timeout: 503 TIMEOUT, then the connection is closed', async () => {
  const alice = await freshKey();
  const limit = ingestHandlerTimeoutMs(t.lake.config);
  const url = new URL(server.url);
  const socket = net.connect(Number(url.port), url.hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = performance.now();
  socket.write(
    `POST /v1/ingest/locations HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${alice}\r\nContent-Type: application/x-ndjson\r\n` +
      'Transfer-Encoding: chunked\r\n\r\n' +
      // One line, then nothing more: the client stalls.
      `3c\r\n${JSON.stringify({ recorded_at: '2024-06-02T00:00:00Z', lat: 1, lon: 1 }).padEnd(59)}\n\r\n`,
  );
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (answer += chunk));
  await new Promise((resolve) => socket.once('close', resolve));
  const elapsed = performance.now() - started;
  assert.match(answer, /^HTTP\/1\.1 503/);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
  assert.equal(body.error.code, 'TIMEOUT');
  assert.ok(elapsed >= limit - 50 && elapsed < limit + 5000, `closed after ${Math.round(elapsed)} ms (limit ${limit})`);
});

test('a query past LAKE_API_TIMEOUT_MS is cancelled: 503 TIMEOUT', { skip: BACKEND === 'embedded' && 'PGlite ignores statement_timeout (no timer signals in WebAssembly); the handler timeout above still applies' }, async () => {
  const alice = await freshKey();
  // Hold a lock on places from another connection: the request's query waits for it until its
  // statement timeout cancels it.
  const client = new pg.Client({ connectionString: t.config.databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('LOCK TABLE user_data.places IN ACCESS EXCLUSIVE MODE');
    const started = performance.now();
    const reply = await get(server, '/v1/places', alice);
    const elapsed = performance.now() - started;
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'TIMEOUT');
    assert.ok(elapsed < TIMEOUT_MS + 900, `cancelled by the statement timeout (${Math.round(elapsed)} ms), before the handler timeout`);
  } finally {
    await client.query('ROLLBACK');
    await client.end();
  }
  assert.equal((await get(server, '/v1/places', alice)).status, 200, 'the next request is served');
});

test('what is not HTTP at all: 400 in the API error shape, connection closed', async () => {
  const url = new URL(server.url);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setEncoding('utf8');
  let answer = '';
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.write('HELLO THERE\r\n\r\n');
  await new Promise((resolve) => socket.once('close', resolve));
  assert.match(answer, /^HTTP\/1\.1 400/);
  assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), { error: { code: 'INVALID_REQUEST', message: 'the request could not be read as HTTP' } });
});

test('limit settings are validated with the setting named', () => {
  assert.throws(() => loadConfig({ LAKE_API_RATE_LIMIT: '-1' }), /LAKE_API_RATE_LIMIT="-1" is not valid/);
  assert.throws(() => loadConfig({ LAKE_API_BODY_LIMIT_BYTES: '10' }), /LAKE_API_BODY_LIMIT_BYTES/);
  const defaults = loadConfig({});
  assert.deepEqual(
    [defaults.apiBodyLimitBytes, defaults.apiIngestBodyLimitBytes, defaults.apiRateLimit, defaults.apiTimeoutMs, defaults.apiIdleTimeoutMs],
    [1_048_576, 104_857_600, 1200, 30_000, 60_000],
  );
});
