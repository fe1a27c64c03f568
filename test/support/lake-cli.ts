// `lake import` as a child process, for the tests that kill it (SIGKILL mid-import, then resume)
// or bound its heap: the real command, its JSON report and its exit.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config/config.js';
import { createServerDatabase, type ServerDatabase } from './lake.js';
import { embeddedTemplate, giveOwnIdentity } from './templates.js';

const LAKE = new URL('../../bin/lake.js', import.meta.url).pathname;

export interface LakeImportRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The report (`--json`). */
  stdout: string;
  /** Progress and other events (`--json`: one JSON object a line) and error lines. */
  stderr: string[];
}

export interface LakeImportOptions {
  env: Record<string, string>;
  inputs: string[];
  user: string;
  batchSize: number;
  /** SIGKILL the import once a progress event reports this many records. */
  killAfterRecords?: number;
  /** Flags for node itself, such as `--max-old-space-size=128`. */
  nodeFlags?: string[];
}

export function lakeImport(options: LakeImportOptions): Promise<LakeImportRun> {
  const args = [...(options.nodeFlags ?? []), LAKE, 'import', ...options.inputs, '--user', options.user, '--batch-size', String(options.batchSize), '--json'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: options.env });
    let stdout = '';
    const stderr: string[] = [];
    child.stdout.on('data', (chunk) => (stdout += chunk));
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr.push(line);
      if (options.killAfterRecords === undefined || !line.startsWith('{')) return;
      const event = JSON.parse(line) as { event: string; records: number };
      if (event.event === 'progress' && event.records >= options.killAfterRecords) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** This process's environment without the lake's settings, plus `settings`: what a child `lake` sees. */
export function lakeEnvironment(settings: Record<string, string>): Record<string, string> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LAKE_') && k !== 'DATABASE_URL')) as Record<string, string>;
  return { ...clean, ...settings };
}

/**
 * How long a child `lake` command may take before a test gives up on it: a hang guard only. The
 * first command on a new embedded data directory creates and migrates its database, which took
 * over 2 minutes on a loaded 2-core machine.
 */
export const CLI_TIMEOUT_MS = 600_000;

export interface CliTestLake {
  /** A temporary folder: the data directory is its `data` unless given, inputs may be written beside it. */
  dir: string;
  /** What a child `lake` sees: the data directory, the settings given, and a database of its own when testing the server. */
  env: Record<string, string>;
  /** Drop the database and remove the folder. */
  dispose(): Promise<void>;
}

export interface CliTestLakeOptions {
  /**
   * Nothing made yet: the first command creates (embedded) and migrates the database, as on a
   * user's first run. Otherwise the lake is there, migrated, a copy of the template (templates.ts).
   */
  fresh?: boolean;
  /** The data directory, when not `dir`/data (created, migrated, by the caller's `prepare`). */
  dataDir?: (dir: string) => string;
  /** More settings for the commands. */
  settings?: Record<string, string>;
  /** Run once the folder and database exist and before the lake is made (mount a small disk there). */
  prepare?: (dir: string, backend: 'embedded' | 'server') => Promise<void>;
}

/** A lake for `lake` commands run as child processes, on the backend the tests run on. */
export async function cliTestLake(prefix: string, options: CliTestLakeOptions = {}): Promise<CliTestLake> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  let database: ServerDatabase | undefined;
  try {
    database = await createServerDatabase({ migrated: !options.fresh });
    await options.prepare?.(dir, database ? 'server' : 'embedded');
    const dataDir = options.dataDir?.(dir) ?? path.join(dir, 'data');
    const env = lakeEnvironment({ ...options.settings, LAKE_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}) });
    if (!options.fresh && !database) await makeEmbeddedLake(env);
    return {
      dir,
      env,
      async dispose() {
        await database?.drop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The embedded database of the data directory `env` names, made from the template with a lake id
 * of its own, as its first command would have made and migrated it (which records it in the data
 * directory at its first open, as it does a lake from before the record: data-dir-identity.ts).
 */
async function makeEmbeddedLake(env: Record<string, string>): Promise<void> {
  const config = loadConfig(env);
  const { embeddedDirectory, openEmbedded } = await import('../../src/db/adapters/embedded.js');
  const session = { workMem: config.workMem, maintenanceWorkMem: config.maintenanceWorkMem, statementTimeoutMs: config.statementTimeoutMs };
  const db = await openEmbedded({ directory: embeddedDirectory(config.tiers.hot), session, cacheDir: config.cacheDir, loadDataDir: await embeddedTemplate() });
  try {
    await giveOwnIdentity(db);
  } finally {
    await db.close();
  }
}
