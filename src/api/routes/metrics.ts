// GET /metrics: the server's Prometheus metrics. Figures about the service (database size, storage
// bytes, ingest counts, latencies per route), none about a user's data, but not for strangers:
// with LAKE_METRICS_TOKEN set, a request must carry `Authorization: Bearer <that token>` (401
// otherwise); unset, only clients on the loopback interface are answered (403 otherwise). Users'
// API keys never open it: they are per-user credentials, the metrics are the operator's.
//
// The client address is request.ip: the socket's peer, as the server does not trust proxies
// (server.ts sets no trustProxy), so a forwarded-for header cannot make a request look local. A
// reverse proxy on the same host would make every client look local: a loopback request that
// carries a proxy's forwarding header (Forwarded, X-Forwarded-For, X-Real-IP, X-Client-IP,
// True-Client-IP, CF-Connecting-IP and the others in PROXY_HEADERS, or Via) is refused too. And
// a web page could reach a loopback server through DNS rebinding (a name of its own resolving to
// 127.0.0.1): without the token, the Host must name the loopback (localhost, 127.x.x.x or [::1],
// any port).
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { LakeError } from '../../errors.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody } from '../query-params.js';

/** Whether `address` is on the loopback interface: 127.0.0.0/8, ::1, or IPv4-mapped 127.x. */
export function isLoopback(address: string): boolean {
  const v4 = /^::ffff:/i.test(address) && isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return address === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(address);
}

/** Headers a proxy adds to say whom it forwards for: a loopback request carrying one is someone else's. */
export const PROXY_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded',
  'forwarded-for',
  'x-original-forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'via',
] as const;

/** Whether a Host header names the loopback: localhost, an IPv4 address in 127/8 or [::1], with any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  const match = host === undefined ? null : /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/i.exec(host.trim());
  if (!match) return false;
  const name = match[1]!.toLowerCase();
  if (name === 'localhost') return true;
  if (name.startsWith('[')) return isLoopback(name.slice(1, -1));
  return isIPv4(name) && isLoopback(name);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Whether the Authorization header carries `token`, compared in constant time (of equal-length digests). */
function carriesToken(header: string | undefined, expected: Buffer): boolean {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
}

/** The onRequest check of /metrics: the token when one is configured, else a loopback client. */
export function metricsAccess(token: string | undefined): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const expected = token === undefined ? null : digest(token);
  return async (request, reply) => {
    if (expected) {
      if (!carriesToken(request.headers.authorization, expected)) {
        throw new LakeError('UNAUTHORIZED', '/metrics needs the metrics token: send Authorization: Bearer <LAKE_METRICS_TOKEN>');
      }
      return;
    }
    const proxied = PROXY_HEADERS.some((name) => request.headers[name] !== undefined);
    if (!isLoopback(request.ip) || proxied) {
      await reply.status(403).send({
        error: { code: 'FORBIDDEN', message: '/metrics answers loopback clients only, not through a proxy: set LAKE_METRICS_TOKEN on the server to read it from elsewhere with that token' },
      });
      return;
    }
    if (!isLoopbackHost(request.headers.host)) {
      await reply.status(403).send({
        error: {
          code: 'FORBIDDEN',
          message: '/metrics answers requests for the loopback only (Host localhost, 127.0.0.1 or [::1], any port), not for another name: set LAKE_METRICS_TOKEN on the server to read it under any name with that token',
        },
      });
    }
  };
}

export function metricsRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'Needs `Authorization: Bearer <LAKE_METRICS_TOKEN>` when the server has that setting (401 without it; users\' API keys are not accepted); ' +
          'without the setting, only clients on the loopback interface are answered, with a loopback Host (localhost, 127.0.0.1 or [::1], any port) and no proxy\'s forwarding header (403 for others).',
        tags: ['operations'],
        security: [{ metricsToken: [] }, {}],
        response: {
          200: Type.Unsafe<string>({ description: 'the metrics in Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }),
          401: ErrorBody,
          403: ErrorBody,
        },
      },
      onRequest: metricsAccess(context.lake.config.metricsToken),
    },
    async (_request, reply) => {
      const text = await context.metrics.registry.metrics();
      return reply.header('content-type', context.metrics.registry.contentType).send(text);
    },
  );
}
