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
import rateLimit from '@fastify/rate-limit';
import type { FastifyServerOptions } from 'fastify';
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';
import { LakeError, type ErrorCode } from '../errors.js';
import type { ApiApp } from './context.js';

/** Ingestion reads and loads up to LAKE_API_INGEST_BODY_LIMIT_BYTES: it gets this many times the usual time. */
export const INGEST_TIMEOUT_FACTOR = 10;
/** What is left of a request beyond its queries: serialization, the network. */
const HANDLER_SLACK_MS = 1000;

export type ApiLimits = Pick<Config, 'apiBodyLimitBytes' | 'apiIngestBodyLimitBytes' | 'apiRateLimit' | 'apiTimeoutMs' | 'apiIdleTimeoutMs'>;

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
 * scope, after the authentication hook is added: the key is known by then).
 */
export async function registerRateLimit(app: ApiApp, limits: ApiLimits): Promise<void> {
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
