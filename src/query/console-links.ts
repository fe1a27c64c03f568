// Console links: `lake console-link` makes a one-time link into the web console,
// `<base>/#link=<token>`; the console exchanges the token once (POST /v1/auth/link) for a new API
// key of the user. The token is 32 random bytes (base64url), good for CONSOLE_LINK_TTL_MS; only
// its SHA-256 is stored (lake.console_links, migration 0025), with whose it is, when it was made,
// when it expires and when it was used. Both steps run on the maintenance connection: the link is
// made by the lake's owner, and exchanged before anyone is authenticated.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../db/database.js';
import { LakeError } from '../errors.js';
import { createApiKey, type NewApiKey } from './api-keys.js';
import { userIdByName } from './users.js';

/** How long a link stays good. */
export const CONSOLE_LINK_TTL_MS = 10 * 60 * 1000;
/** Expired links are deleted this long after their expiry, when the next link is made. */
const KEPT_AFTER_EXPIRY = '7 days';
/** What the hash is looked up by; the whole hash is compared in constant time. */
const LOOKUP_BYTES = 8;

export interface ConsoleLink {
  user: string;
  token: string;
  createdAt: Date;
  expiresAt: Date;
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A new one-time link token for `userName`. */
export async function createConsoleLink(db: Database, userName: string): Promise<ConsoleLink> {
  const userId = await userIdByName(db, userName);
  const token = randomBytes(32).toString('base64url');
  const row = await db.transaction(async (tx) => {
    await tx.query(`DELETE FROM lake.console_links WHERE expires_at < now() - interval '${KEPT_AFTER_EXPIRY}'`);
    return (
      await tx.query<{ created_at: Date; expires_at: Date }>(
        `INSERT INTO lake.console_links (user_id, token_hash, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         RETURNING created_at, expires_at`,
        [userId, hashToken(token), CONSOLE_LINK_TTL_MS],
      )
    ).rows[0]!;
  });
  return { user: userName, token, createdAt: row.created_at, expiresAt: row.expires_at };
}

/** The one answer for a token that is unknown, used or expired: which of the three is not told. */
function invalidLink(): LakeError {
  return new LakeError('UNAUTHORIZED', 'the console link is not valid (unknown, already used or expired): make a new one with lake console-link');
}

/**
 * Exchange a link's token for a new API key of its user, named `console <ISO time>`. The link is
 * used up first (its row locked, so two exchanges of one token cannot both succeed); an unknown,
 * used or expired token is UNAUTHORIZED, the same answer for each.
 */
export async function exchangeConsoleLink(db: Database, token: string, now = new Date()): Promise<NewApiKey & { userId: string }> {
  const presented = hashToken(token);
  const owner = await db.transaction(async (tx) => {
    const candidates = await tx.query<{ link_id: string; user_id: string; name: string; token_hash: Uint8Array; usable: boolean }>(
      `SELECT l.link_id, l.user_id, u.name, l.token_hash, (l.used_at IS NULL AND l.expires_at > now()) AS usable
         FROM lake.console_links l JOIN user_data.users u ON u.user_id = l.user_id
        WHERE substring(l.token_hash FROM 1 FOR ${LOOKUP_BYTES}) = $1
          FOR UPDATE OF l`,
      [presented.subarray(0, LOOKUP_BYTES)],
    );
    let found: (typeof candidates.rows)[number] | undefined;
    for (const candidate of candidates.rows) {
      if (candidate.token_hash.length === presented.length && timingSafeEqual(candidate.token_hash, presented)) found = candidate;
    }
    if (!found?.usable) throw invalidLink();
    await tx.query(`UPDATE lake.console_links SET used_at = now() WHERE user_id = $1 AND link_id = $2`, [found.user_id, found.link_id]);
    return { userId: found.user_id, name: found.name };
  });
  return { ...(await createApiKey(db, owner.name, `console ${now.toISOString()}`)), userId: owner.userId };
}
