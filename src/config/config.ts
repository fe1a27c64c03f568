// Configuration, read from the environment and command-line flags once, validated into one typed
// object. Nothing else in the lake reads process.env.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { LakeError } from '../errors.js';

/** A PostgreSQL memory size as the server spells it: `16MB`, `512kB`, `2GB`. */
const memorySize = z.string().regex(/^\d+(kB|MB|GB)$/);

/** Each setting: its environment variable, its default, and what it allows (said in errors). */
const SETTINGS = {
  dataDir: { env: 'LAKE_DATA_DIR', default: './lake-data', allowed: 'a directory path', schema: z.string().min(1) },
  cacheDir: {
    env: 'LAKE_CACHE_DIR',
    default: undefined,
    allowed: 'a directory path (unset: $XDG_CACHE_HOME/datapunk-lake, or ~/.cache/datapunk-lake)',
    schema: z.string().min(1).optional(),
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    default: undefined,
    allowed: 'a postgres:// or postgresql:// URL, or unset for the embedded database',
    schema: z.string().regex(/^postgres(ql)?:\/\/.+/).optional(),
  },
  poolMax: { env: 'LAKE_DB_POOL_MAX', default: '10', allowed: 'an integer from 1 to 200', schema: z.coerce.number().int().min(1).max(200) },
  preparedStatements: {
    env: 'LAKE_DB_PREPARED_STATEMENTS',
    default: 'on',
    allowed: 'on or off (off behind a connection pooler that cannot keep named prepared statements)',
    schema: z.enum(['on', 'off']).transform((value) => value === 'on'),
  },
  workMem: { env: 'LAKE_WORK_MEM', default: '16MB', allowed: 'a size such as 16MB, 512kB or 1GB', schema: memorySize },
  maintenanceWorkMem: { env: 'LAKE_MAINTENANCE_WORK_MEM', default: '512MB', allowed: 'a size such as 512MB or 1GB', schema: memorySize },
  statementTimeoutMs: {
    env: 'LAKE_STATEMENT_TIMEOUT_MS',
    default: '0',
    allowed: 'milliseconds as an integer >= 0 (0: no limit)',
    schema: z.coerce.number().int().min(0),
  },
  clamavAddress: {
    env: 'LAKE_CLAMAV_ADDRESS',
    default: undefined,
    allowed: 'unix:/path/to/clamd.sock or tcp://host:port of a ClamAV daemon, or unset for no scanning',
    schema: z.string().regex(/^(unix:\/.+|tcp:\/\/[^:/\s]+(:\d+)?\/?)$/).optional(),
  },
  partitionMonthsAhead: {
    env: 'LAKE_PARTITION_MONTHS_AHEAD',
    default: '3',
    allowed: 'an integer from 0 to 36',
    schema: z.coerce.number().int().min(0).max(36),
  },
  apiHost: {
    env: 'LAKE_API_HOST',
    flag: '--host',
    default: '127.0.0.1',
    allowed: 'a host name or IP address to listen on (0.0.0.0 or :: for every interface)',
    schema: z.string().regex(/^[^\s/]+$/),
  },
  apiPort: {
    env: 'LAKE_API_PORT',
    flag: '--port',
    default: '8484',
    allowed: 'a TCP port from 0 to 65535 (0: any free port)',
    schema: z.coerce.number().int().min(0).max(65535),
  },
  apiShutdownTimeoutMs: {
    env: 'LAKE_API_SHUTDOWN_TIMEOUT_MS',
    default: '30000',
    allowed: 'milliseconds as an integer from 0 to 3600000',
    schema: z.coerce.number().int().min(0).max(3_600_000),
  },
  apiBodyLimitBytes: {
    env: 'LAKE_API_BODY_LIMIT_BYTES',
    default: '1048576',
    allowed: 'bytes as an integer from 1024 to 1073741824',
    schema: z.coerce.number().int().min(1024).max(1_073_741_824),
  },
  apiIngestBodyLimitBytes: {
    env: 'LAKE_API_INGEST_BODY_LIMIT_BYTES',
    default: '104857600',
    allowed: 'bytes as an integer from 1024 to 17179869184',
    schema: z.coerce.number().int().min(1024).max(17_179_869_184),
  },
  apiRateLimit: {
    env: 'LAKE_API_RATE_LIMIT',
    default: '1200',
    allowed: 'requests per minute per API key as an integer >= 0 (0: no limit)',
    schema: z.coerce.number().int().min(0),
  },
  apiAuthFailureLimit: {
    env: 'LAKE_API_AUTH_FAILURE_LIMIT',
    default: '30',
    allowed: 'refused API keys per minute per client address (IPv6: per /64) as an integer >= 0 (0: no limit)',
    schema: z.coerce.number().int().min(0),
  },
  apiTimeoutMs: {
    env: 'LAKE_API_TIMEOUT_MS',
    default: '30000',
    allowed: 'milliseconds as an integer from 0 to 3600000 (0: no limit)',
    schema: z.coerce.number().int().min(0).max(3_600_000),
  },
  apiIdleTimeoutMs: {
    env: 'LAKE_API_IDLE_TIMEOUT_MS',
    default: '60000',
    allowed: 'milliseconds as an integer from 0 to 3600000 (0: no limit)',
    schema: z.coerce.number().int().min(0).max(3_600_000),
  },
  uploadDir: {
    env: 'LAKE_UPLOAD_DIR',
    default: undefined,
    allowed: 'a directory path (unset: uploads/ in the warm tier)',
    schema: z.string().min(1).optional(),
  },
  uploadMaxBytes: {
    env: 'LAKE_UPLOAD_MAX_BYTES',
    default: '107374182400',
    allowed: 'bytes as an integer from 1 to 9007199254740991',
    schema: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  },
  uploadTtlSeconds: {
    env: 'LAKE_UPLOAD_TTL_SECONDS',
    default: '86400',
    allowed: 'seconds as an integer from 1 to 31536000',
    schema: z.coerce.number().int().min(1).max(31_536_000),
  },
  consolePmtiles: {
    env: 'LAKE_CONSOLE_PMTILES',
    default: undefined,
    allowed: 'the path of a PMTiles file of street tiles for the web console (unset: countries and coastlines only)',
    schema: z.string().min(1).optional(),
  },
  backupDir: {
    env: 'LAKE_BACKUP_DIR',
    default: undefined,
    allowed: 'a directory path (unset: backups/ in the cold tier)',
    schema: z.string().min(1).optional(),
  },
  backupKeyFile: {
    env: 'LAKE_BACKUP_KEY_FILE',
    default: undefined,
    allowed: 'the path of a file holding the passphrase backups are encrypted with (unset: not encrypted)',
    schema: z.string().min(1).optional(),
  },
  backupSchedule: {
    env: 'LAKE_BACKUP_SCHEDULE',
    default: '03:30',
    allowed: 'times of day as HH:MM in local time, comma-separated, or off (lake serve makes a backup at each)',
    schema: z
      .string()
      .regex(/^(off|([01]\d|2[0-3]):[0-5]\d(,([01]\d|2[0-3]):[0-5]\d)*)$/)
      .transform((value) => (value === 'off' ? [] : [...new Set(value.split(','))].sort())),
  },
  backupKeepDaily: {
    env: 'LAKE_BACKUP_KEEP_DAILY',
    default: '7',
    allowed: 'days as an integer from 1 to 3650: the newest backup of each of these last days is kept',
    schema: z.coerce.number().int().min(1).max(3650),
  },
  backupKeepWeekly: {
    env: 'LAKE_BACKUP_KEEP_WEEKLY',
    default: '30',
    allowed: 'days as an integer from 0 to 3650: the newest backup of each week within them is kept',
    schema: z.coerce.number().int().min(0).max(3650),
  },
  backupKeepMonthly: {
    env: 'LAKE_BACKUP_KEEP_MONTHLY',
    default: '365',
    allowed: 'days as an integer from 0 to 36500: the newest backup of each month within them is kept',
    schema: z.coerce.number().int().min(0).max(36500),
  },
  backupFullEveryDays: {
    env: 'LAKE_BACKUP_FULL_EVERY_DAYS',
    default: '7',
    allowed: 'days as an integer from 1 to 365: on a server, a full backup when the last full one is older, else an incremental one',
    schema: z.coerce.number().int().min(1).max(365),
  },
  pgbackrest: {
    env: 'LAKE_PGBACKREST',
    default: undefined,
    allowed: 'the command that runs pgBackRest on the database host, e.g. "pgbackrest" or "sudo -u postgres pgbackrest" (unset: server backups are refused)',
    schema: z.string().min(1).optional(),
  },
  pgbackrestStanza: {
    env: 'LAKE_PGBACKREST_STANZA',
    default: 'lake',
    allowed: 'the pgBackRest stanza of the lake\'s cluster',
    schema: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  },
  jobConcurrency: {
    env: 'LAKE_JOB_CONCURRENCY',
    default: undefined,
    allowed: 'an integer from 1 to 32 (unset: 1 on the embedded database, 2 on a server)',
    schema: z.coerce.number().int().min(1).max(32).optional(),
  },
  metricsToken: {
    env: 'LAKE_METRICS_TOKEN',
    default: undefined,
    allowed: 'a secret of 16 to 256 printable characters without spaces, which GET /metrics then requires as `Authorization: Bearer <token>` (unset: /metrics answers loopback clients only)',
    schema: z.string().regex(/^[\x21-\x7e]{16,256}$/).optional(),
    // Never repeated in an error message: the value is a credential.
    secret: true,
  },
} as const;

