// Prometheus metrics of one API server, in a registry of its own (two servers in one process, as
// in the tests, do not share counters). Request figures are recorded as requests end; database
// and storage figures are read when /metrics is scraped, database ones at most once a second and
// directory sizes at most every STORAGE_TTL_MS (walking a large blob store is not free).
import type { Dir } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import path from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BackupStatus } from '../backup/schedule.js';
import type { Transaction } from '../db/database.js';
import type { Lake } from '../lake.js';
import { databaseStatistics, type DatabaseStatistics } from '../query/database-stats.js';

const STORAGE_TTL_MS = 10_000;
const DATABASE_TTL_MS = 1_000;
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface DatabaseStats extends DatabaseStatistics {
  up: boolean;
}

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly transactionWait: Histogram;
  private readonly transactionsInFlight: Gauge;
  private readonly accessLogDropped: Counter;
  private readonly ingestLines: Counter<'kind' | 'outcome'>;
  private readonly ingestBatchSeconds: Histogram<'kind'>;
  private databaseStats: { at: number; stats: Promise<DatabaseStats> } | null = null;
  private storage: { at: number; sizes: Promise<Record<string, number>> } | null = null;

  constructor(private readonly lake: Lake) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'lake_' });
    this.requestDuration = new Histogram({
      name: 'lake_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.transactionWait = new Histogram({
      name: 'lake_db_transaction_wait_seconds',
      help: 'time from asking for a user transaction to its first statement (pool wait, BEGIN, identity)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.transactionsInFlight = new Gauge({ name: 'lake_db_transactions_in_flight', help: 'user transactions open or waiting for a connection', registers });
    this.accessLogDropped = new Counter({ name: 'lake_access_log_dropped_total', help: 'access log entries that could not be written', registers });
    this.ingestLines = new Counter({
      name: 'lake_ingest_lines_total',
      help: 'lines posted to the streaming ingestion routes by kind (locations, measurements) and outcome (accepted, duplicate, rejected)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.ingestBatchSeconds = new Histogram({
      name: 'lake_ingest_batch_seconds',
      help: 'time to load one batch of streamed ingestion lines',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'lake_db_pool_size',
      help: 'transactions the database can run at once (the server pool size; 1 for the embedded database)',
      registers,
      collect() {
        this.set(lake.db.concurrentTransactions);
      },
    });
    const metrics = this;
    new Gauge({
      name: 'lake_db_up',
      help: '1 when the database answered the last scrape',
      registers,
      async collect() {
        this.set((await metrics.readDatabaseStats()).up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'lake_db_cache_hit_ratio',
      help: 'share of block reads served from shared buffers (pg_stat_database, since the statistics were reset)',
      registers,
      async collect() {
        const { blocksHit, blocksRead } = await metrics.readDatabaseStats();
        this.reset();
        if (blocksHit + blocksRead > 0) this.set(blocksHit / (blocksHit + blocksRead));
      },
    });
    new Gauge({
      name: 'lake_db_size_bytes',
      help: 'size of the lake database (pg_database_size)',
      registers,
      async collect() {
        this.set((await metrics.readDatabaseStats()).sizeBytes);
      },
    });
    new Gauge({
      name: 'lake_db_connections',
      help: "the server's connections of this lake by state (pg_stat_activity; absent on the embedded database)",
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        for (const [state, count] of (await metrics.readDatabaseStats()).connections) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'lake_storage_bytes',
      help: 'disk space used per data directory tier (hot: embedded database, warm: staging, cold: archives, blobs)',
      labelNames: ['tier'],
      registers,
      async collect() {
        for (const [tier, bytes] of Object.entries(await metrics.readStorage())) this.set({ tier }, bytes);
      },
    });
  }

  /** The backup schedule's figures (backup/schedule.ts), read from its status at each scrape. */
  watchBackups(status: () => Readonly<BackupStatus>): void {
    const registers = [this.registry];
    new Gauge({
      name: 'lake_backup_last_success_timestamp_seconds',
      help: 'start (the state it holds) of the newest complete backup in the repository, in Unix seconds; 0 when there is none',
      registers,
      collect() {
        this.set((status().lastSuccess?.getTime() ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'lake_backup_last_duration_seconds',
      help: 'how long the last backup this server made took, retention included (0 before its first)',
      registers,
      collect() {
        this.set(status().lastDurationSeconds ?? 0);
      },
    });
    new Gauge({
      name: 'lake_backup_last_size_bytes',
      help: 'bytes the last backup this server made added to the repository: its database part and the blobs new to it (0 before its first)',
      registers,
      collect() {
        this.set(status().lastSizeBytes ?? 0);
      },
    });
    new Counter({
      name: 'lake_backup_failures_total',
      help: 'backups this server started that failed',
      registers,
      collect() {
        // The schedule counts; the counter shows its count.
        this.reset();
        this.inc(status().failures);
      },
    });
    new Gauge({
      name: 'lake_backup_running',
      help: '1 while this server makes a backup',
      registers,
      collect() {
        this.set(status().running ? 1 : 0);
      },
    });
  }

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  /** Lines of a streaming ingestion request, counted as their batch commits (or as they are refused). */
  ingested(kind: string, outcome: 'accepted' | 'duplicate' | 'rejected', lines: number): void {
    if (lines > 0) this.ingestLines.inc({ kind, outcome }, lines);
  }

  ingestBatchLoaded(kind: string, seconds: number): void {
    this.ingestBatchSeconds.observe({ kind }, seconds);
  }

  accessLogEntriesDropped(count: number): void {
    this.accessLogDropped.inc(count);
  }

  /** Run a user transaction, timing how long it waited to start and counting it while open. */
  async timeTransaction<T>(open: (work: (tx: Transaction) => Promise<T>) => Promise<T>, work: (tx: Transaction) => Promise<T>): Promise<T> {
    const asked = performance.now();
    this.transactionsInFlight.inc();
    try {
      return await open((tx) => {
        this.transactionWait.observe((performance.now() - asked) / 1000);
        return work(tx);
      });
    } finally {
      this.transactionsInFlight.dec();
    }
  }

  private readDatabaseStats(): Promise<DatabaseStats> {
    if (!this.databaseStats || performance.now() - this.databaseStats.at > DATABASE_TTL_MS) {
      this.databaseStats = { at: performance.now(), stats: queryDatabaseStats(this.lake) };
    }
    return this.databaseStats.stats;
  }

  private readStorage(): Promise<Record<string, number>> {
    if (!this.storage || performance.now() - this.storage.at > STORAGE_TTL_MS) {
      const tiers = Object.entries(this.lake.config.tiers);
      this.storage = {
        at: performance.now(),
        sizes: Promise.all(tiers.map(async ([tier, dir]) => [tier, await directorySize(dir)] as const)).then(Object.fromEntries),
      };
    }
    return this.storage.sizes;
  }
}

/** Statistics about the database, not user data (query/database-stats.ts); `up` false when it did not answer. */
async function queryDatabaseStats(lake: Lake): Promise<DatabaseStats> {
  try {
    return { up: true, ...(await databaseStatistics(lake.db)) };
  } catch {
    return { up: false, blocksHit: 0, blocksRead: 0, sizeBytes: 0, connections: new Map() };
  }
}

/** Bytes allocated on disk under a directory (like du), 0 when it does not exist. */
async function directorySize(dir: string): Promise<number> {
  let total = 0;
  let entries: Dir;
  try {
    entries = await opendir(dir);
  } catch {
    return 0;
  }
  for await (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directorySize(full);
    else {
      try {
        const stat = await lstat(full);
        total += stat.blocks * 512;
      } catch {
        // removed while walking (a temporary file): nothing to count
      }
    }
  }
  return total;
}
