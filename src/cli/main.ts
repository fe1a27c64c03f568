// The `lake` command line: its commands, their options and help. Configuration is read once here
// and handed down. Each command's work is in a module of its own, imported when the command runs:
// `lake --help` or a usage error loads commander and these definitions only, `lake users list`
// neither the HTTP server nor the importers.
import { Command, CommanderError, Option } from 'commander';
import { ENVIRONMENT, loadConfig, type Config, type ConfigOverrides } from '../config/config.js';
import { DEFAULT_BATCH_SIZE } from '../ingest/batch-size.js';
import { LakeError } from '../errors.js';
import { assertUserName } from '../query/users.js';
import { registerApiCommands } from './api.js';
import { registerBackupCommands } from './backup.js';
import { registerBlobCommands } from './blobs.js';
import { reportFailure } from './output.js';


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
    const { migrateCommand } = await import('./migrate.js');
    await migrateCommand(config(), options);
  });

program
  .command('doctor')
  .description('show the backend, its extensions and features, the data directory and migration status')
  .option('--json', 'print the report as JSON')
  .action(async (options: { json?: boolean }) => {
    const { doctorCommand } = await import('./doctor.js');
    await doctorCommand(config(), options);
  });

program
  .command('import')
  .description('import exports (Takeout .zip parts, .tgz, folders or files) into the lake; re-run to resume')
  .argument('<path...>', 'archives, folders or files; give all parts of a split Takeout together')
  .option('--user <name>', 'whose data this is (created on first use; default: me, or for a user archive the user it names)')
  .option('--batch-size <n>', 'records per load transaction', String(DEFAULT_BATCH_SIZE))
  .option('--json', 'print the report as JSON on stdout')
  .action(async (paths: string[], options: { user?: string; batchSize: string; json?: boolean }) => {
    const batchSize = Number(options.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000) {
      throw new LakeError('USAGE', `--batch-size ${options.batchSize} is not valid: expected an integer from 1 to 1000000`);
    }
    if (options.user !== undefined) assertUserName(options.user, `--user ${options.user}`);
    const { importCommand } = await import('./import.js');
    await importCommand(paths, { user: options.user, batchSize, json: options.json }, config);
  });

program
  .command('export')
  .description("write one portable archive of everything a user owns (rows, blobs, manifest); restore it with lake import")
  .requiredOption('--user <name>', 'whose data to export')
  .requiredOption('--out <file>', 'the archive to write (.tar.zst); written to <file>.partial, renamed when complete')
  .option('--json', 'print the summary as JSON on stdout')
  .action(async (options: { user: string; out: string; json?: boolean }) => {
    assertUserName(options.user, `--user ${options.user}`);
    const { exportCommand } = await import('./export.js');
    await exportCommand(config(), options);
  });

registerApiCommands(program, config);
// `lake users delete`, beside `users create` and `users list` (registered by registerApiCommands).
program.commands
  .find((c) => c.name() === 'users')!
  .command('delete')
  .description('erase a user: every row of theirs in every table, their keys, uploads, jobs and the blobs only they have')
  .argument('<name>')
  .option('--yes', 'do not ask for the name again (required when not on a terminal)')
  .option('--scrub', 'also rewrite the tables that held their rows (VACUUM FULL; other requests wait) so their bytes leave the files, and on the embedded database the WAL')
  .option('--json', 'print per-table counts, blobs removed and bytes freed as JSON')
  .action(async (name: string, options: { yes?: boolean; scrub?: boolean; json?: boolean }) => {
    assertUserName(name);
    const { deleteUserCommand } = await import('./users.js');
    await deleteUserCommand(config(), name, options);
  });
// `lake users sql-access` and `lake sql`: SQL as one user through that user's login role (issue 17).
program.commands
  .find((c) => c.name() === 'users')!
  .command('sql-access')
  .description("give a user a login role for SQL clients (psql, QGIS, Grafana, lake sql); prints a new password, shown once")
  .argument('<name>')
  .option('--revoke', 'drop the login role instead; the user and their data stay')
  .option('--json', 'print role, password and connection URL as JSON')
  .action(async (name: string, options: { revoke?: boolean; json?: boolean }) => {
    assertUserName(name);
    const { sqlAccessCommand } = await import('./sql.js');
    await sqlAccessCommand(config(), name, options);
  });
program
  .command('sql')
  .description("run SQL as a user (their login role: only their rows), with -c or at a psql-like prompt")
  .requiredOption('--user <name>', 'whose login role (lake users sql-access NAME first)')
  .option('-c, --command <sql>', 'run this and exit')
  .option('--password-file <file>', "the role's password (server database); asked on a terminal otherwise")
  .option('--json', 'with -c: print each statement\'s rows as JSON')
  .action(async (options: { user: string; command?: string; passwordFile?: string; json?: boolean }) => {
    assertUserName(options.user, `--user ${options.user}`);
    const { sqlCommand } = await import('./sql.js');
    await sqlCommand(config(), options);
  });
// `lake serve --pg-port`: the embedded database over PostgreSQL's protocol, as the users' login roles.
program.commands
  .find((c) => c.name() === 'serve')!
  .option('--pg-port <port>', 'also serve SQL (PostgreSQL protocol, 127.0.0.1 only, login roles of lake users sql-access) on this port; embedded database only')
  .hook('preAction', async (command) => {
    const pgPort = command.opts<{ pgPort?: string }>().pgPort;
    if (pgPort === undefined) return;
    const port = Number(pgPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LakeError('USAGE', `--pg-port ${pgPort} is not valid: expected a TCP port from 0 to 65535`);
    const { requestSqlPort } = await import('./serve.js');
    requestSqlPort(port);
  });
program
  .command('console-link')
  .description('print a one-time link into the web console (good for 10 minutes; opening it makes an API key)')
  .option('--user <name>', "whose console (default: the lake's only user)")
  .option('--json', 'print link, user and expiry as JSON')
  .action(async (options: { user?: string; json?: boolean }) => {
    if (options.user !== undefined) assertUserName(options.user, `--user ${options.user}`);
    const { consoleLinkCommand } = await import('./console-link.js');
    await consoleLinkCommand(config(), options);
  });
registerBlobCommands(program, config);
registerBackupCommands(program, config);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportFailure(error);
  }
}
