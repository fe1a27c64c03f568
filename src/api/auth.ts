// Authentication of /v1 requests: `Authorization: Bearer lake_<prefix>_<secret>`. The key is
// checked on the maintenance connection (no identity exists yet); the request then carries its
// principal, and all its database work runs as that user (ApiContext.asUser).
import type { FastifyRequest } from 'fastify';
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

/** An onRequest hook: a missing, malformed, unknown or revoked key ends the request with 401. */
export function authenticate(db: Database): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (request.routeOptions.config.public) return;
    request.principal = await verifyApiKey(db, bearerToken(request.headers.authorization));
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