type Settings = typeof SETTINGS;
export type SettingName = keyof Settings;

export interface Config {
  /** Root of the lake's files; holds the tiers below. */
  dataDir: string;
  /** The seed's storage hierarchy, under dataDir. */
  tiers: {
    /** Hot: the embedded database (when no DATABASE_URL). */
    hot: string;
    /** Warm: import staging, temporary files. */
    warm: string;
    /** Cold: archives and backups. */
    cold: string;
    /** Content-addressed files kept as they are. */
    blobs: string;
  };
  /**
   * What this installation makes once and reuses: PGlite's extensions unpacked, a migrated empty
   * database that new embedded lakes start from. Deleting it costs only the time to make it again.
   */
  cacheDir: string;
  /** Absent: the embedded PGlite database under tiers.hot. */
  databaseUrl: string | undefined;
  poolMax: number;
  /** Whether the server adapter keeps repeated statements prepared per connection (QueryOptions.prepare). */
  preparedStatements: boolean;
  workMem: string;
  maintenanceWorkMem: string;
  statementTimeoutMs: number;
  /** clamd to scan imported files with; unset: files are recorded as not scanned. */
  clamavAddress: string | undefined;
  partitionMonthsAhead: number;
  /** Where `lake serve` listens. */
  apiHost: string;
  apiPort: number;
  /** How long `lake serve` lets running requests finish after SIGINT/SIGTERM before it cuts them. */
  apiShutdownTimeoutMs: number;
  /** Largest request body `lake serve` reads (JSON), in bytes. */
  apiBodyLimitBytes: number;
  /** Largest NDJSON body of the streaming ingestion routes, in bytes. */
  apiIngestBodyLimitBytes: number;
  /** Requests per minute per API key; 0: no limit. */
  apiRateLimit: number;
  /** Refused API keys per minute per client address (IPv6: per /64), past which keys from it get 429 before any lookup; 0: no limit. */
  apiAuthFailureLimit: number;
  /** How long an API request may run (statement timeout of its queries; the handler gets a second more); 0: no limit. */
  apiTimeoutMs: number;
  /** A connection with no bytes moving for this long is closed; 0: never. */
  apiIdleTimeoutMs: number;
  /** Where resumable uploads are written (tus); warm/uploads in the data directory unless set. */
  uploadDir: string;
  /** The largest upload accepted, in bytes. */
  uploadMaxBytes: number;
  /** An upload not finished this long after its creation expires and is deleted. */
  uploadTtlSeconds: number;
  /** A PMTiles file of streets the web console draws under the lake's data (served at /console/basemap.pmtiles); undefined: none. */
  consolePmtiles: string | undefined;
  /** Import jobs `lake serve` runs at once; undefined: 1 on the embedded database, 2 on a server. */
  jobConcurrency: number | undefined;
  /** Where `lake backup` writes (backups/ in the cold tier unless set). */
  backupDir: string;
  /** A file holding the passphrase backups are encrypted with; undefined: backups are not encrypted. */
  backupKeyFile: string | undefined;
  /** Times of day (HH:MM, local, sorted) at which `lake serve` makes a backup; empty: none. */
  backupSchedule: string[];
  /** Retention: the newest backup of each of the last N days, of each week within M days, of each month within K days. */
  backupKeepDaily: number;
  backupKeepWeekly: number;
  backupKeepMonthly: number;
  /** Server: a full backup when the last full one is older than this many days, else incremental. */
  backupFullEveryDays: number;
  /** The command that runs pgBackRest on the database host; undefined: server backups are refused. */
  pgbackrest: string | undefined;
  pgbackrestStanza: string;
  /** The bearer token GET /metrics requires; undefined: /metrics answers loopback clients only. */
  metricsToken: string | undefined;
}

