// API keys, made for a user (users.ts) to use the HTTP API. A key is `lake_<prefix>_<secret>`: the
// prefix (6 random bytes, hex) finds the row, the secret (32 random bytes, base64url) proves
// possession. Only the secret's SHA-256 is stored. A fast hash is enough here because the secret
// is 256 bits of randomness: no dictionary or brute force can reach it, which is what slow
// password hashes (bcrypt, scrypt, Argon2) exist to slow down for human-chosen passwords; a slow
// hash would only add CPU per request.
//
// Keys are made, listed and revoked as their user, under row-level security. Only the lookups by
// prefix or id, which happen before any identity exists, read api_keys on the maintenance
// connection.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { LakeError } from '../errors.js';
import { UUID_PATTERN } from './ids.js';
import { userIdByName } from './users.js';

const KEY_PATTERN = /^lake_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const PREFIX_PATTERN = /^[0-9a-f]{12}$/;

/** Who a request acts as, once its key is verified. */
export interface Principal {
  userId: string;
  userName: string;
  keyId: string;
}

export interface ApiKeySummary {
  keyId: string;
  prefix: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey extends ApiKeySummary {
  userName: string;
  /** The whole key, `lake_<prefix>_<secret>`: shown once, never stored. */
  key: string;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export async function createApiKey(db: Database, userName: string, label = ''): Promise<NewApiKey> {
  const userId = await userIdByName(db, userName);
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const row = await db.asUser(userId, (tx) =>
    tx.query<KeyRow>(
      `INSERT INTO user_data.api_keys (user_id, prefix, secret_hash, name) VALUES ($1, $2, $3, $4)
       RETURNING key_id, prefix, name, created_at, last_used_at, revoked_at`,
      [userId, prefix, hashSecret(secret), label],
    ),
  );
  return { ...toSummary(row.rows[0]!), userName, key: `lake_${prefix}_${secret}` };
}

export async function listApiKeys(db: Database, userName: string): Promise<ApiKeySummary[]> {
  const userId = await userIdByName(db, userName);
  const rows = await db.asUser(userId, (tx) =>
    tx.query<KeyRow>(`SELECT key_id, prefix, name, created_at, last_used_at, revoked_at FROM user_data.api_keys ORDER BY created_at, key_id`),
  );
  return rows.rows.map(toSummary);
}

/**
 * Revoke a key by its id (a UUID) or its prefix (the 12 hex digits after `lake_`, so a key seen in
 * a log can be revoked). Revoking a revoked key changes nothing and says when it was revoked.
 */
export async function revokeApiKey(db: Database, keyIdOrPrefix: string): Promise<ApiKeySummary & { userName: string }> {
  const byId = UUID_PATTERN.test(keyIdOrPrefix.toLowerCase());
  if (!byId && !PREFIX_PATTERN.test(keyIdOrPrefix)) {
    throw new LakeError('USAGE', `${keyIdOrPrefix} is not a key id: expected a UUID or the 12 hex digits after lake_`);
  }
  // Whose key it is, before acting as that user: the same kind of lookup as authentication.
  const owners = await db.query<{ user_id: string; name: string; key_id: string }>(
    `SELECT k.user_id, u.name, k.key_id FROM user_data.api_keys k JOIN user_data.users u ON u.user_id = k.user_id
      WHERE ${byId ? 'k.key_id = $1::uuid' : 'k.prefix = $1'}`,
    [keyIdOrPrefix.toLowerCase()],
  );
  if (owners.rows.length === 0) throw new LakeError('NOT_FOUND', `no API key ${keyIdOrPrefix}`);
  if (owners.rows.length > 1) throw new LakeError('USAGE', `${keyIdOrPrefix} names ${owners.rows.length} keys: give the key id`);
  const owner = owners.rows[0]!;
  const row = await db.asUser(owner.user_id, (tx) =>
    tx.query<KeyRow>(
      `UPDATE user_data.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1
       RETURNING key_id, prefix, name, created_at, last_used_at, revoked_at`,
      [owner.key_id],
    ),
  );
  return { ...toSummary(row.rows[0]!), userName: owner.name };
}

/**
 * The principal a presented key stands for, or UNAUTHORIZED. Every candidate with the prefix is
 * compared in constant time; response timing can tell whether a prefix exists, which is harmless
 * without the 256-bit secret.
 */
export async function verifyApiKey(db: Database, presented: string): Promise<Principal> {
  const match = KEY_PATTERN.exec(presented);
  if (!match) throw new LakeError('UNAUTHORIZED', 'the API key is not valid');
  const [, prefix, secret] = match as unknown as [string, string, string];
  const candidates = await db.query<{ user_id: string; name: string; key_id: string; secret_hash: Uint8Array; revoked_at: Date | null }>(
    `SELECT k.user_id, u.name, k.key_id, k.secret_hash, k.revoked_at
       FROM user_data.api_keys k JOIN user_data.users u ON u.user_id = k.user_id
      WHERE k.prefix = $1`,
    [prefix],
    { prepare: true }, // once per request
  );
  const presentedHash = hashSecret(secret);
  let found: (typeof candidates.rows)[number] | undefined;
  for (const candidate of candidates.rows) {
    if (candidate.secret_hash.length === presentedHash.length && timingSafeEqual(candidate.secret_hash, presentedHash)) found = candidate;
  }
  if (!found) throw new LakeError('UNAUTHORIZED', 'the API key is not valid');
  if (found.revoked_at) throw new LakeError('UNAUTHORIZED', 'the API key was revoked');
  return { userId: found.user_id, userName: found.name, keyId: found.key_id };
}

/**
 * Records when keys were last used: `lastUse` maps key ids to their latest use; a key keeps a
 * later time it already has. Runs in `tx`, opened as the keys' user.
 */
export async function recordKeysUsed(tx: Queryable, lastUse: ReadonlyMap<string, Date>): Promise<void> {
  await tx.query(
    `UPDATE user_data.api_keys k SET last_used_at = u.at
       FROM unnest($1::uuid[], $2::timestamptz[]) AS u(key_id, at)
      WHERE k.key_id = u.key_id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`,
    [[...lastUse.keys()], [...lastUse.values()]],
    { prepare: true },
  );
}

interface KeyRow {
  key_id: string;
  prefix: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function toSummary(row: KeyRow): ApiKeySummary {
  return {
    keyId: row.key_id,
    prefix: row.prefix,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
