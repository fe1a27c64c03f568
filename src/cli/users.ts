// `lake users` and `lake keys`: the people whose data the lake holds and their API keys.
import type { Config } from '../config/config.js';
import { Lake } from '../lake.js';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeySummary } from '../query/api-keys.js';
import { createUser, listUsers } from '../query/users.js';
import { printJson } from './output.js';
import { LakeError } from '../errors.js';

export async function createUserCommand(settings: Config, name: string, options: { json?: boolean }): Promise<void> {
  await withLake(settings, async (lake) => {
    const user = await createUser(lake.db, name);
    if (options.json) printJson(user);
    else console.log(`created user ${user.name} (${user.userId})`);
  });
}

export async function listUsersCommand(settings: Config, options: { json?: boolean }): Promise<void> {
  await withLake(settings, async (lake) => {
    const list = await listUsers(lake.db);
    if (options.json) return printJson(list);
    for (const u of list) console.log(`${u.name.padEnd(24)} ${u.userId}  created ${u.createdAt.toISOString()}  ${u.activeKeys} active keys`);
    if (list.length === 0) console.log('no users yet: lake users create NAME');
  });
}

export async function createKeyCommand(settings: Config, options: { user: string; name: string; json?: boolean }): Promise<void> {
  await withLake(settings, async (lake) => {
    const created = await createApiKey(lake.db, options.user, options.name);
    if (options.json) return printJson(created);
    console.log(created.key);
    process.stderr.write(`lake: API key ${created.keyId} for ${created.userName}: store it now, it is not shown again\n`);
  });
}

export async function listKeysCommand(settings: Config, options: { user: string; json?: boolean }): Promise<void> {
  await withLake(settings, async (lake) => {
    const list = await listApiKeys(lake.db, options.user);
    if (options.json) return printJson(list);
    for (const k of list) console.log(formatKey(k));
    if (list.length === 0) console.log(`no keys for ${options.user}: lake keys create --user ${options.user}`);
  });
}

export async function revokeKeyCommand(settings: Config, keyId: string, options: { json?: boolean }): Promise<void> {
  await withLake(settings, async (lake) => {
    const revoked = await revokeApiKey(lake.db, keyId);
    if (options.json) return printJson(revoked);
    console.log(`revoked ${revoked.keyId} of ${revoked.userName} at ${revoked.revokedAt!.toISOString()}`);
  });
}

/**
 * `lake users delete NAME`: erase the user and everything theirs (query/erase.ts). Without --yes,
 * the name is typed again on a terminal; elsewhere it is refused.
 */
export async function deleteUserCommand(settings: Config, name: string, options: { yes?: boolean; scrub?: boolean; json?: boolean }): Promise<void> {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (!options.yes && !interactive) {
    throw new LakeError('USAGE', `not erasing user ${name}: this deletes all their data for good; pass --yes to confirm (not on a terminal)`);
  }
  const { eraseUser, erasableUserId, scrubErasedRows, BACKUP_NOTE } = await import('../query/erase.js');
  await withLake(settings, async (lake) => {
    if (!options.yes) {
      await erasableUserId(lake.db, name);
      const typed = await ask(`lake: this erases user ${name} and all their data for good (${BACKUP_NOTE}).\nType the name again to confirm: `);
      if (typed.trim() !== name) throw new LakeError('USAGE', `not erasing user ${name}: the name typed again did not match`);
    }
    const result = await eraseUser(lake.db, lake.blobs, lake.config.uploadDir, name, 'cli');
    if (options.scrub) await scrubErasedRows(lake.db, result.rows);
    if (options.json) return printJson({ ...result, scrubbed: Boolean(options.scrub) });
    console.log(`erased user ${name}: ${result.rowsTotal} row${result.rowsTotal === 1 ? '' : 's'}`);
    for (const [table, n] of Object.entries(result.rows)) if (n > 0) console.log(`  ${table.padEnd(32)} ${n}`);
    console.log(`  upload files removed             ${result.uploadFilesRemoved}`);
    console.log(`  blobs removed                    ${result.blobsRemoved} (${result.bytesFreed} bytes freed; ${result.blobsKept} shared with other users kept)`);
    console.log('verified: no table holds a row of the user');
    if (options.scrub) console.log(`scrubbed: the tables that held their rows rewritten (VACUUM FULL)${lake.db.backend === 'embedded' ? ', the WAL that recorded the deletes removed' : ''}`);
    console.log(`note: ${result.note}`);
  });
}

async function ask(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

async function withLake(settings: Config, work: (lake: Lake) => Promise<void>): Promise<void> {
  const lake = await Lake.open(settings, { brief: true });
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
