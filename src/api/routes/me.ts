// DELETE /v1/me: the key's own user erases themselves, as `lake users delete NAME --yes` does
// (query/erase.ts), after a confirmation step:
//
//   DELETE /v1/me                  nothing is deleted; 409 CONFLICT with a `confirmation` token
//   DELETE /v1/me?confirm=<token>  the token of this user and key, unexpired, unused: the erasure
//                                  runs and the answer is its result (as `lake users delete --json`)
//
// A wrong, expired, reused or another user's (or key's) token is answered like the first request:
// 409 with a fresh token, nothing deleted. After the erasure the key's row is gone, so the key no
// longer authenticates.
import { Type } from 'typebox';
import { randomBytes } from 'node:crypto';
import { ERRORS, LakeError } from '../../errors.js';
import { BACKUP_NOTE, eraseUser } from '../../query/erase.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody } from '../query-params.js';

/** How long a confirmation token stays good. */
export const CONFIRMATION_TTL_MS = 10 * 60 * 1000;

interface Pending {
  userId: string;
  keyId: string;
  expiresAt: number;
}

const ErasureResult = Type.Object(
  {
    rows: Type.Record(Type.String(), Type.Integer(), { description: 'rows deleted per table (`schema.table`), every user table listed' }),
    rowsTotal: Type.Integer(),
    uploadFilesRemoved: Type.Integer({ description: 'uploads whose files were removed' }),
    blobsRemoved: Type.Integer({ description: 'blobs only this user referenced, removed from the store' }),
    bytesFreed: Type.Integer(),
    blobsKept: Type.Integer({ description: 'blobs another user also references: kept' }),
    verified: Type.Boolean({ description: 'every table was checked after the deletes: none holds a row of the user' }),
    note: Type.String(),
  },
  { description: 'what was erased (the fields of `lake users delete --json`)' },
);

const ConfirmationNeeded = Type.Object(
  {
    error: Type.Object({ code: Type.String(), message: Type.String() }),
    confirmation: Type.String({ description: 'send the same request again with ?confirm=<this token>' }),
    expires_at: Type.String({ format: 'date-time' }),
    note: Type.String(),
  },
  { description: 'nothing was deleted: confirm with the token (single use, this user and key only)' },
);

export function meRoutes(app: ApiApp, context: ApiContext): void {
  // Tokens live in this process's memory only: the one `lake serve` process that issued a token is
  // the one that accepts it, and a restart forgets them all (the client just asks again).
  const pending = new Map<string, Pending>();

  const issue = (userId: string, keyId: string): { token: string; expiresAt: Date } => {
    const now = Date.now();
    for (const [token, entry] of pending) if (entry.expiresAt <= now) pending.delete(token);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + CONFIRMATION_TTL_MS;
    pending.set(token, { userId, keyId, expiresAt });
    return { token, expiresAt: new Date(expiresAt) };
  };

  /** The token is this user's and key's and still good: used up here (single use). */
  const redeem = (token: string, userId: string, keyId: string): boolean => {
    const entry = pending.get(token);
    if (!entry || entry.userId !== userId || entry.keyId !== keyId) return false;
    pending.delete(token);
    return entry.expiresAt > Date.now();
  };

  app.delete(
    '/me',
    {
      schema: {
        summary: "erase the key's own user: every row in every table, their keys, uploads and the blobs only they have",
        description:
          'Without `confirm`, nothing is deleted: the answer is 409 with a `confirmation` token. Repeat the request with `?confirm=<token>` within 10 minutes to erase. ' +
          `A wrong, expired, reused or another key's token gets a fresh token (409). Note: ${BACKUP_NOTE}.`,
        tags: ['users'],
        security: [{ apiKey: [] }],
        querystring: Type.Object(
          { confirm: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the token of a previous 409 answer' })) },
          { additionalProperties: false },
        ),
        response: { 200: ErasureResult, 400: ErrorBody, 401: ErrorBody, 409: ConfirmationNeeded },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const confirm = request.query.confirm;
      if (confirm === undefined || !redeem(confirm, principal.userId, principal.keyId)) {
        const { token, expiresAt } = issue(principal.userId, principal.keyId);
        const refusal = new LakeError(
          'CONFLICT',
          `${confirm === undefined ? 'erasure needs confirmation' : 'the confirmation token is not valid (wrong, expired, used, or not this key\'s)'}: ` +
            `nothing was deleted; repeat DELETE /v1/me?confirm=${token} within 10 minutes to erase user ${principal.userName} and all their data (${BACKUP_NOTE})`,
        );
        return reply
          .status(ERRORS.CONFLICT.http)
          .send({ error: { code: refusal.code, message: refusal.message }, confirmation: token, expires_at: expiresAt.toISOString(), note: BACKUP_NOTE });
      }
      // Entries of this user's earlier requests still buffered would land in audit.events after the
      // erasure: write them now, so the erasure takes them too.
      await app.accessLog.flush();
      const { lake } = context;
      const result = await eraseUser(lake.db, lake.blobs, lake.config.uploadDir, principal.userName, 'api');
      // The user is gone: this request is not logged under their id (the erasure's own audit entry
      // records that it happened, not whose).
      request.principal = null;
      return result;
    },
  );
}
