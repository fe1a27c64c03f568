// Users: the people whose data the lake holds. A user is made on the maintenance connection (an
// administrative act, like an import's user on first use); everything that user owns is then read
// and written as them (Database.asUser), under row-level security. Names are what people type
// (`lake import --user`, `lake keys create --user`), so they follow one rule, USER_NAME_PATTERN.
import type { Database } from '../db/database.js';
import { LakeError } from '../errors.js';

export const USER_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface User {
  userId: string;
  name: string;
}

export interface UserSummary extends User {
  createdAt: Date;
  activeKeys: number;
}

/**
 * USAGE unless `name` follows the rule; `what` names it in the message (`--user x`), by default
 * `user name "x"`.
 */
export function assertUserName(name: string, what = `user name ${JSON.stringify(name)}`): void {
  if (!USER_NAME_PATTERN.test(name)) {
    throw new LakeError('USAGE', `${what} is not valid: expected lower-case letters, digits, '.', '_' or '-' (up to 63)`);
  }
}

/** A new user; ALREADY_EXISTS when the name is taken. */
export async function createUser(db: Database, name: string): Promise<User> {
  assertUserName(name);
  const r = await db.query<{ user_id: string }>(
    `INSERT INTO user_data.users (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING user_id`,
    [name],
  );
  if (!r.rows[0]) throw new LakeError('ALREADY_EXISTS', `user ${name} already exists`);
  return { userId: r.rows[0].user_id, name };
}

/** The id of the user with this name, made on first use (`lake import --user`). */
export async function ensureUser(db: Database, name: string): Promise<string> {
  assertUserName(name);
  const r = await db.query<{ user_id: string }>(
    `WITH inserted AS (INSERT INTO user_data.users (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING user_id)
     SELECT user_id FROM inserted UNION ALL SELECT user_id FROM user_data.users WHERE name = $1 LIMIT 1`,
    [name],
  );
  return r.rows[0]!.user_id;
}

/** The id of the user with this name; NOT_FOUND when there is none. */
export async function userIdByName(db: Database, name: string): Promise<string> {
  assertUserName(name);
  const r = await db.query<{ user_id: string }>(`SELECT user_id FROM user_data.users WHERE name = $1`, [name]);
  if (!r.rows[0]) throw new LakeError('NOT_FOUND', `no user ${name}: create it with lake users create ${name}`);
  return r.rows[0].user_id;
}

/** Every user by name, with how many API keys they have that are not revoked. */
export async function listUsers(db: Database): Promise<UserSummary[]> {
  const users = await db.query<{ user_id: string; name: string; created_at: Date }>(
    `SELECT user_id, name, created_at FROM user_data.users ORDER BY name`,
  );
  const result: UserSummary[] = [];
  for (const user of users.rows) {
    // Counted as the user: keys are that user's data.
    const keys = await db.asUser(user.user_id, (tx) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM user_data.api_keys WHERE revoked_at IS NULL`),
    );
    result.push({ userId: user.user_id, name: user.name, createdAt: user.created_at, activeKeys: keys.rows[0]!.n });
  }
  return result;
}
