// SQL access for users: a PostgreSQL login role per lake user, for psql, QGIS, Grafana and
// `lake sql`, that shows that user their own rows and nothing of anyone else's (issue 17).
//
// The boundary (migration 0022_sql_access.sql):
//   * `lake users sql-access NAME` makes the login role lake_<first 8 hex digits of the lake id>_NAME
//     (roles are the whole server's: the lake id keeps two lakes on one server apart), a member of
//     the NOLOGIN group lake_sql and of nothing else, with a generated password shown once. The
//     password never reaches the server: it gets the SCRAM-SHA-256 verifier made here, as a client
//     does with \password. Running the command again gives a new password.
//   * Identity is fixed by the role: lake.current_user_id(), which every row-level-security policy
//     calls, trusts the settable lake.user_id only for lake_app (the API's transactions, where the
//     maintenance connection sets role and identity in one statement). For every other role it is
//     the user whose login role current_user is (lake.login_user_id, a SECURITY INVOKER function
//     over the view lake.sql_login since migration 0028: it answers for the caller's own role
//     only, also on the embedded SQL port, where session_user is PGlite's superuser). A login role
//     cannot SET ROLE to another user's role or lake_app (it is a member of lake_sql only), nor
//     SET SESSION AUTHORIZATION. set_config('lake.user_id', ...) is ignored for it. lake_app is
//     NOLOGIN and no login role is its member, so no SQL client reaches the settable identity; the
//     lake itself never runs a client's SQL as lake_app.
//   * Login roles may SELECT what lake_app may, nothing more; row-level security shows their own
//     rows. They write nothing, own nothing, make no temporary tables and call no lock, sleep or
//     DDL helper function (migration 0028).
//   * pg_stats / pg_stats_ext: PostgreSQL leaves out tables under row-level security for a role
//     RLS applies to. TimescaleDB's chunks copy table-level grants without the policies, so their
//     statistics (every user's most common values) were visible; on time-partitioned tables the
//     grants are now per column, which chunks do not copy.
//
// On the embedded database (PGlite) the roles and policies are the same, but there is one database
// session, PostgreSQL's superuser, and no login. `lake sql` switches that session to the user's
// role for each statement (SET LOCAL ROLE), which keeps a user's queries to their rows; but a
// superuser's session may SET ROLE back, so this is no boundary: whoever runs `lake sql` on an
// embedded lake holds its data directory anyway. (SET LOCAL SESSION AUTHORIZATION was tried: in
// PGlite 0.4 it outlives its transaction and RESET does not undo it.)
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database, Queryable, Transaction } from '../db/database.js';
import { LakeError } from '../errors.js';
import { assertUserName } from './users.js';

/** The group role every user's login role belongs to (migration 0022). */
export const SQL_GROUP_ROLE = 'lake_sql';
const MAX_ROLE_NAME = 63;
const SCRAM_ITERATIONS = 4096;

export interface SqlAccess {
  userName: string;
  userId: string;
  /** The login role: psql -U <role>. */
  role: string;
  /** Shown once; the server keeps only its SCRAM verifier. */
  password: string;
}

/** The login role for `userName` in the lake `lakeId`: lake_<8 hex digits>_<name>, at most 63 characters. */
export function sqlRoleName(lakeId: string, userName: string): string {
  const prefix = `lake_${lakeId.replace(/-/g, '').slice(0, 8)}_`;
  if (prefix.length + userName.length <= MAX_ROLE_NAME) return prefix + userName;
  // A long name keeps its start and gets a digest of the whole, so that two never meet.
  const digest = createHash('sha256').update(userName).digest('hex').slice(0, 12);
  return `${prefix}${userName.slice(0, MAX_ROLE_NAME - prefix.length - digest.length - 1)}-${digest}`;
}

/** The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802, 7677; PostgreSQL's format). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Whether `password` matches a stored SCRAM-SHA-256 verifier. */
export function checkScramPassword(password: string, verifier: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m) return false;
  const expected = Buffer.from(m[3]!, 'base64');
  const actual = Buffer.from(scramVerifier(password, Buffer.from(m[2]!, 'base64'), Number(m[1])).split('$')[2]!.split(':')[0]!, 'base64');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

async function lakeId(tx: Queryable): Promise<string> {
  const r = await tx.query<{ lake_id: string }>(`SELECT lake_id::text FROM lake.identity`);
  if (!r.rows[0]) throw new LakeError('DB_ERROR', 'this database has no lake id (lake.identity): run lake migrate');
  return r.rows[0].lake_id;
}

