// Streaming ingestion over real HTTP: NDJSON location points and measurements posted to a real
// server, loaded in batches as the body arrives, bad lines rejected with their number while the
// rest loads, posting again adding nothing, the body limit cutting a chunked body with the
// committed batches kept, wrong content types refused, and user B seeing none of it.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { INGEST_BATCH, MAX_LINE_BYTES, MAX_REJECTED_LISTED, readLines } from '../src/api/routes/ingest.js';
import { MAX_BUCKET_PROBES } from '../src/query/locations.js';
import { allPages, get, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';
import { waitUntil } from './support/wait.js';

const BODY_LIMIT = 400_000;

let t: TestLake;
let server: TestServer;
const users: Record<'alice' | 'bob', { id: string; key: string }> = {} as never;

interface IngestReply {
  accepted: number;
  duplicates: number;
  rejected: { line: number; reason: string }[];
  rejected_count: number;
  lines: number;
}

async function post<Body = any>(path: string, key: string, body: string, contentType = 'application/x-ndjson') {
  const response = await fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': contentType }, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as Body, text };
}

/** A POST whose body is sent in chunks, with no Content-Length (chunked), with `pause` between them. */
function postChunked(path: string, key: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = http.request(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (c: string) => (text += c));
      response.on('end', () => resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : undefined, headers: response.headers }));
      response.on('error', reject);
    });
    // The server may answer and close before the whole body is written (413): that is not an error here.
    request.on('error', (error: NodeJS.ErrnoException) => (['EPIPE', 'ECONNRESET'].includes(error.code ?? '') ? undefined : reject(error)));
    (async () => {
      for await (const chunk of chunks) {
        if (request.destroyed) return;
        await new Promise<void>((done) => (request.write(chunk) ? done() : request.once('drain', done)));
      }
      request.end();
    })().catch(reject);
  });
}

function point(i: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ recorded_at: new Date(Date.parse('2024-05-01T00:00:00Z') + i * 1000).toISOString(), lat: 52.5 + i * 1e-5, lon: 13.4, accuracy_m: 5, device: 'phone', ...extra });
}

async function countAs(userId: string, sql: string): Promise<number> {
  const r = await t.lake.db.asUser(userId, (tx) => tx.query<{ n: number }>(sql));
  return r.rows[0]!.n;
}

before(async () => {
  t = await openTestLake({ LAKE_API_INGEST_BODY_LIMIT_BYTES: String(BODY_LIMIT) });
  for (const name of ['alice', 'bob'] as const) {
    const { userId } = await createUser(t.lake.db, name);
    users[name] = { id: userId, key: (await createApiKey(t.lake.db, name)).key };
  }
  server = await startTestServer(t.lake);
});
after(async () => {
  await server?.close();
  await t.dispose();
});

