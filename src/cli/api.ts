// `lake serve`, `lake users` and `lake keys`: the HTTP API and who may use it. The work is in
// serve.ts (the HTTP server) and users.ts (users and API keys), imported when a command runs.
import type { Command } from 'commander';
import type { Config, ConfigOverrides } from '../config/config.js';

/** Adds the API commands; `config` reads the global options plus the given overrides. */
export function registerApiCommands(program: Command, config: (overrides?: ConfigOverrides) => Config): void {
  program
    .command('serve')
    .description('serve the REST API (/v1 with API keys, /health, /metrics, /openapi.json) until SIGINT or SIGTERM')
    .option('--host <host>', 'address to listen on (LAKE_API_HOST, default 127.0.0.1)')
    .option('--port <port>', 'TCP port, 0 for any free one (LAKE_API_PORT, default 8484)')
    .action(async (options: { host?: string; port?: string }) => {
      const settings = config({ apiHost: options.host, apiPort: options.port });
      const { serveCommand } = await import('./serve.js');
      await serveCommand(settings);
    });

  const users = program.command('users').description('the people whose data the lake holds');
  users
    .command('create')
    .description('create a user (lower-case letters, digits, ".", "_", "-")')
    .argument('<name>')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const { createUserCommand } = await import('./users.js');
      await createUserCommand(config(), name, options);
    });
  users
    .command('list')
    .description('list users with their number of active API keys')
    .option('--json', 'print the list as JSON')
    .action(async (options: { json?: boolean }) => {
      const { listUsersCommand } = await import('./users.js');
      await listUsersCommand(config(), options);
    });

  const keys = program.command('keys').description('API keys for lake serve (Authorization: Bearer <key>)');
  keys
    .command('create')
    .description('create an API key for a user; the key is printed once and cannot be shown again')
    .requiredOption('--user <name>', 'whose key it is')
    .option('--name <label>', 'what the key is for', '')
    .option('--json', 'print the result as JSON')
    .action(async (options: { user: string; name: string; json?: boolean }) => {
      const { createKeyCommand } = await import('./users.js');
      await createKeyCommand(config(), options);
    });
  keys
    .command('list')
    .description("list a user's API keys (never the secrets)")
    .requiredOption('--user <name>', 'whose keys')
    .option('--json', 'print the list as JSON')
    .action(async (options: { user: string; json?: boolean }) => {
      const { listKeysCommand } = await import('./users.js');
      await listKeysCommand(config(), options);
    });
  keys
    .command('revoke')
    .description('revoke an API key at once: its requests get 401 from then on')
    .argument('<key-id>', 'the key id (UUID) or the 12 hex digits after lake_ in the key')
    .option('--json', 'print the result as JSON')
    .action(async (keyId: string, options: { json?: boolean }) => {
      const { revokeKeyCommand } = await import('./users.js');
      await revokeKeyCommand(config(), keyId, options);
    });
}
