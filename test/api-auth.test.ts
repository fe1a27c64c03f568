// The API's doors and instruments over real HTTP: API keys (made, stored hashed, checked,
// revoked), the access log, health, metrics, the OpenAPI document, and errors as JSON with a
// stable code for bad parameters and unknown routes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createApiKey, listApiKeys, revokeApiKey } from '../src/query/api-keys.js';
import { createUser, listUsers } from '../src/query/users.js';
import { LakeError } from '../src/errors.js';
import { get, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let server: TestServer;
let alice: { userId: string; name: string };
let aliceKey: string;

before(async () => {
  t = await openTestLake();
  alice = await createUser(t.lake.db, 'alice');
  aliceKey = (await createApiKey(t.lake.db, 'alice', 'tests')).key;
  server = await startTestServer(t.lake);
});
after(async () => {
  await server.close();
  await t.dispose();
});

const isError = (code: string) => (e: unknown) => e instanceof LakeError && e.code === code;

describe('API keys', () => {
  test('a key is shown once as lake_<prefix>_<secret>; only the SHA-256 of its secret is stored', async () => {
    const created = await createApiKey(t.lake.db, 'alice', 'storage check');
    const match = /^lake_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(created.key);
    assert.ok(match, created.key);
    const stored = await t.lake.db.asUser(alice.userId, (tx) =>
      tx.query<{ row: string; secret_hash: Uint8Array }>(`SELECT k::text AS row, secret_hash FROM user_data.api_keys k WHERE key_id = $1`, [created.keyId]),
    );
    const row = stored.rows[0]!;
    assert.equal(row.row.includes(match[2]!), false, 'the secret itself is not in the row');
    assert.deepEqual(Buffer.from(row.secret_hash), createHash('sha256').update(match[2]!).digest());
    assert.equal(created.prefix, match[1]);
  });

  test('users: names are checked, a name is taken once, and the list counts active keys', async () => {
    await assert.rejects(createUser(t.lake.db, 'alice'), isError('ALREADY_EXISTS'));
    await assert.rejects(createUser(t.lake.db, 'Not A Name'), isError('USAGE'));
    await assert.rejects(createApiKey(t.lake.db, 'nobody'), isError('NOT_FOUND'));
    const carol = await createUser(t.lake.db, 'carol');
    await createApiKey(t.lake.db, 'carol');
    const revoked = await createApiKey(t.lake.db, 'carol');
    await revokeApiKey(t.lake.db, revoked.keyId);
    const listed = (await listUsers(t.lake.db)).find((u) => u.name === 'carol');
    assert.deepEqual(listed && { userId: listed.userId, activeKeys: listed.activeKeys }, { userId: carol.userId, activeKeys: 1 });
  });

  test('without a key, with a malformed, unknown or wrong key: 401 UNAUTHORIZED with a Bearer challenge', async () => {
    const [prefix] = aliceKey.slice('lake_'.length).split('_');
    const wrongSecret = `lake_${prefix}_${'A'.repeat(43)}`;
    const unknownPrefix = `lake_000000000000_${aliceKey.slice(-43)}`;
    const attempts: [string, Record<string, string>][] = [
      ['no header', {}],
      ['not bearer', { authorization: `Basic ${Buffer.from(`alice:${aliceKey}`).toString('base64')}` }],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['malformed key', { authorization: 'Bearer lake_xyz' }],
      ['unknown prefix', { authorization: `Bearer ${unknownPrefix}` }],
      ['right prefix, wrong secret', { authorization: `Bearer ${wrongSecret}` }],
    ];
    for (const [what, headers] of attempts) {
      const response = await fetch(`${server.url}/v1/timeline`, { headers });
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(response.status, 401, what);
      assert.equal(body.error.code, 'UNAUTHORIZED', what);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/, what);
    }
    assert.equal((await get(server, '/v1/timeline', aliceKey)).status, 200, 'the real key works');
  });

  test('a revoked key gets 401 from the next request on; revoking by prefix works too', async () => {
    const byId = await createApiKey(t.lake.db, 'alice', 'to revoke by id');
    const byPrefix = await createApiKey(t.lake.db, 'alice', 'to revoke by prefix');
    assert.equal((await get(server, '/v1/timeline', byId.key)).status, 200);
    assert.equal((await get(server, '/v1/timeline', byPrefix.key)).status, 200);
    await revokeApiKey(t.lake.db, byId.keyId);
    await revokeApiKey(t.lake.db, byPrefix.prefix);
    for (const key of [byId.key, byPrefix.key]) {
      const reply = await get(server, '/v1/timeline', key);
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.body, { error: { code: 'UNAUTHORIZED', message: 'the API key was revoked' } });
    }
    const again = await revokeApiKey(t.lake.db, byId.keyId);
    const listed = (await listApiKeys(t.lake.db, 'alice')).find((k) => k.keyId === byId.keyId)!;
    assert.equal(again.revokedAt?.getTime(), listed.revokedAt?.getTime(), 'revoking twice keeps the first time');
    await assert.rejects(revokeApiKey(t.lake.db, '00000000-0000-4000-8000-000000000000'), isError('NOT_FOUND'));
    await assert.rejects(revokeApiKey(t.lake.db, 'not-a-key'), isError('USAGE'));
  });
});