describe('POST /v1/ingest/locations', () => {
  test('lines load in batches; bad lines are rejected with their number and the rest carries on; posting again adds nothing', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 2500; i++) lines.push(point(i));
    lines[9] = '{"recorded_at": "2024-05-01T00:00:09Z", "lat": 52.5,';      // line 10: malformed JSON
    lines[99] = point(99, { lat: 95 });                                   // line 100: out of range
    lines[199] = point(199, { speed: 3 });                                // line 200: unknown field
    lines[299] = point(299, { recorded_at: '2024-05-01 00:04:59' });       // line 300: no time zone
    lines[399] = JSON.stringify({ lat: 52.5, lon: 13.4 });               // line 400: no time
    lines[499] = '';                                                      // line 500: blank, skipped
    lines[1499] = `${point(1499)}\r`;                                      // CRLF is fine
    const body = `${lines.join('\n')}\n`;
    const first = await post<IngestReply>('/v1/ingest/locations', users.alice.key, body);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body.rejected.map((r) => r.line), [10, 100, 200, 300, 400]);
    assert.match(first.body.rejected[0]!.reason, /^not JSON/);
    assert.match(first.body.rejected[1]!.reason, /lat/);
    assert.match(first.body.rejected[2]!.reason, /unknown field speed/);
    assert.match(first.body.rejected[3]!.reason, /recorded_at/);
    assert.match(first.body.rejected[4]!.reason, /recorded_at is missing/);
    assert.deepEqual({ ...first.body, rejected: [] }, { accepted: 2494, duplicates: 0, rejected: [], rejected_count: 5, lines: 2500 });
    assert.equal(await countAs(users.alice.id, `SELECT count(*)::int AS n FROM timeseries.location_points WHERE source = 'api.ingest'`), 2494);
    const row = await t.lake.db.asUser(users.alice.id, (tx) =>
      tx.query<{ device: string; accuracy_m: number; import_file_id: string | null }>(`SELECT device, accuracy_m, import_file_id FROM timeseries.location_points LIMIT 1`),
    );
    assert.deepEqual(row.rows[0], { device: 'phone', accuracy_m: 5, import_file_id: null });

    const again = await post<IngestReply>('/v1/ingest/locations', users.alice.key, body);
    assert.equal(again.body.accepted, 0);
    assert.equal(again.body.duplicates, 2494);
    assert.equal(await countAs(users.alice.id, `SELECT count(*)::int AS n FROM timeseries.location_points`), 2494);
  });

  test('the body is read as it arrives: a batch commits while the request is still sending', async () => {
    const before = await countAs(users.alice.id, `SELECT count(*)::int AS n FROM timeseries.location_points`);
    let seenWhileSending = -1;
    async function* body() {
      let text = '';
      for (let i = 0; i < INGEST_BATCH + 10; i++) text += `${point(100_000 + i)}\n`;
      yield text;
      // The first batch is full: wait (bounded) until it is in the database, the request still open.
      seenWhileSending = await waitUntil(
        async () => (await countAs(users.alice.id, `SELECT count(*)::int AS n FROM timeseries.location_points`)) - before,
        (seen) => seen > 0,
      );
      yield `${point(200_000)}\n`;
    }
    const reply = await postChunked('/v1/ingest/locations', users.alice.key, body());
    assert.equal(reply.status, 200);
    assert.equal(seenWhileSending, INGEST_BATCH, 'one whole batch was loaded before the body ended');
    assert.equal(reply.body.accepted, INGEST_BATCH + 11);
  });

  test('a JSON array of the same objects works too', async () => {
    const reply = await post<IngestReply>('/v1/ingest/locations', users.alice.key, JSON.stringify([JSON.parse(point(300_000)), { lat: 1 }]), 'application/json');
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.body.accepted, 1);
    assert.deepEqual(reply.body.rejected.map((r) => r.line), [2]);
    const notArray = await post('/v1/ingest/locations', users.alice.key, '{"lat": 1}', 'application/json');
    assert.equal(notArray.status, 400);
    assert.equal(notArray.body.error.code, 'INVALID_REQUEST');
  });

  test('long lines and many bad lines: rejected without holding them, the list capped, all counted', async () => {
    const long = `{"recorded_at": "2024-05-01T00:00:00Z", "lat": 1, "lon": 1, "attributes": {"x": "${'a'.repeat(MAX_LINE_BYTES)}"}}`;
    const bad = Array.from({ length: MAX_REJECTED_LISTED + 50 }, () => 'nope');
    const reply = await post<IngestReply>('/v1/ingest/locations', users.alice.key, [long, ...bad, point(400_000)].join('\n'));
    assert.equal(reply.status, 200);
    assert.match(reply.body.rejected[0]!.reason, /longer than/);
    assert.equal(reply.body.rejected.length, MAX_REJECTED_LISTED);
    assert.equal(reply.body.rejected_count, MAX_REJECTED_LISTED + 51);
    assert.equal(reply.body.accepted, 1);
    assert.equal(reply.body.lines, MAX_REJECTED_LISTED + 52, 'no newline at the end: the last line counts');
  });

  test('wrong or missing content type: 415 with a JSON error, before the body is read', async () => {
    for (const type of ['text/plain', 'application/octet-stream', 'text/csv']) {
      const reply = await post('/v1/ingest/locations', users.alice.key, point(1), type);
      assert.equal(reply.status, 415, type);
      assert.equal(reply.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
      assert.match(reply.body.error.message, /application\/x-ndjson/);
    }
    const none = await fetch(`${server.url}/v1/ingest/locations`, { method: 'POST', headers: { authorization: `Bearer ${users.alice.key}` }, body: new Uint8Array([1, 2]) });
    assert.equal(none.status, 415);
    assert.equal(((await none.json()) as any).error.code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('a declared body over the limit: 413 before anything is read', async () => {
    const before = await countAs(users.bob.id, `SELECT count(*)::int AS n FROM timeseries.location_points`);
    const lines = Array.from({ length: 6000 }, (_, i) => point(500_000 + i)).join('\n');
    assert.ok(Buffer.byteLength(lines) > BODY_LIMIT);
    const reply = await post('/v1/ingest/locations', users.bob.key, lines);
    assert.equal(reply.status, 413);
    assert.equal(reply.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(reply.body.error.message, /nothing was read/);
    assert.equal(await countAs(users.bob.id, `SELECT count(*)::int AS n FROM timeseries.location_points`), before);
  });

  test('a chunked body growing past the limit: cut there, committed batches stay, the answer says through which line', async () => {
    const before = await countAs(users.bob.id, `SELECT count(*)::int AS n FROM timeseries.location_points`);
    function* body() {
      for (let i = 0; i < 10_000; i += 100) yield Array.from({ length: 100 }, (_, j) => `${point(600_000 + i + j)}\n`).join('');
    }
    const reply = await postChunked('/v1/ingest/locations', users.bob.key, body());
    assert.equal(reply.status, 413);
    assert.equal(reply.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(reply.headers.connection, 'close');
    const loaded = (await countAs(users.bob.id, `SELECT count(*)::int AS n FROM timeseries.location_points`)) - before;
    assert.ok(loaded > 0 && loaded % INGEST_BATCH === 0, `whole batches only (${loaded})`);
    assert.equal(reply.body.accepted, loaded);
    assert.equal(reply.body.loaded_through_line, loaded);
    assert.match(reply.body.error.message, new RegExp(`lines 1-${loaded} were loaded`));
    // Sending everything again in parts within the limit completes it, the loaded lines as duplicates.
    const all = [...body()];
    let duplicates = 0;
    for (let i = 0; i < all.length; i += 25) duplicates += (await post<IngestReply>('/v1/ingest/locations', users.bob.key, all.slice(i, i + 25).join(''))).body.duplicates;
    assert.equal(duplicates, loaded);
    assert.equal((await countAs(users.bob.id, `SELECT count(*)::int AS n FROM timeseries.location_points`)) - before, 10_000);
  });
});

describe('POST /v1/ingest/measurements', () => {
  test('measurements load, one value per metric and instant', async () => {
    const lines = [
      { measured_at: '2024-05-01T10:00:00+02:00', metric: 'heart_rate', value: 61, unit: 'bpm' },
      { measured_at: Date.parse('2024-05-01T08:01:00Z'), metric: 'heart_rate', value: 64, unit: 'bpm', attributes: { sensor: 'chest' } },
      { measured_at: '2024-05-01T08:00:00Z', metric: 'heart_rate', value: 99, unit: 'bpm' }, // the same instant as the first
      { measured_at: '2024-05-01T08:00:00Z', metric: 'heart_rate', value: 'high', unit: 'bpm' },
      { measured_at: '2024-05-01T08:00:00Z', metric: 'steps', value: 12 },
    ].map((l) => JSON.stringify(l));
    const reply = await post<IngestReply>('/v1/ingest/measurements', users.alice.key, lines.join('\n'));
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual({ accepted: reply.body.accepted, duplicates: reply.body.duplicates }, { accepted: 2, duplicates: 1 });
    assert.deepEqual(reply.body.rejected.map((r) => r.line), [4, 5]);
    assert.match(reply.body.rejected[0]!.reason, /value/);
    assert.match(reply.body.rejected[1]!.reason, /unit is missing/);
    const rows = await t.lake.db.asUser(users.alice.id, (tx) =>
      tx.query<{ measured_at: Date; value: number; attributes: unknown }>(`SELECT measured_at, value, attributes FROM timeseries.measurements ORDER BY measured_at`),
    );
    assert.deepEqual(rows.rows.map((r) => [r.measured_at.toISOString(), r.value]), [['2024-05-01T08:00:00.000Z', 61], ['2024-05-01T08:01:00.000Z', 64]]);
    assert.deepEqual(rows.rows[1]!.attributes, { sensor: 'chest' });
  });
});

test('user B gets none of user A’s ingested data', async () => {
  const alicePoints = await countAs(users.alice.id, `SELECT count(*)::int AS n FROM timeseries.location_points`);
  assert.ok(alicePoints > 3000);
  const bobsView = (await allPages<{ features: { properties: { recorded_at: string } }[]; next_cursor: string | null }>(server, '/v1/locations?limit=10000&from=2024-05-01&to=2024-05-02', users.bob.key)).flatMap((p) => p.features);
  const bobOwn = await countAs(users.bob.id, `SELECT count(*)::int AS n FROM timeseries.location_points WHERE recorded_at >= '2024-05-01' AND recorded_at < '2024-05-02'`);
  assert.equal(bobsView.length, bobOwn, 'bob sees exactly his own points');
  const bobMeasurements = await get(server, '/v1/stats/monthly', users.bob.key);
  assert.ok(!bobMeasurements.body.months.some((m: { table: string }) => m.table === 'measurements'));
  // Bob's posts landed in bob's rows only.
  assert.equal(await countAs(users.alice.id, `SELECT count(*)::int AS n FROM timeseries.location_points WHERE recorded_at >= '2024-05-07'`), 0);
});

test('simplified locations over the ingested points: probing each bucket and sorting the range give the same pages', async () => {
  type Page = { features: { properties: { recorded_at: string }; geometry: { coordinates: number[] } }[]; next_cursor: string | null };
  const probed = '/v1/locations?simplify=60&from=2024-04-30&to=2024-05-03&limit=7';
  const sorted = '/v1/locations?simplify=60&from=2024-01-01&to=2024-05-03&limit=7';
  assert.ok((3 * 86_400) / 60 <= MAX_BUCKET_PROBES && (123 * 86_400) / 60 > MAX_BUCKET_PROBES, 'one range on each side of the threshold');
  const features = async (path: string) => (await allPages<Page>(server, path, users.alice.key)).flatMap((p) => p.features);
  const a = await features(probed);
  assert.ok(a.length > 40, `${a.length} buckets`);
  assert.deepEqual(await features(sorted), a);
  const minutes = a.map((f) => Math.floor(Date.parse(f.properties.recorded_at) / 60_000));
  assert.equal(new Set(minutes).size, minutes.length, 'one point a minute');
});

test('readLines: lines across chunk boundaries, CRLF, a long line skipped without being held, the byte limit', async () => {
  const chunks = ['{"a"', ':1}\r\n{"b":2}\n', 'x'.repeat(50), 'y'.repeat(50), '\nlast'].map((s) => Buffer.from(s));
  const lines = [];
  for await (const line of readLines(Readable.from(chunks), 1000, 60)) lines.push(line);
  assert.deepEqual(lines, [{ line: 1, text: '{"a":1}' }, { line: 2, text: '{"b":2}' }, { line: 3, tooLong: true }, { line: 4, text: 'last' }]);
  await assert.rejects(async () => {
    for await (const _ of readLines(Readable.from(chunks), 100, 60));
  }, /larger than 100 bytes/);
});
