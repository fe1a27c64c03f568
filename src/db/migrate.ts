// Migrations: numbered .sql files in ./migrations, each applied in its own transaction and
// recorded in lake.migrations with its checksum. A file may declare `-- requires: ext, ...`:
// when this backend lacks one of those extensions it is recorded as skipped (its features stay
// off) and applied by a later `lake migrate` once the extension is there. Concurrent runners
// serialize on an advisory lock and re-check, so two never apply the same file.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { LakeError } from '../errors.js';
import type { Database } from './database.js';
import { hasExtensions, type Profile } from './profile.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** Arbitrary constant that names the lake's migration lock. */
const MIGRATION_LOCK = 4_736_201;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
  requires: string[];
}

export type MigrationState = 'applied' | 'skipped' | 'pending' | 'changed';

export interface MigrationStatus {
  version: number;
  name: string;
  state: MigrationState;
  /** For skipped migrations: the extensions they wait for. */
  reason: string | null;
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8');
      const requires = /^--\s*requires:\s*(.+)$/m.exec(sql)?.[1]?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
        requires,
      };
    }),
  );
}

async function ensureLedger(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.exec(`
      CREATE SCHEMA IF NOT EXISTS lake;
      CREATE TABLE IF NOT EXISTS lake.migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        status text NOT NULL CHECK (status IN ('applied', 'skipped')),
        reason text,
        recorded_at timestamptz NOT NULL DEFAULT now()
      );`);
  });
}

interface LedgerRow {
  version: number;
  checksum: string;
  status: 'applied' | 'skipped';
  reason: string | null;
}

async function readLedger(db: Pick<Database, 'query'>): Promise<Map<number, LedgerRow>> {
  const exists = await db.query<{ present: boolean }>(`SELECT to_regclass('lake.migrations') IS NOT NULL AS present`);
  if (!exists.rows[0]?.present) return new Map();
  const rows = await db.query<LedgerRow>(`SELECT version, checksum, status, reason FROM lake.migrations`);
  return new Map(rows.rows.map((r) => [r.version, r]));
}

/** The state of every migration, without changing anything (for `doctor` and `migrate --dry-run`). */
export async function migrationStatus(db: Database, profile: Profile): Promise<MigrationStatus[]> {
  const ledger = await readLedger(db);
  return (await loadMigrations()).map((m) => {
    const row = ledger.get(m.version);
    let state: MigrationState;
    if (row?.status === 'applied') state = row.checksum === m.checksum ? 'applied' : 'changed';
    else if (row?.status === 'skipped' || !canInstall(profile, m.requires)) state = 'skipped';
    else state = 'pending';
    return { version: m.version, name: m.name, state, reason: state === 'skipped' ? missingReason(profile, m) : null };
  });
}

export interface MigrateResult {
  applied: MigrationStatus[];
  skipped: MigrationStatus[];
}

/**
 * Apply every pending migration whose requirements are met; record the others as skipped.
 * `through`: stop after that version (tests build a lake as an older release left it).
 */
export async function migrate(db: Database, profile: Profile, options: { through?: number } = {}): Promise<MigrateResult> {
  const result: MigrateResult = { applied: [], skipped: [] };
  const migrations = await loadMigrations();
  // Every open migrates: when the ledger already says what this would, two reads and no transaction.
  const ledger = await readLedger(db);
  if (options.through === undefined && migrations.every((m) => isRecorded(ledger.get(m.version), m, profile))) return result;
  await ensureLedger(db);
  for (const migration of migrations) {
    if (options.through !== undefined && migration.version > options.through) break;
    const outcome = await db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      const row = (await readLedger(tx)).get(migration.version);
      if (row?.status === 'applied') {
        if (row.checksum !== migration.checksum) {
          throw new LakeError(
            'MIGRATION_CHANGED',
            `migration ${migration.version} (${migration.name}) was changed after it was applied; add a new migration instead`,
          );
        }
        return null;
      }
      if (!hasExtensions(profile, migration.requires)) {
        const reason = missingReason(profile, migration);
        if (row?.status === 'skipped' && row.reason === reason) return null;
        await tx.query(
          `INSERT INTO lake.migrations (version, name, checksum, status, reason) VALUES ($1, $2, $3, 'skipped', $4)
           ON CONFLICT (version) DO UPDATE SET checksum = $3, reason = $4, recorded_at = now()`,
          [migration.version, migration.name, migration.checksum, reason],
        );
        return 'skipped' as const;
      }
      try {
        await tx.exec(migration.sql);
      } catch (cause) {
        const detail = cause instanceof Error ? cause.message : String(cause);
        throw new LakeError('MIGRATION_FAILED', `migration ${migration.version} (${migration.name}) failed: ${detail}`, { cause });
      }
      await tx.query(
        `INSERT INTO lake.migrations (version, name, checksum, status) VALUES ($1, $2, $3, 'applied')
         ON CONFLICT (version) DO UPDATE SET checksum = $3, status = 'applied', reason = NULL, recorded_at = now()`,
        [migration.version, migration.name, migration.checksum],
      );
      return 'applied' as const;
    });
    if (outcome) {
      const status: MigrationStatus = {
        version: migration.version,
        name: migration.name,
        state: outcome,
        reason: outcome === 'skipped' ? missingReason(profile, migration) : null,
      };
      result[outcome].push(status);
    }
  }
  return result;
}

/** Whether the ledger's row says what migrating would: applied as it is, or skipped for the same reason. */
function isRecorded(row: LedgerRow | undefined, migration: Migration, profile: Profile): boolean {
  if (row?.status === 'applied') return row.checksum === migration.checksum;
  return row?.status === 'skipped' && !hasExtensions(profile, migration.requires) && row.reason === missingReason(profile, migration);
}

/** Whether `lake migrate` could meet these requirements (the extensions are at least available). */
function canInstall(profile: Profile, needs: readonly string[]): boolean {
  return needs.every((e) => profile.extensions[e as keyof Profile['extensions']]?.available === true);
}

function missingReason(profile: Profile, migration: Migration): string {
  const missing = migration.requires.filter((e) => !hasExtensions(profile, [e]));
  return `needs ${missing.join(', ')}`;
}
