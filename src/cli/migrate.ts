// `lake migrate`: create the extensions and apply pending migrations, or say what would be applied.
import type { Config } from '../config/config.js';
import { migrationStatus } from '../db/migrate.js';
import { Lake } from '../lake.js';
import { printJson } from './output.js';

export async function migrateCommand(settings: Config, options: { dryRun?: boolean; json?: boolean }): Promise<void> {
  const lake = await Lake.open(settings, { migrate: !options.dryRun, brief: true, throughServer: Boolean(options.dryRun) });
  try {
    const result = options.dryRun
      ? { pending: (await migrationStatus(lake.db, lake.profile)).filter((m) => m.state !== 'applied') }
      : lake.migrations!;
    // A new embedded database is a copy of the installation's template, its migrations applied there.
    if (options.json) return printJson(lake.copiedFromTemplate ? { ...result, copiedFromTemplate: true } : result);
    if (lake.copiedFromTemplate) console.log(`new database, a copy of this installation's migrated template (${lake.config.cacheDir})`);
    for (const [state, list] of Object.entries(result)) {
      for (const m of list) console.log(`${state.padEnd(8)} ${String(m.version).padStart(4, '0')} ${m.name}${m.reason ? ` (${m.reason})` : ''}`);
    }
    if (!lake.copiedFromTemplate && Object.values(result).every((list) => list.length === 0)) console.log('up to date');
  } finally {
    await lake.close();
  }
}
