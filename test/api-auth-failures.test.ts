// Refused API keys per client address (LAKE_API_AUTH_FAILURE_LIMIT a minute; IPv6 per /64): past
// the limit, a request from that address carrying a key gets 429 RATE_LIMITED with Retry-After
// before its key is looked up (no database query), while accepted keys are never counted, a key
// accepted within the window still works, and other addresses are not affected. The server does
// not trust proxies, so the address is the socket's: Fastify's inject sets it (`remoteAddress`).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/api/server.js';
import { AuthFailureLimit, clientOf } from '../src/api/limits.js';
import { loadConfig } from '../src/config/config.js';
import { createApiKey, revokeApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { openTestLake, type TestLake } from './support/lake.js';

const LIMIT = 5;
let t: TestLake;
let app: FastifyInstance;
let aliceKey: string;
let bobKey: string;
let revokedKey: string;
/** Statements the database was sent (counted, not replaced: every call still runs). */
let queries = 0;

before(async () => {
  t = await openTestLake({ LAKE_API_AUTH_FAILURE_LIMIT: String(LIMIT), LAKE_API_RATE_LIMIT: '0' });
  await createUser(t.lake.db, 'alice');
  await createUser(t.lake.db, 'bob');
  aliceKey = (await createApiKey(t.lake.db, 'alice', 'tests')).key;
  bobKey = (await createApiKey(t.lake.db, 'bob', 'tests')).key;
  const revoked = await createApiKey(t.lake.db, 'alice', 'revoked');
  await revokeApiKey(t.lake.db, revoked.keyId);
  revokedKey = revoked.key;
  const db = t.lake.db;
  const query = db.query.bind(db);
  db.query = ((...args: Parameters<typeof query>) => {
    queries++;
    return query(...args);
  }) as typeof db.query;
  app = await buildServer(t.lake, { logLevel: false });
});
after(async () => {
  await app?.close();
  await t?.dispose();
});

const request = (remoteAddress: string, key?: string) =>
  app.inject({ method: 'GET', url: '/v1/timeline?limit=1', remoteAddress, headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });

/** Keys refused for each reason the lookup has: unknown prefix, wrong secret, malformed, revoked. */
const badKeys = () => ['lake_000000000000_nope', `${aliceKey.slice(0, aliceKey.lastIndexOf('_'))}_${'A'.repeat(43)}`, 'lake_xyz', revokedKey];

describe('LAKE_API_AUTH_FAILURE_LIMIT', () => {
  test('accepted keys are not counted; past the limit of refused keys, 429 with Retry-After and no database query', async () => {
    const address = '198.51.100.7';
    for (let i = 0; i < 3 * LIMIT; i++) assert.equal((await request(address, aliceKey)).statusCode, 200, `accepted request ${i}`);
    for (let i = 0; i < LIMIT; i++) {
      const reply = await request(address, badKeys()[i % 4]);
      assert.equal(reply.statusCode, 401, `refusal ${i}: ${reply.body}`);
      assert.equal(reply.json().error.code, 'UNAUTHORIZED');
    }
    const before = queries;
    for (let i = 0; i < 100; i++) {
      const reply = await request(address, badKeys()[i % 4]);
      assert.equal(reply.statusCode, 429, `attempt ${i}: ${reply.body}`);
      assert.equal(reply.json().error.code, 'RATE_LIMITED');
      assert.match(reply.json().error.message, /^more than 5 refused API keys a minute from this address: retry in \d+ s \(LAKE_API_AUTH_FAILURE_LIMIT\)$/);
      const retryAfter = Number(reply.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${reply.headers['retry-after']}`);
    }
    assert.equal(queries - before, 0, 'no statement for 100 refused attempts');

    // The key accepted from there within the window still works (it is looked up: a revocation counts).
    assert.equal((await request(address, aliceKey)).statusCode, 200);
    // A key not seen from anywhere in the window waits like any other.
    assert.equal((await request(address, bobKey)).statusCode, 429);
    // Without a key: told so, as before (nothing to look up).
    assert.equal((await request(address)).statusCode, 401);
    // Other addresses: not affected.
    assert.equal((await request('198.51.100.8', badKeys()[0])).statusCode, 401);
    assert.equal((await request('198.51.100.8', bobKey)).statusCode, 200);
    // The same address mapped into IPv6 is the same client.
    assert.equal((await request(`::ffff:${address}`, badKeys()[0])).statusCode, 429);
  });

  test('IPv6 clients are counted per /64', async () => {
    for (let i = 0; i < LIMIT; i++) assert.equal((await request(`2001:db8:1:2::${i + 1}`, badKeys()[0])).statusCode, 401);
    assert.equal((await request('2001:db8:1:2:ffff:ffff:ffff:ffff', badKeys()[1])).statusCode, 429, 'same /64');
    assert.equal((await request('2001:db8:1:3::1', badKeys()[1])).statusCode, 401, 'another /64');
  });

  test('the window: the count starts over a window after the first refusal', () => {
    let now = 1_000_000;
    const limit = new AuthFailureLimit(2, 60_000, () => now);
    limit.refused('203.0.113.1');
    now += 30_000;
    limit.refused('203.0.113.1');
    assert.equal(limit.retryAfterMs('203.0.113.1', 'k'), 30_000);
    now += 29_999;
    assert.equal(limit.retryAfterMs('203.0.113.1', 'k'), 1);
    now += 1;
    assert.equal(limit.retryAfterMs('203.0.113.1', 'k'), 0);
    limit.refused('203.0.113.1');
    assert.equal(limit.retryAfterMs('203.0.113.1', 'k'), 0, 'one refusal in the new window');
    // A key accepted within a minute passes a blocked address; a minute after, it waits too.
    limit.accepted('good');
    now += 30_000;
    limit.refused('198.51.100.1');
    limit.refused('198.51.100.1');
    assert.equal(limit.retryAfterMs('198.51.100.1', 'good'), 0);
    assert.equal(limit.retryAfterMs('198.51.100.1', 'other'), 60_000);
    now += 30_000;
    assert.equal(limit.retryAfterMs('198.51.100.1', 'good'), 30_000);
  });

  test('clientOf: IPv4 as it is (also mapped), IPv6 as its /64', () => {
    assert.equal(clientOf('203.0.113.1'), '203.0.113.1');
    assert.equal(clientOf('::ffff:203.0.113.1'), '203.0.113.1');
    assert.equal(clientOf('2001:db8:1:2::5'), '2001:db8:1:2::/64');
    assert.equal(clientOf('2001:0db8:0001:0002:ffff:0:0:1'), '2001:db8:1:2::/64');
    assert.equal(clientOf('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientOf('::1'), '0:0:0:0::/64');
    assert.equal(clientOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });
});

test('LAKE_API_AUTH_FAILURE_LIMIT: default 30, 0 for no limit, checked with the setting named', async () => {
  assert.equal(loadConfig({}).apiAuthFailureLimit, 30);
  assert.equal(loadConfig({ LAKE_API_AUTH_FAILURE_LIMIT: '0' }).apiAuthFailureLimit, 0);
  assert.throws(() => loadConfig({ LAKE_API_AUTH_FAILURE_LIMIT: '-1' }), /LAKE_API_AUTH_FAILURE_LIMIT="-1" is not valid/);
  t.lake.config.apiAuthFailureLimit = 0;
  const open = await buildServer(t.lake, { logLevel: false });
  try {
    for (let i = 0; i < 40; i++) {
      const reply = await open.inject({ method: 'GET', url: '/v1/timeline?limit=1', remoteAddress: '192.0.2.9', headers: { authorization: 'Bearer lake_000000000000_nope' } });
      assert.equal(reply.statusCode, 401, `attempt ${i}`);
    }
  } finally {
    await open.close();
  }
});