async function userRow(tx: Queryable, name: string): Promise<{ user_id: string; sql_role: string | null }> {
  const r = await tx.query<{ user_id: string; sql_role: string | null }>(`SELECT user_id, sql_role FROM user_data.users WHERE name = $1`, [name]);
  if (!r.rows[0]) throw new LakeError('NOT_FOUND', `no user ${name}: create it with lake users create ${name}`);
  return r.rows[0];
}

/**
 * Give `userName` SQL access: the login role (made on first use) and a new password, returned once.
 * On the maintenance connection, which must be allowed to create roles.
 */
export async function grantSqlAccess(db: Database, userName: string): Promise<SqlAccess> {
  assertUserName(userName);
  const password = randomBytes(24).toString('base64url');
  return db.transaction(async (tx) => {
    const user = await userRow(tx, userName);
    const role = user.sql_role ?? sqlRoleName(await lakeId(tx), userName);
    const exists = await tx.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [role]);
    // Utility statements take no parameters: the name and the verifier are quoted here.
    const verifier = quoteLiteral(scramVerifier(password));
    if (exists.rows.length === 0) {
      await tx.query(
        `CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT PASSWORD ${verifier}`,
      );
    } else {
      await tx.query(`ALTER ROLE ${quoteIdent(role)} LOGIN PASSWORD ${verifier}`);
    }
    await assertOnlyMemberOfGroup(tx, role);
    await tx.query(`GRANT ${SQL_GROUP_ROLE} TO ${quoteIdent(role)}`);
    await tx.query(`UPDATE user_data.users SET sql_role = $2 WHERE user_id = $1`, [user.user_id, role]);
    return { userName, userId: user.user_id, role, password };
  });
}

/** A role found already there (another lake's, or made by hand) must not carry more than lake_sql. */
async function assertOnlyMemberOfGroup(tx: Queryable, role: string): Promise<void> {
  const r = await tx.query<{ rolsuper: boolean; rolbypassrls: boolean; groups: string[] }>(
    `SELECT r.rolsuper, r.rolbypassrls,
            array(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS groups
       FROM pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  const row = r.rows[0]!;
  const extra = row.groups.filter((g) => g !== SQL_GROUP_ROLE);
  if (row.rolsuper || row.rolbypassrls || extra.length > 0) {
    throw new LakeError('ALREADY_EXISTS', `the role ${role} exists with more rights than SQL access gives (${[
      row.rolsuper ? 'superuser' : '',
      row.rolbypassrls ? 'bypassrls' : '',
      ...extra,
    ].filter(Boolean).join(', ')}): drop it or choose another user name`);
  }
}

/** Take SQL access away: the login role is dropped; the user and their data stay. */
export async function revokeSqlAccess(db: Database, userName: string): Promise<{ role: string | null }> {
  assertUserName(userName);
  return db.transaction(async (tx) => {
    const user = await userRow(tx, userName);
    if (!user.sql_role) return { role: null };
    await tx.query(`UPDATE user_data.users SET sql_role = NULL WHERE user_id = $1`, [user.user_id]);
    await tx.query(`DROP ROLE IF EXISTS ${quoteIdent(user.sql_role)}`);
    return { role: user.sql_role };
  });
}

/** The login role of `userName`; NOT_FOUND when it has no SQL access yet. */
export async function sqlRoleOf(db: Database, userName: string): Promise<string> {
  const user = await userRow(db, userName);
  if (!user.sql_role) throw new LakeError('NOT_FOUND', `user ${userName} has no SQL access: lake users sql-access ${userName}`);
  return user.sql_role;
}

/** The stored SCRAM verifier of a login role of this lake, or null (no such role, or no password). */
export async function sqlRoleVerifier(db: Database, role: string): Promise<string | null> {
  const r = await db.query<{ rolpassword: string | null }>(
    `SELECT a.rolpassword FROM pg_authid a JOIN user_data.users u ON u.sql_role = a.rolname WHERE a.rolname = $1 AND a.rolcanlogin`,
    [role],
  );
  return r.rows[0]?.rolpassword ?? null;
}

/** Embedded database: `work` in a transaction as the login role `role` (SET LOCAL ROLE). No boundary: see above. */
export function asSqlRole<T>(db: Database, role: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
    return work(tx);
  });
}
