// `lake import` as a child process, for the tests that kill it (SIGKILL mid-import, then resume)
// or bound its heap: the real command, its JSON report and its exit.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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
