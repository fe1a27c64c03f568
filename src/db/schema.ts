// The lake's schema in a database: the extensions this backend has, the migrations, the checks
// that must hold before any user's data is touched. Run at every open (each step is idempotent and
// cheap when there is nothing to do) and when a new embedded database is made for the template.
import { APP_ROLE, type Database } from './database.js';
import { installExtensions } from './extensions.js';
import { migrate, type MigrateResult } from './migrate.js';
import type { Profile } from './profile.js';
import { LakeError } from '../errors.js';

export interface PreparedSchema {
  profile: Profile;
  migrations: MigrateResult;
}

/** Create extensions, apply pending migrations, check the application role, keep partitions ahead. */
export async function prepareSchema(db: Database, partitionMonthsAhead: number): Promise<PreparedSchema> {
  const notes = await installExtensions(db);
  const profile = withNotes(await db.detectProfile(), notes);
  const migrations = await migrate(db, profile);
  await assertAppRoleIsSafe(db);
  await db.query(`SELECT lake.ensure_upcoming_partitions($1)`, [partitionMonthsAhead]);
  return { profile, migrations };
}

function withNotes(profile: Profile, notes: Partial<Record<keyof Profile['extensions'], string>>): Profile {
  for (const [name, note] of Object.entries(notes)) {
    const status = profile.extensions[name as keyof Profile['extensions']];
    if (status && !status.installed) status.note = note;
  }
  return profile;
}

/**
 * Refuse to run when the application role could see across users: a superuser or BYPASSRLS role
 * ignores policies, and a table owner is exempt unless RLS is forced (checked by the tests).
 */
export async function assertAppRoleIsSafe(db: Database): Promise<void> {
  const role = await db.query<{ rolsuper: boolean; rolbypassrls: boolean; owned: number }>(
    `SELECT r.rolsuper, r.rolbypassrls,
            (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relpersistence <> 't')::int
              + (SELECT count(*) FROM pg_namespace n WHERE n.nspowner = r.oid)::int AS owned
       FROM pg_roles r WHERE r.rolname = $1`,
    [APP_ROLE],
  );
  const row = role.rows[0];
  if (!row) throw new LakeError('DB_UNSAFE_ROLE', `the application role ${APP_ROLE} does not exist: run lake migrate`);
  const problems = [
    row.rolsuper && 'is a superuser',
    row.rolbypassrls && 'has BYPASSRLS',
    row.owned > 0 && `owns ${row.owned} database objects`,
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new LakeError('DB_UNSAFE_ROLE', `refusing to run: the application role ${APP_ROLE} ${problems.join(' and ')}, so row-level security would not isolate users`);
  }
}
