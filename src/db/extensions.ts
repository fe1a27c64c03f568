// Create every extension the lake can use that this backend has. Each is tried on its own, so
// one that cannot be created (not preloaded, pg_cron in another database, missing files) leaves
// its features off and the rest of the lake working.
import type { Database } from './database.js';
import { EXTENSIONS, type ExtensionName } from './profile.js';

/** Extensions that only work when the server preloads their library. */
const NEEDS_PRELOAD: Partial<Record<ExtensionName, string>> = {
  timescaledb: 'timescaledb',
  pg_cron: 'pg_cron',
  pg_stat_statements: 'pg_stat_statements',
};

/** Returns why each extension that could not be created was not, for the profile. */
export async function installExtensions(db: Database): Promise<Partial<Record<ExtensionName, string>>> {
  const available = await db.query<{ name: string; installed: boolean }>(
    `SELECT name, installed_version IS NOT NULL AS installed FROM pg_available_extensions WHERE name = ANY($1)`,
    [EXTENSIONS],
  );
  const preload = await db.query<{ libs: string | null }>(`SELECT current_setting('shared_preload_libraries', true) AS libs`);
  const preloaded = new Set((preload.rows[0]?.libs ?? '').split(',').map((s) => s.trim()));
  const notes: Partial<Record<ExtensionName, string>> = {};
  for (const { name, installed } of available.rows) {
    if (installed) continue;
    const extension = name as ExtensionName;
    const library = NEEDS_PRELOAD[extension];
    if (library && !preloaded.has(library)) {
      notes[extension] = `not in shared_preload_libraries`;
      continue;
    }
    try {
      await db.transaction((tx) => tx.query(`CREATE EXTENSION IF NOT EXISTS "${extension}" CASCADE`));
    } catch (error) {
      notes[extension] = firstLine(error);
    }
  }
  return notes;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
