// Test lakes on either backend, chosen like the application chooses: with LAKE_TEST_DATABASE_URL
// set, each test file gets a database of its own on that server (created here, dropped
// afterwards); without it, an embedded PGlite in memory. Migrated lakes start as copies of a
// template migrated once (templates.ts); `fresh` ones are created empty and migrated here.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/config.js';
import { Lake } from '../../src/lake.js';
import { createUser as createLakeUser } from '../../src/query/users.js';
import { databaseUrl, embeddedTemplate, giveOwnIdentity, serverTemplate, uniqueDatabaseName, withClient } from './templates.js';

export const SERVER_URL = process.env.LAKE_TEST_DATABASE_URL || undefined;
export const BACKEND: 'server' | 'embedded' = SERVER_URL ? 'server' : 'embedded';

export interface TestLake {
  lake: Lake;
  config: Config;
  /** Close the lake and remove its database and files. */
  dispose(): Promise<void>;
}

export interface ServerDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A database of its own on the test server (undefined for embedded): empty, or with `migrated` a
 * copy of the migrated template with a lake id of its own.
 */
export async function createServerDatabase(options: { migrated?: boolean } = {}): Promise<ServerDatabase | undefined> {
  if (!SERVER_URL) return undefined;
  const adminUrl = SERVER_URL;
  const name = uniqueDatabaseName();
  const template = options.migrated ? await serverTemplate(adminUrl) : null;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`));
  const url = databaseUrl(adminUrl, name);
  const drop = () => withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {});
  if (template) {
    try {
      await withClient(url, giveOwnIdentity);
    } catch (error) {
      await drop();
      throw error;
    }
  }
  return { url, drop };
}

export interface TestLakeOptions {
  /** Created empty and migrated here, as a new lake is (the migrations' own tests); otherwise a copy of the template. */
  fresh?: boolean;
}

/** A migrated lake of its own, open in this process; `env`: more settings. */
export async function openTestLake(env: Record<string, string> = {}, options: TestLakeOptions = {}): Promise<TestLake> {
  const fromTemplate = !options.fresh;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lake-test-'));
  let database: ServerDatabase | undefined;
  let lake: Lake;
  try {
    database = await createServerDatabase({ migrated: fromTemplate });
    const config = loadConfig({ LAKE_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}), ...env });
    const loadDataDir = fromTemplate && !database ? await embeddedTemplate() : undefined;
    lake = await Lake.open(config, { inMemory: true, loadDataDir });
    // In memory, no data directory records the id: given after opening.
    if (loadDataDir) await giveOwnIdentity(lake.db);
  } catch (error) {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    lake,
    config: lake.config,
    async dispose() {
      await lake.close();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Make a user as the maintenance connection (user creation is an administrative act); its id. */
export async function createUser(lake: Lake, name: string): Promise<string> {
  return (await createLakeUser(lake.db, name)).userId;
}