test('every authenticated request is in the access log of its user, and its key records its last use', async () => {
  const dave = await createUser(t.lake.db, 'dave');
  const daveKey = await createApiKey(t.lake.db, 'dave', 'access log');
  await get(server, '/v1/timeline?limit=5', daveKey.key);
  await get(server, '/v1/timeline?limit=5000', daveKey.key);
  await get(server, '/v1/items/999999', daveKey.key);
  await get(server, '/v1/timeline', `lake_000000000000_${'B'.repeat(43)}`);
  await server.app.accessLog.flush();
  const events = await t.lake.db.asUser(dave.userId, (tx) =>
    tx.query<{ actor: string; action: string; object_id: string; status: number; path: string }>(
      `SELECT actor, action, object_id, (details->>'status')::int AS status, details->>'path' AS path FROM audit.events ORDER BY event_id`,
    ),
  );
  assert.deepEqual(events.rows, [
    { actor: `api_key:${daveKey.keyId}`, action: 'api.request', object_id: 'GET /v1/timeline', status: 200, path: '/v1/timeline?limit=5' },
    { actor: `api_key:${daveKey.keyId}`, action: 'api.request', object_id: 'GET /v1/timeline', status: 400, path: '/v1/timeline?limit=5000' },
    { actor: `api_key:${daveKey.keyId}`, action: 'api.request', object_id: 'GET /v1/items/:id', status: 404, path: '/v1/items/999999' },
  ]);
  const otherUsers = await t.lake.db.asUser(alice.userId, (tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit.events WHERE actor = $1`, [`api_key:${daveKey.keyId}`]),
  );
  assert.equal(otherUsers.rows[0]!.n, 0, "dave's entries are not alice's");
  const key = (await listApiKeys(t.lake.db, 'dave'))[0]!;
  assert.ok(key.lastUsedAt && Date.now() - key.lastUsedAt.getTime() < 60_000, `last used ${key.lastUsedAt?.toISOString()}`);
});

describe('health', () => {
  test('/health/live answers without a key', async () => {
    const reply = await get(server, '/health/live');
    assert.deepEqual([reply.status, reply.body], [200, { status: 'ok' }]);
  });

  test('/health/ready is 200 when migrations are current, 503 naming the migration when one is pending', async () => {
    const ready = await get(server, '/health/ready');
    assert.deepEqual([ready.status, ready.body], [200, { status: 'ready', database: 'ok', migrations: 'current' }]);
    const saved = await t.lake.db.query(`SELECT * FROM lake.migrations WHERE name = 'api_keys'`);
    await t.lake.db.query(`DELETE FROM lake.migrations WHERE name = 'api_keys'`);
    try {
      const pending = await get(server, '/health/ready');
      assert.equal(pending.status, 503);
      assert.equal(pending.body.status, 'not_ready');
      assert.match(pending.body.migrations, /0008_api_keys pending/);
    } finally {
      const row = saved.rows[0]!;
      await t.lake.db.query(`INSERT INTO lake.migrations SELECT * FROM json_populate_record(NULL::lake.migrations, $1)`, [JSON.stringify(row)]);
    }
    assert.equal((await get(server, '/health/ready')).status, 200);
  });
});

test('/metrics: the latency histogram by route and status after requests, and the database and storage gauges', async () => {
  await get(server, '/v1/timeline', aliceKey);
  await get(server, '/v1/timeline?limit=0', aliceKey);
  await get(server, '/no/such/route');
  const reply = await get(server, '/metrics');
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type') ?? '', /^text\/plain/);
  const metrics = reply.text;
  const count = (labels: string) => Number(new RegExp(`^lake_http_request_duration_seconds_count\\{${labels}\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
  assert.ok(count('method="GET",route="/v1/timeline",status_code="200"') >= 1, metrics.slice(0, 2000));
  assert.ok(count('method="GET",route="/v1/timeline",status_code="400"') >= 1);
  assert.ok(count('method="GET",route="unmatched",status_code="404"') >= 1);
  assert.match(metrics, /^lake_http_request_duration_seconds_bucket\{le="0\.05",method="GET",route="\/v1\/timeline",status_code="200"\} \d+$/m);
  assert.match(metrics, /^lake_db_up 1$/m);
  const hitRatio = Number(/^lake_db_cache_hit_ratio ([\d.e-]+)$/m.exec(metrics)?.[1]);
  assert.ok(hitRatio > 0 && hitRatio <= 1, `cache hit ratio ${hitRatio}`);
  assert.match(metrics, /^lake_db_transaction_wait_seconds_count [1-9]\d*$/m);
  assert.match(metrics, /^lake_db_pool_size [1-9]\d*$/m);
  for (const tier of ['hot', 'warm', 'cold', 'blobs']) assert.match(metrics, new RegExp(`^lake_storage_bytes\\{tier="${tier}"\\} \\d+$`, 'm'));
  if (t.lake.db.backend === 'server') assert.match(metrics, /^lake_db_connections\{state="active"\} [1-9]\d*$/m);
});

test('/openapi.json is an OpenAPI 3 document listing every route with its parameters and the bearer scheme', async () => {
  const reply = await get(server, '/openapi.json');
  assert.equal(reply.status, 200);
  const doc = reply.body as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; security?: unknown }>>; components: any };
  assert.match(doc.openapi, /^3\./);
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    '/health/live',
    '/health/ready',
    '/metrics',
    '/v1/auth/link',
    '/v1/blobs/{sha256}',
    '/v1/calendar/events',
    '/v1/contacts',
    '/v1/documents',
    '/v1/export',
    '/v1/ingest/locations',
    '/v1/ingest/measurements',
    '/v1/items/{id}',
    '/v1/jobs',
    '/v1/jobs/{id}',
    '/v1/jobs/{id}/cancel',
    '/v1/jobs/{id}/events',
    '/v1/jobs/{id}/quarantine',
    '/v1/jobs/{id}/report',
    '/v1/jobs/{id}/retry',
    '/v1/locations',
    '/v1/me',
    '/v1/measurements',
    '/v1/media',
    '/v1/media/{sha256}',
    '/v1/media/{sha256}/thumbnail',
    '/v1/messages',
    '/v1/messages/{id}',
    '/v1/places',
    '/v1/search',
    '/v1/stats/daily',
    '/v1/stats/monthly',
    '/v1/tiles/{z}/{x}/{y}.mvt',
    '/v1/timeline',
    '/v1/uploads',
    '/v1/uploads/{id}',
    '/v1/visits',
  ]);
  const timelineParameters = doc.paths['/v1/timeline']!.get!.parameters!.map((p) => `${p.in}:${p.name}`);
  assert.deepEqual(timelineParameters.sort(), ['query:cursor', 'query:from', 'query:kinds', 'query:limit', 'query:order', 'query:q', 'query:sources', 'query:to']);
  assert.deepEqual(doc.paths['/v1/items/{id}']!.get!.parameters!.map((p) => `${p.in}:${p.name}`), ['path:id']);
  assert.deepEqual(doc.paths['/v1/timeline']!.get!.security, [{ apiKey: [] }]);
  assert.equal(doc.components.securitySchemes.apiKey.scheme, 'bearer');
});

