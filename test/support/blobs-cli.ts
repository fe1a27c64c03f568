// `lake blobs ...` as bin/lake.js runs it once src/cli/main.ts registers the commands (same global
// --data-dir option, same error reporting and exit codes), so tests can drive them as a process.
import { Command, CommanderError, Option } from 'commander';
import { registerBlobCommands } from '../../src/cli/blobs.js';
import { reportFailure } from '../../src/cli/output.js';
import { loadConfig } from '../../src/config/config.js';

const program = new Command('lake')
  .addOption(new Option('--data-dir <dir>', 'data directory').env('LAKE_DATA_DIR'))
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });
registerBlobCommands(program, () => loadConfig(process.env, { dataDir: program.opts<{ dataDir?: string }>().dataDir }));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = error instanceof CommanderError ? (error.exitCode === 0 ? 0 : 2) : reportFailure(error);
}
