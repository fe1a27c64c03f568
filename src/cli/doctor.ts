// `lake doctor`: what this lake runs on and what it can do.
import { stat } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import { migrationStatus, type MigrationStatus } from '../db/migrate.js';
import type { Profile } from '../db/profile.js';
import { Lake } from '../lake.js';
import { DISK_RESERVE_BYTES, formatBytes, freeBytes } from '../disk-space.js';
import { printJson } from './output.js';

export interface DoctorReport {
  backend: Profile['backend'];
  database: string;
  /** Embedded: the running `lake serve` this report went through (it holds the database), else null. */
  throughServer: { pid: number; socket: string } | null;
  serverVersion: string;
  extensions: Record<string, { state: 'installed' | 'available' | 'missing'; version: string | null; note?: string }>;
  features: Record<string, { enabled: boolean; description: string; missing: string[] }>;
  dataDir: string;
  /** freeBytes: what can still be written there (null when unknown); below DISK_RESERVE_BYTES the lake is not healthy. */
  tiers: Record<string, { path: string; exists: boolean; freeBytes: number | null }>;
  migrations: MigrationStatus[];
  healthy: boolean;
}

/** The command: the report on stdout, exit code 1 when the lake is not healthy. */
export async function doctorCommand(settings: Config, options: { json?: boolean }): Promise<void> {
  const lake = await Lake.open(settings, { migrate: false, brief: true });
  try {
    const report = await doctor(lake);
    if (options.json) printJson(report);
    else console.log(formatDoctor(report));
    if (!report.healthy) process.exitCode = 1;
  } finally {
    await lake.close();
  }
}

export async function doctor(lake: Lake): Promise<DoctorReport> {
  const { profile } = lake;
  const migrations = await migrationStatus(lake.db, profile);
  const tiers: DoctorReport['tiers'] = {};
  for (const [name, dir] of Object.entries(lake.config.tiers)) {
    tiers[name] = { path: dir, exists: await stat(dir).then((s) => s.isDirectory(), () => false), freeBytes: freeBytes(dir) };
  }
  return {
    backend: profile.backend,
    database: lake.db.location,
    throughServer: lake.server,
    serverVersion: profile.serverVersion,
    extensions: Object.fromEntries(
      Object.entries(profile.extensions).map(([name, e]) => [
        name,
        {
          state: e.installed ? 'installed' : e.available ? 'available' : 'missing',
          version: e.version,
          ...(e.note ? { note: e.note } : {}),
        },
      ]),
    ),
    features: Object.fromEntries(
      Object.entries(profile.features).map(([name, f]) => [name, { enabled: f.enabled, description: f.description, missing: f.missing }]),
    ),
    dataDir: lake.config.dataDir,
    tiers,
    migrations,
    healthy: migrations.every((m) => m.state === 'applied' || m.state === 'skipped') && !Object.values(tiers).some(isFull),
  };
}

export function formatDoctor(report: DoctorReport): string {
  const lines = [
    `backend      ${report.backend} (PostgreSQL ${report.serverVersion})`,
    `database     ${report.database}`,
    ...(report.throughServer ? [`through      lake serve (pid ${report.throughServer.pid}), which holds the database; socket ${report.throughServer.socket}`] : []),
    `data dir     ${report.dataDir}`,
    ...Object.entries(report.tiers).map(
      ([name, t]) => `  ${name.padEnd(10)} ${t.path}${t.exists ? '' : ' (missing)'}${t.freeBytes === null ? '' : `  ${formatBytes(t.freeBytes)} free${isFull(t) ? ' (full)' : ''}`}`,
    ),
    '',
    'extensions',
    ...Object.entries(report.extensions).map(
      ([name, e]) => `  ${name.padEnd(20)} ${e.state.padEnd(10)} ${e.version ?? ''}${e.note ? `  (${e.note})` : ''}`,
    ),
    '',
    'features',
    ...Object.entries(report.features).map(
      ([name, f]) =>
        `  ${name.padEnd(22)} ${f.enabled ? 'on ' : 'off'}  ${f.description}${f.enabled ? '' : ` — needs ${f.missing.join(', ')}`}`,
    ),
    '',
    'migrations',
    ...report.migrations.map((m) => `  ${String(m.version).padStart(4, '0')} ${m.name.padEnd(24)} ${m.state}${m.reason ? ` (${m.reason})` : ''}`),
    '',
    report.healthy
      ? 'ok'
      : Object.values(report.tiers).some(isFull)
        ? `not ready: the data directory needs ${formatBytes(DISK_RESERVE_BYTES)} free on each tier's disk: free space there`
        : 'not ready: run `lake migrate`',
  ];
  return lines.join('\n');
}

/** Less free than the reserve every writer keeps (disk-space.ts): imports and uploads would stop with DISK_FULL. */
function isFull(tier: { freeBytes: number | null }): boolean {
  return tier.freeBytes !== null && tier.freeBytes < DISK_RESERVE_BYTES;
}
