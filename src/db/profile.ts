// The capability profile: which extensions this backend has, and therefore which features are on.
// Features are switched by this data, never by `if (embedded)` checks scattered through the code.
import type { Backend, Queryable } from './database.js';

/** Extensions the lake uses when it can; every one is optional except plpgsql. */
export const EXTENSIONS = [
  'postgis',
  'vector',
  'timescaledb',
  'pg_cron',
  'pg_partman',
  'pg_stat_statements',
  'pg_trgm',
  'hstore',
  'fuzzystrmatch',
  'pgcrypto',
  'btree_gist',
  'unaccent',
  'uuid-ossp',
] as const;
export type ExtensionName = (typeof EXTENSIONS)[number];

/** What each feature needs; a feature is on when all its extensions are installed. */
export const FEATURES = {
  geo: { needs: ['postgis'], description: 'geography columns, spatial indexes, map and radius queries' },
  vector_search: { needs: ['vector'], description: 'embeddings table with HNSW similarity search' },
  fuzzy_search: { needs: ['pg_trgm'], description: 'trigram indexes for typo-tolerant search' },
  fuzzy_string_match: { needs: ['fuzzystrmatch'], description: 'soundex/levenshtein matching of names' },
  hypertables: {
    needs: ['timescaledb'],
    description: 'TimescaleDB hypertables for time series (native monthly partitions otherwise)',
  },
  scheduled_maintenance: {
    needs: ['pg_cron'],
    description: 'partitions kept ahead by the server itself (otherwise by the lake on start-up and import)',
  },
  query_statistics: { needs: ['pg_stat_statements'], description: 'per-query performance statistics' },
} as const satisfies Record<string, { needs: readonly ExtensionName[]; description: string }>;
export type FeatureName = keyof typeof FEATURES;

export interface ExtensionStatus {
  /** The server has the extension's files. */
  available: boolean;
  /** Created in this database (usable). */
  installed: boolean;
  version: string | null;
  /** Why it is available but not installed (e.g. not preloaded). */
  note?: string;
}

export interface FeatureStatus {
  enabled: boolean;
  description: string;
  needs: readonly ExtensionName[];
  missing: ExtensionName[];
}

export interface Profile {
  backend: Backend;
  serverVersion: string;
  serverVersionNum: number;
  extensions: Record<ExtensionName, ExtensionStatus>;
  features: Record<FeatureName, FeatureStatus>;
}

export async function detectProfile(db: Queryable, backend: Backend, notes: Partial<Record<ExtensionName, string>> = {}): Promise<Profile> {
  const version = await db.query<{ version: string; num: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num`,
  );
  const found = await db.query<{ name: string; default_version: string | null; installed_version: string | null }>(
    `SELECT name, default_version, installed_version FROM pg_available_extensions WHERE name = ANY($1)`,
    [EXTENSIONS],
  );
  const byName = new Map(found.rows.map((r) => [r.name, r]));
  const extensions = Object.fromEntries(
    EXTENSIONS.map((name) => {
      const row = byName.get(name);
      const status: ExtensionStatus = {
        available: row !== undefined,
        installed: row?.installed_version != null,
        version: row?.installed_version ?? row?.default_version ?? null,
      };
      const note = notes[name];
      if (note && !status.installed) status.note = note;
      return [name, status];
    }),
  ) as Record<ExtensionName, ExtensionStatus>;
  const features = Object.fromEntries(
    (Object.entries(FEATURES) as [FeatureName, (typeof FEATURES)[FeatureName]][]).map(([name, f]) => {
      const needs: readonly ExtensionName[] = f.needs;
      const missing = needs.filter((e) => !extensions[e].installed);
      const status: FeatureStatus = { enabled: missing.length === 0, description: f.description, needs, missing };
      return [name, status];
    }),
  ) as Record<FeatureName, FeatureStatus>;
  const first = version.rows[0]!;
  return { backend, serverVersion: first.version, serverVersionNum: Number(first.num), extensions, features };
}

/** Whether every extension in `needs` is installed. */
export function hasExtensions(profile: Profile, needs: readonly string[]): boolean {
  return needs.every((e) => profile.extensions[e as ExtensionName]?.installed === true);
}

/**
 * Settings every user transaction needs on this backend. TimescaleDB before 2.26 fails DELETE and
 * UPDATE on a hypertable under a row-level-security policy with "variable not found in subplan
 * target list" (timescaledb#6790, fixed by #9347); turning ChunkAppend off avoids the faulty plan
 * (chunk exclusion at plan time still works).
 */
export function userContextSettings(profile: Profile): Record<string, string> {
  return profile.extensions.timescaledb.installed ? { 'timescaledb.enable_chunk_append': 'off' } : {};
}