/** Flag values from the command line override the environment. */
export type ConfigOverrides = Partial<Record<SettingName, string | undefined>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Settings[SettingName]][]) {
    const raw = overrides[name] ?? nonEmpty(env[setting.env]) ?? setting.default;
    const parsed = setting.schema.safeParse(raw);
    if (!parsed.success) {
      const source = overrides[name] !== undefined ? ('flag' in setting ? setting.flag : `--${kebab(name)}`) : setting.env;
      const shown = 'secret' in setting ? '(a secret, not shown)' : JSON.stringify(raw);
      throw new LakeError('CONFIG_INVALID', `${source}=${shown} is not valid: expected ${setting.allowed}`);
    }
    values[name] = parsed.data;
  }
  const dataDir = path.resolve(values.dataDir as string);
  const userCache = nonEmpty(env.XDG_CACHE_HOME) ?? path.join(nonEmpty(env.HOME) ?? os.homedir(), '.cache');
  return {
    ...(values as Omit<Config, 'tiers' | 'dataDir' | 'uploadDir' | 'cacheDir' | 'backupDir' | 'backupKeyFile'>),
    dataDir,
    cacheDir: path.resolve((values.cacheDir as string | undefined) ?? path.join(userCache, 'datapunk-lake')),
    uploadDir: values.uploadDir ? path.resolve(values.uploadDir as string) : path.join(dataDir, 'warm', 'uploads'),
    backupDir: values.backupDir ? path.resolve(values.backupDir as string) : path.join(dataDir, 'cold', 'backups'),
    backupKeyFile: values.backupKeyFile ? path.resolve(values.backupKeyFile as string) : undefined,
    tiers: {
      hot: path.join(dataDir, 'hot'),
      warm: path.join(dataDir, 'warm'),
      cold: path.join(dataDir, 'cold'),
      blobs: path.join(dataDir, 'blobs'),
    },
  };
}

/** The environment variables the lake reads, for `--help` and the README. */
export const ENVIRONMENT = Object.fromEntries(
  Object.values(SETTINGS).map((s) => [s.env, s.default ?? '(unset)']),
) as Record<string, string>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
