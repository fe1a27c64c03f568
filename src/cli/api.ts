// `lake serve`, `lake users` and `lake keys`: the HTTP API and who may use it.
import type { Command } from 'commander';
import type { Config, ConfigOverrides } from '../config/config.js';
import { serve } from '../api/serve.js';
import { Lake } from '../lake.js';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeySummary } from '../query/api-keys.js';
import { createUser, listUsers } from '../query/users.js';
import { printJson } from './output.js';

/** Adds the API commands; `config` reads the global options plus the given overrides. */
export function registerApiCommands(program: Command, config: (overrides?: ConfigOverrides) => Config): void {
  program
    .command('serve')
    .description('serve the REST API (/v1 with API keys, /health, /metrics, /openapi.json) until SIGINT or SIGTERM')
    .option('--host <host>', 'address to listen on (LAKE_API_HOST, default 127.0.0.1)')
    .option('--port <port>', 'TCP port, 0 for any free one (LAKE_API_PORT, default 8484)')
    .action(async (options: { host?: string; port?: string }) => {
      const settings = config({ apiHost: options.host, apiPort: options.port });
      const lake = await Lake.open(settings);
      const stop = new AbortController();
      const onSignal = (signal: NodeJS.Signals): void => {
        process.stderr.write(`lake: ${signal}: finishing running requests (a second ${signal} exits at once)\n`);
        stop.abort();
      };
      // once: a second signal gets Node's default handling and ends the process.
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await serve(lake, {
          host: settings.apiHost,
          port: settings.apiPort,
          shutdownTimeoutMs: settings.apiShutdownTimeoutMs,
          stop: stop.signal,
          logLevel: 'warn',
          onListening: (url) => console.log(`lake: serving ${url} (${lake.db.backend} database at ${lake.db.location})`),
          onShutdown: (event) => {
            if (event === 'cut') process.stderr.write(`lake: requests still running after ${settings.apiShutdownTimeoutMs} ms were cut\n`);
          },
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await lake.close();
      }
      console.log('lake: stopped');
    });

  const users = program.command('users').description('the people whose data the lake holds');
  users
    .command('create')
    .description('create a user (lower-case letters, digits, ".", "_", "-")')
    .argument('<name>')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      await withLake(config(), async (lake) => {
        const user = await createUser(lake.db, name);
        if (options.json) printJson(user);
        else console.log(`created user ${user.name} (${user.userId})`);
      });
    });
  users
    .command('list')
    .description('list users with their number of active API keys')
    .option('--json', 'print the list as JSON')
    .action(async (options: { json?: boolean }) => {
      await withLake(config(), async (lake) => {
        const list = await listUsers(lake.db);
        if (options.json) return printJson(list);
        for (const u of list) console.log(`${u.name.padEnd(24)} ${u.userId}  created ${u.createdAt.toISOString()}  ${u.activeKeys} active keys`);
        if (list.length === 0) console.log('no users yet: lake users create NAME');
      });
    });

  const keys = program.command('keys').description('API keys for lake serve (Authorization: Bearer <key>)');
  keys
    .command('create')
    .description('create an API key for a user; the key is printed once and cannot be shown again')
    .requiredOption('--user <name>', 'whose key it is')
    .option('--name <label>', 'what the key is for', '')
    .option('--json', 'print the result as JSON')
    .action(async (options: { user: string; name: string; json?: boolean }) => {
      await withLake(config(), async (lake) => {
        const created = await createApiKey(lake.db, options.user, options.name);
        if (options.json) return printJson(created);
        console.log(created.key);
        process.stderr.write(`lake: API key ${created.keyId} for ${created.userName}: store it now, it is not shown again\n`);
      });
    });
  keys
    .command('list')
    .description("list a user's API keys (never the secrets)")
    .requiredOption('--user <name>', 'whose keys')
    .option('--json', 'print the list as JSON')
    .action(async (options: { user: string; json?: boolean }) => {
      await withLake(config(), async (lake) => {
        const list = await listApiKeys(lake.db, options.user);
        if (options.json) return printJson(list);
        for (const k of list) console.log(formatKey(k));
        if (list.length === 0) console.log(`no keys for ${options.user}: lake keys create --user ${options.user}`);
      });
    });
  keys
    .command('revoke')
    .description('revoke an API key at once: its requests get 401 from then on')
    .argument('<key-id>', 'the key id (UUID) or the 12 hex digits after lake_ in the key')
    .option('--json', 'print the result as JSON')
    .action(async (keyId: string, options: { json?: boolean }) => {
      await withLake(config(), async (lake) => {
        const revoked = await revokeApiKey(lake.db, keyId);
        if (options.json) return printJson(revoked);
        console.log(`revoked ${revoked.keyId} of ${revoked.userName} at ${revoked.revokedAt!.toISOString()}`);
      });
    });
}

async function withLake(settings: Config, work: (lake: Lake) => Promise<void>): Promise<void> {
  const lake = await Lake.open(settings);
  try {
    await work(lake);
  } finally {
    await lake.close();
  }
}

function formatKey(k: ApiKeySummary): string {
  const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : k.lastUsedAt ? `last used ${k.lastUsedAt.toISOString()}` : 'never used';
  return `${k.keyId}  lake_${k.prefix}_…  ${(k.name || '-').padEnd(20)} created ${k.createdAt.toISOString()}  ${state}`;
}
