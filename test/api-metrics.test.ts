// Who may read /metrics: with LAKE_METRICS_TOKEN set, a request carrying that token and no other
// (not a user's API key); unset, loopback clients only, and not requests a local proxy forwards.
// The server does not trust proxies, so the client address is the socket's: Fastify's inject sets
// it with `remoteAddress`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/api/server.js';
import { isLoopback, isLoopbackHost } from '../src/api/routes/metrics.js';
import { loadConfig } from '../src/config/config.js';
import { LakeError } from '../src/errors.js';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { openTestLake, type TestLake } from './support/lake.js';

const TOKEN = 'metrics-0123456789-abcdef';
let t: TestLake;
let aliceKey: string;
let withToken: FastifyInstance;
let withoutToken: FastifyInstance;

before(async () => {
  t = await openTestLake({ LAKE_METRICS_TOKEN: TOKEN });
  await createUser(t.lake.db, 'alice');
  aliceKey = (await createApiKey(t.lake.db, 'alice', 'tests')).key;
  withToken = await buildServer(t.lake, { logLevel: false });
  // The same lake without the setting (the route reads it when the server is built).
  t.lake.config.metricsToken = undefined;
  withoutToken = await buildServer(t.lake, { logLevel: false });
});
after(async () => {
  await withToken.close();
  await withoutToken.close();
  await t.dispose();
});

const metrics = (app: FastifyInstance, options: { authorization?: string; remoteAddress?: string; headers?: Record<string, string> } = {}) =>
  app.inject({
    method: 'GET',
    url: '/metrics',
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
    headers: { ...(options.authorization ? { authorization: options.authorization } : {}), ...options.headers },
  });

