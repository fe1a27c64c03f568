// Limits of the API, from the configuration (README: LAKE_API_* settings):
// - Body size: LAKE_API_BODY_LIMIT_BYTES for bodies Fastify reads itself (JSON), over it 413
//   PAYLOAD_TOO_LARGE before the handler runs; the NDJSON ingestion routes stream their bodies and
//   count against LAKE_API_INGEST_BODY_LIMIT_BYTES themselves (routes/ingest.ts).
// - Rate: LAKE_API_RATE_LIMIT requests per minute per API key (@fastify/rate-limit, in memory, a
//   fixed window per key), over it 429 RATE_LIMITED with Retry-After. Counted after authentication,
//   so requests without a valid key are refused with 401 and never counted against anybody.
// - Time: LAKE_API_TIMEOUT_MS is the statement_timeout of every query a request runs (set in its
//   transaction), and the request as a whole gets one second more (Fastify's handlerTimeout) for
//   what is not a query: 503 TIMEOUT either way. Ingestion routes get INGEST_TIMEOUT_FACTOR times
//   as long, since they read a large body while loading it. The embedded database (PGlite) has no
//   timer signals and ignores statement_timeout: there the handler timeout still answers 503, but
//   the query runs to its end. LAKE_API_IDLE_TIMEOUT_MS closes a
//   connection on which no byte has moved for that long (a stalled client), and a request whose
//   headers are not complete within Node's headersTimeout gets 408 REQUEST_TIMEOUT.
// - Refused keys: LAKE_API_AUTH_FAILURE_LIMIT refused API keys (malformed, unknown, revoked) per
//   minute per client address (IPv6: per /64, which one client holds), a fixed window from the
//   first refusal. Past it, a request from that address carrying a key gets 429 RATE_LIMITED with
//   Retry-After before its key is looked up, so guessing keys costs the database nothing; a key
//   this server accepted within the last minute is still looked up (and so still works), and
//   accepted keys are never counted. Requests without a key are not counted (they cost no lookup).
import rateLimit from '@fastify/rate-limit';
import type { FastifyServerOptions } from 'fastify';
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6, type Socket } from 'node:net';
import type { Config } from '../config/config.js';
import { LakeError, type ErrorCode } from '../errors.js';
import type { ApiApp } from './context.js';

/** Ingestion reads and loads up to LAKE_API_INGEST_BODY_LIMIT_BYTES: it gets this many times the usual time. */
export const INGEST_TIMEOUT_FACTOR = 10;
/** What is left of a request beyond its queries: serialization, the network. */
const HANDLER_SLACK_MS = 1000;

export type ApiLimits = Pick<Config, 'apiBodyLimitBytes' | 'apiIngestBodyLimitBytes' | 'apiRateLimit' | 'apiAuthFailureLimit' | 'apiTimeoutMs' | 'apiIdleTimeoutMs'>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The refused-key limit of the /v1 scope (registerRateLimit); the authentication hook consults it. */
    authFailures?: AuthFailureLimit;
  }
}

/** Addresses (or accepted keys) remembered at most: past it, expired entries go, then the oldest. */
const MAX_TRACKED = 100_000;

