// Where a running `lake serve` of this data directory listens: written when it starts, read by
// `lake console-link`, whose link must name the port the server really has (`--port` may differ
// from LAKE_API_PORT, `--port 0` picks one).
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from '../db/adapters/directory-lock.js';

const FILE = 'serve.json';

/** Record this process's address; the returned function removes the record again. */
export async function recordServeAddress(dataDir: string, host: string, port: number): Promise<() => Promise<void>> {
  const file = path.join(dataDir, FILE);
  await writeFile(file, JSON.stringify({ pid: process.pid, host, port }));
  return () => rm(file, { force: true });
}

/** The address of a `lake serve` still running on `dataDir`, or null. */
export function runningServeAddress(dataDir: string): { apiHost: string; apiPort: number } | null {
  try {
    const { pid, host, port } = JSON.parse(readFileSync(path.join(dataDir, FILE), 'utf8')) as { pid: number; host: string; port: number };
    return Number.isInteger(pid) && Number.isInteger(port) && typeof host === 'string' && isAlive(pid) ? { apiHost: host, apiPort: port } : null;
  } catch {
    return null;
  }
}