describe('LAKE_METRICS_TOKEN set', () => {
  test('the right token: 200 with the metrics, from anywhere', async () => {
    for (const remoteAddress of ['127.0.0.1', '203.0.113.7', '2001:db8::5']) {
      const reply = await metrics(withToken, { authorization: `Bearer ${TOKEN}`, remoteAddress });
      assert.equal(reply.statusCode, 200, remoteAddress);
      assert.match(reply.body, /^lake_db_up 1$/m);
    }
  });

  test('a wrong or missing token, or a user\'s API key: 401 UNAUTHORIZED as JSON with a Bearer challenge, even from loopback', async () => {
    const attempts: [string, string | undefined][] = [
      ['missing', undefined],
      ['wrong', `Bearer ${TOKEN.slice(0, -1)}x`],
      ['a prefix of it', `Bearer ${TOKEN.slice(0, -1)}`],
      ['longer', `Bearer ${TOKEN}x`],
      ['not Bearer', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`],
      ['a user\'s API key', `Bearer ${aliceKey}`],
    ];
    for (const [what, authorization] of attempts) {
      const reply = await metrics(withToken, { authorization });
      assert.equal(reply.statusCode, 401, what);
      assert.equal(reply.json().error.code, 'UNAUTHORIZED', what);
      assert.match(reply.json().error.message, /LAKE_METRICS_TOKEN/, what);
      assert.equal(reply.headers['www-authenticate'], 'Bearer realm="lake"', what);
      assert.doesNotMatch(reply.body, /lake_db_up/, what);
    }
  });

  test('the token does not open /v1 routes: it is no API key', async () => {
    const reply = await withToken.inject({ method: 'GET', url: '/v1/timeline', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(reply.statusCode, 401);
  });
});

describe('LAKE_METRICS_TOKEN unset', () => {
  test('loopback clients: 200 (IPv4 127/8, ::1, IPv4-mapped)', async () => {
    for (const remoteAddress of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) {
      const reply = await metrics(withoutToken, { remoteAddress });
      assert.equal(reply.statusCode, 200, remoteAddress);
      assert.match(reply.body, /^lake_db_up 1$/m, remoteAddress);
    }
  });

  test('other clients: 403 FORBIDDEN naming LAKE_METRICS_TOKEN, whatever they send', async () => {
    const attempts: { remoteAddress: string; authorization?: string; headers?: Record<string, string> }[] = [
      { remoteAddress: '203.0.113.7' },
      { remoteAddress: '10.0.0.2' },
      { remoteAddress: '::ffff:192.0.2.1' },
      { remoteAddress: '2001:db8::1' },
      // A user's API key is no way in either.
      { remoteAddress: '203.0.113.7', authorization: `Bearer ${aliceKey}` },
      // The server trusts no proxy: a forwarded-for header does not make a client local.
      { remoteAddress: '203.0.113.7', headers: { 'x-forwarded-for': '127.0.0.1', forwarded: 'for=127.0.0.1' } },
      // A reverse proxy on the same host: loopback, but forwarding someone else's request.
      { remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7' } },
      { remoteAddress: '::1', headers: { forwarded: 'for=203.0.113.7' } },
      { remoteAddress: '127.0.0.1', headers: { 'x-real-ip': '127.0.0.1' } },
      // The other headers proxies and CDNs name their client with, and Via.
      ...['x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-original-forwarded-for', 'client-ip', 'x-forwarded-host', 'via'].map(
        (name) => ({ remoteAddress: '127.0.0.1', headers: { [name]: name === 'via' ? '1.1 proxy' : '127.0.0.1' } }),
      ),
    ];
    for (const attempt of attempts) {
      const reply = await metrics(withoutToken, attempt);
      const what = JSON.stringify(attempt);
      assert.equal(reply.statusCode, 403, what);
      assert.match(reply.headers['content-type'] as string, /^application\/json/, what);
      assert.equal(reply.json().error.code, 'FORBIDDEN', what);
      assert.match(reply.json().error.message, /LAKE_METRICS_TOKEN/, what);
      assert.doesNotMatch(reply.body, /lake_db_up/, what);
    }
  });
});

describe('LAKE_METRICS_TOKEN unset: the Host must name the loopback (DNS rebinding)', () => {
  test('localhost, 127.x.x.x and [::1], with any port: 200', async () => {
    for (const host of ['localhost', 'localhost:9464', 'LocalHost:80', '127.0.0.1', '127.0.0.1:8080', '127.3.2.1:1', '[::1]', '[::1]:8080']) {
      const reply = await metrics(withoutToken, { headers: { host } });
      assert.equal(reply.statusCode, 200, `${host}: ${reply.body}`);
    }
  });

  test('any other name, even one resolving to 127.0.0.1: 403 FORBIDDEN naming LAKE_METRICS_TOKEN; with the token, any Host', async () => {
    for (const host of ['evil.example', 'evil.example:80', '127.0.0.1.nip.io', 'localhost.evil.example', 'localhost:80@evil.example', '10.0.0.1', '[::2]', '::1', 'localhost:']) {
      for (const remoteAddress of ['127.0.0.1', '::1']) {
        const reply = await metrics(withoutToken, { remoteAddress, headers: { host } });
        assert.equal(reply.statusCode, 403, `${host} from ${remoteAddress}`);
        assert.equal(reply.json().error.code, 'FORBIDDEN', host);
        assert.match(reply.json().error.message, /Host localhost, 127\.0\.0\.1 or \[::1\].*LAKE_METRICS_TOKEN/, host);
        assert.doesNotMatch(reply.body, /lake_db_up/, host);
      }
    }
    const reply = await metrics(withToken, { remoteAddress: '203.0.113.7', authorization: `Bearer ${TOKEN}`, headers: { host: 'metrics.example:443' } });
    assert.equal(reply.statusCode, 200, reply.body);
  });
});

test('isLoopbackHost: the loopback names and addresses only', () => {
  for (const host of ['localhost', 'localhost:1', '127.0.0.1', '127.255.255.254:65535', '[::1]', '[::1]:80', '[::ffff:127.0.0.1]:80']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of [undefined, '', 'evil.example', '127.0.0.1.nip.io', '::1', '[::2]', '128.0.0.1', 'localhost:x', 'local host', '0x7f000001', '2130706433']) {
    assert.equal(isLoopbackHost(host), false, String(host));
  }
});

test('isLoopback: 127.0.0.0/8, ::1 and ::ffff:127.x only', () => {
  for (const address of ['127.0.0.1', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3']) assert.equal(isLoopback(address), true, address);
  for (const address of ['128.0.0.1', '10.127.0.1', '::2', '::ffff:10.0.0.1', '::ffff:7f00:1x', 'localhost', '', '::127.0.0.1']) assert.equal(isLoopback(address), false, address);
});

test('OpenAPI: /metrics is listed with the metrics token scheme and a note on who may read it', async () => {
  const doc = (await withoutToken.inject({ method: 'GET', url: '/openapi.json' })).json();
  const route = doc.paths['/metrics'].get;
  assert.deepEqual(route.security, [{ metricsToken: [] }, {}]);
  assert.match(route.description, /LAKE_METRICS_TOKEN/);
  assert.match(route.description, /loopback/);
  assert.equal(doc.components.securitySchemes.metricsToken.scheme, 'bearer');
});

test('config: LAKE_METRICS_TOKEN is checked, and a refused value is not repeated in the error', () => {
  assert.equal(loadConfig({ LAKE_METRICS_TOKEN: TOKEN }).metricsToken, TOKEN);
  assert.equal(loadConfig({}).metricsToken, undefined);
  for (const bad of ['short-secret', 'has a space in it 0123', 'x'.repeat(257)]) {
    assert.throws(
      () => loadConfig({ LAKE_METRICS_TOKEN: bad }),
      (e: unknown) => e instanceof LakeError && e.code === 'CONFIG_INVALID' && e.message.includes('LAKE_METRICS_TOKEN') && !e.message.includes(bad),
    );
  }
});
