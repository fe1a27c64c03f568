// `lake import`: read exports into the lake, with progress on stderr and the report on stdout.
import path from 'node:path';
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { assertInputsReadable } from '../ingest/receive/inputs.js';
import { formatReport, importExitCode } from '../ingest/report.js';
import { runImport } from '../ingest/runner.js';
import { Lake } from '../lake.js';
import { ensureUser } from '../query/users.js';
import { printError, printJson } from './output.js';
import { ProgressReporter } from './progress.js';

/** The options as checked by the command line; `config` is read once the inputs are known to be readable. */
export async function importCommand(
  paths: string[],
  options: { user?: string; batchSize: number; json?: boolean },
  config: () => Config,
): Promise<void> {
  // Before the database is opened (or made): a path that is not there or may not be read is a
  // one-line error, and no job is recorded for it (runImport checks again).
  await assertInputsReadable(paths);
  // A user archive of `lake export` (known by its opening, whatever its name) is restored, not parsed as an export.
  const { isUserArchive } = await import('../backup/user-archive-restore.js');
  const archives = (await Promise.all(paths.map((p) => isUserArchive(p)))).filter(Boolean).length;
  if (archives > 0) {
    if (paths.length > 1) {
      throw new LakeError('USAGE', `${archives === paths.length ? 'several user archives were' : 'a user archive was'} given with other paths: import a user archive (lake export) on its own`);
    }
    await importUserArchive(paths[0]!, options, config);
    return;
  }
  // Opening and migrating can take tens of seconds before the first file: each step is said.
  const progress = new ProgressReporter(options.json ? 'json' : process.stderr.isTTY ? 'tty' : 'log');
  const settings = config();
  const opening = performance.now();
  progress.phase('open', settings.databaseUrl ? 'connecting to the PostgreSQL server (DATABASE_URL)…' : `opening the embedded database in ${shownPath(settings.tiers.hot)}…`);
  const lake = await Lake.open(settings, { onMigrating: () => progress.phase('migrate', 'checking the schema, applying any pending migrations…') });
  try {
    const applied = lake.migrations?.applied.length ?? 0;
    progress.phase('ready', `database ready after ${((performance.now() - opening) / 1000).toFixed(1)} s, ` +
      (applied
        ? `${applied} migration${applied === 1 ? '' : 's'} applied`
        : lake.copiedFromTemplate
          ? `a new database, copied from this installation's migrated template`
          : 'schema up to date'));
    const userId = await ensureUser(lake.db, options.user ?? 'me');
    const names = paths.map((p) => path.basename(p));
    progress.phase('read', `reading ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}…`);
    const report = await runImport(lake.db, {
      userId,
      inputs: paths,
      batchSize: options.batchSize,
      blobs: lake.blobs,
      clamavAddress: lake.config.clamavAddress,
      onProgress: (p) => progress.update(p),
      onResumeJob: (job) => progress.resumed(job),
    });
    progress.done();
    // The report on stdout, the error that stopped the import (if one did) on stderr.
    if (options.json) printJson(report);
    else console.log(formatReport(report));
    if (report.error) printError(report.error.message, report.error.code);
    process.exitCode = importExitCode(report);
  } finally {
    await lake.close();
  }
}

/** Restore a user archive: into the user it names, or `--user` when given. */
async function importUserArchive(file: string, options: { user?: string; json?: boolean }, config: () => Config): Promise<void> {
  const { formatRestoreReport, restoreUserArchive } = await import('../backup/user-archive-restore.js');
  const lake = await Lake.open(config());
  try {
    const say = (message: string) => {
      if (!options.json) process.stderr.write(`${message}\n`);
    };
    const report = await restoreUserArchive(lake, file, { user: options.user, onPhase: (_phase, message) => say(message) });
    if (options.json) printJson(report);
    else console.log(formatRestoreReport(report));
  } finally {
    await lake.close();
  }
}

/** A path as typed relative to the working directory when it is inside it (./lake-data/hot), else absolute. */
function shownPath(target: string): string {
  const relative = path.relative(process.cwd(), target);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? `./${relative}` : path.resolve(target);
}