/** The client an address stands for: an IPv4 address (also IPv4-mapped), or an IPv6 address's /64. */
export function clientOf(address: string): string {
  const mapped = /^::ffff:/i.test(address) ? address.slice(7) : address;
  if (isIPv4(mapped)) return mapped;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Refused API keys per client in a fixed window (LAKE_API_AUTH_FAILURE_LIMIT a minute), in memory.
 * `retryAfterMs` is asked before a key is looked up; `refused` and `accepted` after.
 */
export class AuthFailureLimit {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();
  /** SHA-256 of keys accepted within the window, and when. */
  private readonly acceptedKeys = new Map<string, number>();

  constructor(
    readonly max: number,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when a request from `address` with `key` may be looked up; else the milliseconds until it may. */
  retryAfterMs(address: string, key: string): number {
    const entry = this.failures.get(clientOf(address));
    const now = this.now();
    if (!entry || entry.resetAt <= now || entry.count < this.max) return 0;
    const acceptedAt = this.acceptedKeys.get(digest(key));
    if (acceptedAt !== undefined && acceptedAt + this.windowMs > now) return 0;
    return entry.resetAt - now;
  }

  refused(address: string): void {
    const client = clientOf(address);
    const now = this.now();
    const entry = this.failures.get(client);
    if (entry && entry.resetAt > now) entry.count++;
    else {
      this.failures.delete(client);
      this.failures.set(client, { count: 1, resetAt: now + this.windowMs });
      prune(this.failures, (value) => value.resetAt <= now);
    }
  }

  accepted(key: string): void {
    const hash = digest(key);
    const now = this.now();
    this.acceptedKeys.delete(hash);
    this.acceptedKeys.set(hash, now);
    prune(this.acceptedKeys, (at) => at + this.windowMs <= now);
  }
}

const digest = (key: string): string => createHash('sha256').update(key).digest('base64');

/** Past MAX_TRACKED entries: the expired go, then the oldest (a Map iterates in insertion order). */
function prune<V>(map: Map<string, V>, expired: (value: V) => boolean): void {
  if (map.size <= MAX_TRACKED) return;
  for (const [name, value] of map) if (expired(value)) map.delete(name);
  for (const name of map.keys()) {
    if (map.size <= MAX_TRACKED) break;
    map.delete(name);
  }
}

/** The handler timeout of ordinary routes (0: none). */
export function handlerTimeoutMs(limits: ApiLimits): number {
  return limits.apiTimeoutMs === 0 ? 0 : limits.apiTimeoutMs + HANDLER_SLACK_MS;
}

/** The handler timeout of the ingestion routes: INGEST_TIMEOUT_FACTOR times the query timeout, plus the slack (0: none). */
export function ingestHandlerTimeoutMs(limits: ApiLimits): number {
  return limits.apiTimeoutMs === 0 ? 0 : limits.apiTimeoutMs * INGEST_TIMEOUT_FACTOR + HANDLER_SLACK_MS;
}

/** Fastify options for the limits: body size, timeouts, and errors on the socket as JSON. */
export function limitOptions(limits: ApiLimits): Pick<FastifyServerOptions, 'bodyLimit' | 'connectionTimeout' | 'handlerTimeout' | 'clientErrorHandler'> {
  return {
    bodyLimit: limits.apiBodyLimitBytes,
    connectionTimeout: limits.apiIdleTimeoutMs,
    handlerTimeout: handlerTimeoutMs(limits),
    clientErrorHandler: writeClientError,
  };
}

/**
 * Errors Node raises before a request exists (headers too slow, too large, not HTTP): answered in
 * the API's error shape on the raw socket, which is then closed (Fastify's default says the same
 * in another shape).
 */
function writeClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let code: ErrorCode = 'INVALID_REQUEST';
  let message = 'the request could not be read as HTTP';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    [status, code, message] = [408, 'REQUEST_TIMEOUT', 'the request was not received in time'];
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    [status, code, message] = [431, 'INVALID_REQUEST', 'the request headers are too large'];
  }
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

/**
 * The per-key rate limit on every route declared after this in `app` (call it inside the /v1
 * scope, after the authentication hook is added: the key is known by then), and the refused-key
 * limit per client address the authentication hook of that scope consults (auth.ts).
 */
export async function registerRateLimit(app: ApiApp, limits: ApiLimits): Promise<void> {
  if (limits.apiAuthFailureLimit > 0) app.decorate('authFailures', new AuthFailureLimit(limits.apiAuthFailureLimit));
  if (limits.apiRateLimit === 0) return;
  await app.register(rateLimit, {
    max: limits.apiRateLimit,
    timeWindow: 60_000,
    // The authentication hook runs first (instance hooks before route hooks), so every request
    // counted here has a principal; the address is a fallback that should never be used.
    keyGenerator: (request) => (request.principal ? `key:${request.principal.keyId}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new LakeError('RATE_LIMITED', `more than ${context.max} requests a minute with this API key: retry in ${context.after} (LAKE_API_RATE_LIMIT)`),
        { statusCode: 429 },
      ),
  });
}
