// Test lakes on either backend, chosen like the application chooses: with LAKE_TEST_DATABASE_URL
// set, each test file gets a fresh database on that server (created here, dropped afterwards);
// without it, a fresh embedded PGlite in memory.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config/config.js';
import { Lake } from '../../src/lake.js';

export const SERVER_URL = process.env.LAKE_TEST_DATABASE_URL || undefined;
export const BACKEND: 'server' | 'embedded' = SERVER_URL ? 'server' : 'embedded';

export interface TestLake {
  lake: Lake;
  config: Config;
  /** Close the lake and remove its database and files. */
  dispose(): Promise<void>;
}

/** A fresh, empty database URL on the test server (or undefined for embedded). */
export async function createServerDatabase(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  if (!SERVER_URL) return undefined;
  const name = `lake_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function openTestLake(env: Record<string, string> = {}): Promise<TestLake> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lake-test-'));
  const database = await createServerDatabase();
  const config = loadConfig({ LAKE_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}), ...env });
  const lake = await Lake.open(config, { inMemory: true });
  return {
    lake,
    config,
    async dispose() {
      await lake.close();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Make a user as the maintenance connection (user creation is an administrative act). */
export async function createUser(lake: Lake, name: string): Promise<string> {
  const result = await lake.db.query<{ user_id: string }>(`INSERT INTO user_data.users (name) VALUES ($1) RETURNING user_id`, [name]);
  return result.rows[0]!.user_id;
}
