// The `lake` command line. Configuration is read once here and handed down.
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ENVIRONMENT, loadConfig, type Config, type ConfigOverrides } from '../config/config.js';
import { migrationStatus } from '../db/migrate.js';
import { LakeError } from '../errors.js';
import { assertInputsReadable } from '../ingest/receive/inputs.js';
import { formatReport, importExitCode } from '../ingest/report.js';
import { DEFAULT_BATCH_SIZE, runImport } from '../ingest/runner.js';
import { Lake } from '../lake.js';
import { assertUserName, ensureUser } from '../query/users.js';
import { registerApiCommands } from './api.js';
import { registerBlobCommands } from './blobs.js';
import { doctor, formatDoctor } from './doctor.js';
import { printError, printJson, reportFailure } from './output.js';
import { ProgressReporter } from './progress.js';

interface GlobalOptions {
  dataDir?: string;
}

const program = new Command('lake')
  .description('Datapunk Lake: your exported personal data in your own PostgreSQL database')
  .addOption(new Option('--data-dir <dir>', 'data directory (hot database, warm staging, cold archive, blobs)').env('LAKE_DATA_DIR'))
  .addHelpText(
    'after',
    `\nEnvironment:\n${Object.entries(ENVIRONMENT)
      .map(([name, fallback]) => `  ${name.padEnd(28)} default: ${fallback}`)
      .join('\n')}`,
  )
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });

function config(overrides: ConfigOverrides = {}): Config {
  const { dataDir } = program.opts<GlobalOptions>();
  return loadConfig(process.env, { dataDir, ...overrides });
}

program
  .command('migrate')
  .description('create the extensions this database has and apply pending migrations')
  .option('--dry-run', 'print what would be applied, change nothing')
  .option('--json', 'print the result as JSON')
  .action(async (options: { dryRun?: boolean; json?: boolean }) => {
    const lake = await Lake.open(config(), { migrate: !options.dryRun });
    try {
      const result = options.dryRun
        ? { pending: (await migrationStatus(lake.db, lake.profile)).filter((m) => m.state !== 'applied') }
        : lake.migrations!;
      if (options.json) return printJson(result);
      for (const [state, list] of Object.entries(result)) {
        for (const m of list) console.log(`${state.padEnd(8)} ${String(m.version).padStart(4, '0')} ${m.name}${m.reason ? ` (${m.reason})` : ''}`);
      }
      if (Object.values(result).every((list) => list.length === 0)) console.log('up to date');
    } finally {
      await lake.close();
    }
  });

program
  .command('doctor')
  .description('show the backend, its extensions and features, the data directory and migration status')
  .option('--json', 'print the report as JSON')
  .action(async (options: { json?: boolean }) => {
    const lake = await Lake.open(config(), { migrate: false });
    try {
      const report = await doctor(lake);
      if (options.json) printJson(report);
      else console.log(formatDoctor(report));
      if (!report.healthy) process.exitCode = 1;
    } finally {
      await lake.close();
    }
  });

program
  .command('import')
  .description('import exports (Takeout .zip parts, .tgz, folders or files) into the lake; re-run to resume')
  .argument('<path...>', 'archives, folders or files; give all parts of a split Takeout together')
  .option('--user <name>', 'whose data this is (created on first use)', 'me')
  .option('--batch-size <n>', 'records per load transaction', String(DEFAULT_BATCH_SIZE))
  .option('--json', 'print the report as JSON on stdout')
  .action(async (paths: string[], options: { user: string; batchSize: string; json?: boolean }) => {
    const batchSize = Number(options.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000) {
      throw new LakeError('USAGE', `--batch-size ${options.batchSize} is not valid: expected an integer from 1 to 1000000`);
    }
    assertUserName(options.user, `--user ${options.user}`);
    // Before the database is opened (or made): a path that is not there or may not be read is a
    // one-line error, and no job is recorded for it (runImport checks again).
    await assertInputsReadable(paths);
    // Opening and migrating can take tens of seconds before the first file: each step is said.
    const progress = new ProgressReporter(options.json ? 'json' : process.stderr.isTTY ? 'tty' : 'log');
    const settings = config();
    const opening = performance.now();
    progress.phase('open', settings.databaseUrl ? 'connecting to the PostgreSQL server (DATABASE_URL)…' : `opening the embedded database in ${shownPath(settings.tiers.hot)}…`);
    const lake = await Lake.open(settings, { onMigrating: () => progress.phase('migrate', 'checking the schema, applying any pending migrations…') });
    try {
      const applied = lake.migrations?.applied.length ?? 0;
      progress.phase('ready', `database ready after ${((performance.now() - opening) / 1000).toFixed(1)} s, ` +
        (applied ? `${applied} migration${applied === 1 ? '' : 's'} applied` : 'schema up to date'));
      const userId = await ensureUser(lake.db, options.user);
      const names = paths.map((p) => path.basename(p));
      progress.phase('read', `reading ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}…`);
      const report = await runImport(lake.db, {
        userId,
        inputs: paths,
        batchSize,
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
  });

/** A path as typed relative to the working directory when it is inside it (./lake-data/hot), else absolute. */
function shownPath(target: string): string {
  const relative = path.relative(process.cwd(), target);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? `./${relative}` : path.resolve(target);
}

registerApiCommands(program, config);
registerBlobCommands(program, config);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportFailure(error);
  }
}