describe('errors are JSON with a stable code', () => {
  test('malformed query parameters: 400 INVALID_REQUEST naming the parameter', async (ctx) => {
    const cases: [string, RegExp][] = [
      ['/v1/timeline?limit=0', /limit/],
      ['/v1/timeline?limit=1001', /limit/],
      ['/v1/timeline?limit=ten', /limit/],
      ['/v1/timeline?from=yesterday', /from/],
      ['/v1/timeline?from=2024-02-30', /from/],
      ['/v1/timeline?from=2024-03-01T25:00:00Z', /from/],
      ['/v1/timeline?from=2024-03-02&to=2024-03-01', /`to` must be later than `from`/],
      ['/v1/timeline?order=sideways', /order/],
      ['/v1/timeline?cursor=not-a-cursor', /cursor/],
      [`/v1/timeline?cursor=${Buffer.from('["2024-01-01",1]').toString('base64url')}`, /cursor/],
      ['/v1/timeline?limt=5', /unknown query parameter `limt`/],
      ['/v1/locations?bbox=1,2,3', /bbox/],
      ['/v1/locations?bbox=0,60,10,50', /bbox/],
      ['/v1/locations?bbox=0,0,200,10', /bbox/],
      ['/v1/locations?near=52.5,13.4', /radius/],
      ['/v1/locations?near=95,13.4&radius=10', /near/],
      ['/v1/locations?near=52.5,13.4&radius=-5', /radius/],
      ['/v1/locations?simplify=0', /simplify/],
      ['/v1/locations?limit=10001', /limit/],
      ['/v1/items/abc', /id/],
      ['/v1/items/0', /id/],
      ['/v1/stats/monthly?from=2024-13-01', /from/],
      ['/v1/stats/daily?tz=Nowhere/Special', /tz/],
      ['/v1/stats/daily?from=2020-01-01&to=2024-01-01', /at most 400 days/],
    ];
    for (const [path, mentions] of cases) {
      await ctx.test(path, async () => {
        const reply = await get(server, path, aliceKey);
        assert.equal(reply.status, 400, `${path}: ${reply.text}`);
        assert.equal(reply.body.error.code, 'INVALID_REQUEST', path);
        assert.match(reply.body.error.message, mentions, path);
      });
    }
  });

  test('unknown routes: 404 NOT_FOUND', async (ctx) => {
    for (const path of ['/nope', '/v1/nope', '/v2/timeline']) {
      await ctx.test(path, async () => {
        const reply = await get(server, path, aliceKey);
        assert.equal(reply.status, 404, path);
        assert.equal(reply.body.error.code, 'NOT_FOUND', path);
      });
    }
  });
});
