// Every failure of the API becomes `{ "error": { "code", "message" } }` with the HTTP status of its
// code in the catalogue (src/errors.ts): one place, for every route and for unknown routes.
import type { FastifyError, FastifyInstance } from 'fastify';
import { ERRORS, LakeError, type ErrorCode } from '../errors.js';

export interface ErrorResponse {
  status: number;
  code: ErrorCode;
  message: string;
}

/** Framework statuses (malformed JSON, wrong content type, body too large...) to catalogue codes. */
const FRAMEWORK_STATUS_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'NOT_READY',
};

/** SQLSTATE 57014 (query_canceled: statement_timeout) or Fastify's handlerTimeout: the request ran too long. */
function isTimeout(error: { code?: unknown }): boolean {
  return error.code === '57014' || error.code === 'FST_ERR_HANDLER_TIMEOUT';
}

/** Connection failures (SQLSTATE class 08, server shutting down 57P0x, sockets): the database is away. */
function isDatabaseUnreachable(error: { code?: unknown }): boolean {
  const code = typeof error.code === 'string' ? error.code : '';
  return /^08/.test(code) || /^57P0[1-3]$/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code);
}

export function describeError(error: unknown): ErrorResponse {
  if (error instanceof LakeError) return { status: error.httpStatus, code: error.code, message: error.message };
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) {
    return { status: 400, code: 'INVALID_REQUEST', message: fastifyError.message ?? 'invalid request' };
  }
  if (typeof error === 'object' && error !== null && isTimeout(error)) {
    return { status: ERRORS.TIMEOUT.http, code: 'TIMEOUT', message: 'the request took longer than the server allows (LAKE_API_TIMEOUT_MS)' };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, code: FRAMEWORK_STATUS_CODES[status] ?? 'INVALID_REQUEST', message: fastifyError.message ?? 'invalid request' };
  }
  if (typeof error === 'object' && error !== null && isDatabaseUnreachable(error)) {
    return { status: ERRORS.DB_UNREACHABLE.http, code: 'DB_UNREACHABLE', message: 'the database cannot be reached' };
  }
  // Anything else is a fault of the lake: logged in full, answered without internals.
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { status, code, message } = describeError(error);
    if (status >= 500) request.log.error({ err: error }, `${request.method} ${request.url} failed`);
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="lake"');
    return reply.status(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
}
