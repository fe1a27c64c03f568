// Authentication of /v1 requests: `Authorization: Bearer lake_<prefix>_<secret>`. The key is
// checked on the maintenance connection (no identity exists yet); the request then carries its
// principal, and all its database work runs as that user (ApiContext.asUser).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { LakeError } from '../errors.js';
import { verifyApiKey, type Principal } from '../query/api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts as; set by `authenticate` on the /v1 routes, null elsewhere. */
    principal: Principal | null;
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A /v1 route open without a key (tus discovery): it reads no user data. */
    public?: boolean;
  }
}

/**
 * An onRequest hook: a missing, malformed, unknown or revoked key ends the request with 401. A
 * client past LAKE_API_AUTH_FAILURE_LIMIT refused keys in a minute gets 429 with Retry-After
 * before its key is looked up (limits.ts; the limit is the scope's `authFailures`).
 */
export function authenticate(db: Database): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    if (request.routeOptions.config.public) return;
    const key = bearerToken(request.headers.authorization);
    const limit = request.server.authFailures;
    if (limit) {
      const waitMs = limit.retryAfterMs(request.ip, key);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        reply.header('retry-after', String(seconds));
        throw new LakeError(
          'RATE_LIMITED',
          `more than ${limit.max} refused API keys a minute from this address: retry in ${seconds} s (LAKE_API_AUTH_FAILURE_LIMIT)`,
        );
      }
    }
    try {
      request.principal = await verifyApiKey(db, key);
    } catch (error) {
      if (limit && error instanceof LakeError && error.code === 'UNAUTHORIZED') limit.refused(request.ip);
      throw error;
    }
    limit?.accepted(key);
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new LakeError('UNAUTHORIZED', 'this route needs an API key');
  return request.principal;
}

function bearerToken(header: string | undefined): string {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  if (!match) throw new LakeError('UNAUTHORIZED', 'missing API key: send Authorization: Bearer <key>');
  return match[1]!;
}
