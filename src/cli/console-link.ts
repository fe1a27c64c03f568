// `lake console-link`: a one-time link into the web console, `<base>/#link=<token>`, where base
// is the address `lake serve` is configured to listen on (LAKE_API_HOST, LAKE_API_PORT; a server
// bound to every address is reached at 127.0.0.1). The console exchanges the token once, within 10
// minutes, for a new API key (POST /v1/auth/link). Works while `lake serve` runs (through it).
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { Lake } from '../lake.js';
import { createConsoleLink } from '../query/console-links.js';
import { listUsers } from '../query/users.js';
import { printJson } from './output.js';
import { runningServeAddress } from './serve-address.js';

export async function consoleLinkCommand(settings: Config, options: { user?: string; json?: boolean }): Promise<void> {
  const lake = await Lake.open(settings, { brief: true });
  try {
    const user = options.user ?? (await onlyUser(lake));
    const link = await createConsoleLink(lake.db, user);
    // The running server's own address when there is one (--port may differ from LAKE_API_PORT).
    const url = `${consoleBase(runningServeAddress(settings.dataDir) ?? settings)}/#link=${link.token}`;
    if (options.json) return printJson({ link: url, user: link.user, createdAt: link.createdAt, expiresAt: link.expiresAt });
    console.log(url);
    process.stderr.write(`lake: a one-time link into the console as ${link.user}, good until ${link.expiresAt.toISOString()} (10 minutes); opening it makes an API key\n`);
  } finally {
    await lake.close();
  }
}

/** Without --user: the lake's only user. */
async function onlyUser(lake: Lake): Promise<string> {
  const users = await listUsers(lake.db);
  if (users.length === 1) return users[0]!.name;
  if (users.length === 0) throw new LakeError('NOT_FOUND', 'no users yet: lake users create NAME');
  throw new LakeError('USAGE', `the lake has ${users.length} users: give --user NAME (${users.map((u) => u.name).join(', ')})`);
}

/** The address of `lake serve` as configured, for a browser on this machine. */
export function consoleBase(settings: Pick<Config, 'apiHost' | 'apiPort'>): string {
  const host = settings.apiHost === '0.0.0.0' || settings.apiHost === '::' || settings.apiHost === '' ? '127.0.0.1' : settings.apiHost;
  return `http://${host.includes(':') ? `[${host}]` : host}:${settings.apiPort}`;
}
