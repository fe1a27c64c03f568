// Backup, verify and restore of a big lake (issue 15), on the embedded database and on a PostgreSQL
// server: location points, timeline items and blobs made straight into the lake (not through the
// importer: this measures backups), then per backend
//   full backup     backupAndPrune without pruning: seconds, MB/s of the live data (database +
//                   blobs), the phases inside (embedded: the pause, the database file, the blobs),
//                   the repository's bytes (server: plus what the pgBackRest set added), peak RSS
//   baseline        in the same run, on the same data: embedded, `tar --zstd -cf` of the database
//                   files (hot/pglite, after a CHECKPOINT) and the blob directory, the embedded
//                   equivalent of a dump; server, `pg_dump -Fc` of the lake's database plus
//                   `tar --zstd -cf` of the blob directory, one after the other
//   verify          verifyBackup: seconds, MB/s
//   restore         restoreBackup into a new data directory (server: --pg-data a new directory
//                   in the server's file system, then started once to count the points it holds)
//   incremental     after 1% more points, items and blobs: a second backup, seconds and the ratio
//                   to the full one (target: under 0.10)
// Prints a table and one JSON line with every figure. Everything it makes is removed at the end
// (the server's pgBackRest sets stay: they are the cluster's, expired by its retention policy).
//
//   node --import tsx bench/backup.ts [--backend embedded|server|both] [--points 10000000]
//        [--items 1000000] [--blob-mb 10240] [--blob-size-kb 3072] [--text-percent 10]
//
// Data: points every 10 s on a walk around Berlin (like bench/api-load.ts), items a search or a
// page visit with a title, URL and for a third of them a place; blobs from 0.5 to 1.5 times
// --blob-size-kb, of which --text-percent are compressible text (words) and the rest
// incompressible (photos: an AES-CTR key stream, unique per blob), each with its blob_refs row.
// With --backend server it uses LAKE_TEST_DATABASE_URL (or `scripts/postgres-server.sh url`) and
// a fresh database, dropped afterwards, and LAKE_PGBACKREST (default: that script's pgbackrest).
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { backupAndPrune, type BackupPhase } from '../src/backup/make-backup.js';
import { BackupRepository, type BackupManifest } from '../src/backup/repository.js';
import { restoreBackup, verifyBackup } from '../src/backup/restore.js';
import { tableChecksums } from '../src/backup/table-checksums.js';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { addRef } from '../src/store/blob-refs.js';
import { FRAME_CODECS } from '../src/store/frame-codecs.js';
import { createUser } from '../src/query/users.js';

const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'both' },
    points: { type: 'string', default: '10000000' },
    items: { type: 'string', default: '1000000' },
    'blob-mb': { type: 'string', default: '10240' },
    'blob-size-kb': { type: 'string', default: '3072' },
    'text-percent': { type: 'string', default: '10' },
  },
});
const here = path.dirname(new URL(import.meta.url).pathname);
const script = path.join(here, '../scripts/postgres-server.sh');
const POINTS = Number(args.points);
const ITEMS = Number(args.items);
const BLOB_BYTES = Number(args['blob-mb']) * 1024 * 1024;
const BLOB_SIZE = Number(args['blob-size-kb']) * 1024;
const TEXT_PERCENT = Number(args['text-percent']);
const START = Date.parse('2023-01-01T00:00:00Z');
const POINT_STEP_S = 10;
const CHUNK = 100_000;
const MB = 1e6;
const backends = args.backend === 'both' ? ['embedded', 'server'] : [args.backend!];
if (backends.some((b) => b !== 'embedded' && b !== 'server')) {
  console.error(`--backend must be embedded, server or both, got ${args.backend}`);
  process.exit(2);
}
const itemStepS = (POINTS * POINT_STEP_S) / Math.max(ITEMS, 1);
const spanMs = (n: number, stepS: number) => n * stepS * 1000;

const log = (message: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const round = (n: number, digits = 1) => +n.toFixed(digits);
const seconds = (from: number) => (performance.now() - from) / 1000;

/** CPU seconds of this process's ended children (tar, zstd, pg_dump, pgBackRest: each counted once reaped), or 0 without /proc. */
function childCpuSeconds(): number {
  if (!existsSync('/proc/self/stat')) return 0;
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, USER_HZ
}

/**
 * `work` timed, with the peak RSS of this process (sampled every 50 ms) and CPU seconds: this
 * process's (the lake, and embedded its database) and its children's. On a shared machine the CPU
 * time is the steadier figure.
 */
async function sampled<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number; peakRssMB: number; cpuSeconds: number; childCpuSeconds: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const children = childCpuSeconds();
  try {
    const value = await work();
    const used = process.cpuUsage(cpu);
    return {
      value,
      seconds: seconds(started),
      peakRssMB: Math.round(Math.max(peak, process.memoryUsage().rss) / 1048576),
      cpuSeconds: round((used.user + used.system) / 1e6, 2),
      childCpuSeconds: round(childCpuSeconds() - children, 2),
    };
  } finally {
    clearInterval(timer);
  }
}

async function duBytes(target: string): Promise<number> {
  if (!existsSync(target)) return 0;
  const { stdout } = await run('du', ['-sb', target]);
  return Number(stdout.split('\t')[0]);
}

// --- data -----------------------------------------------------------------------------------------

async function addPoints(lake: Lake, userId: string, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += CHUNK) {
    await lake.db.query(
      `INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, accuracy_m, altitude_m, velocity_mps, activity, source)
       SELECT $1, timestamptz 'epoch' + ($2::float8 + i * $3::float8) * interval '1 second',
              sha256(int8send(i)), 52.52 + 0.05 * sin(i / 2743.0 * 2 * pi()) + 0.1 * sin(i / 90000.0),
              13.405 + 0.08 * cos(i / 2743.0 * 2 * pi()) + 0.1 * cos(i / 70000.0), 5 + i % 20, 30 + i % 17,
              CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 13) * 0.7 END,
              (ARRAY['still','walking','in_vehicle','on_bicycle'])[1 + (i / 500) % 4], 'bench.synthetic'
         FROM generate_series($4::bigint, $5::bigint) i`,
      [userId, START / 1000, POINT_STEP_S, start, Math.min(start + CHUNK, to) - 1],
    );
  }
}

async function addItems(lake: Lake, userId: string, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += CHUNK) {
    await lake.db.query(
      `INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source, title, url, lat, lon, attributes)
       SELECT $1, timestamptz 'epoch' + ($2::float8 + i * $3::float8) * interval '1 second', sha256(int8send(i)),
              CASE WHEN i % 3 = 0 THEN 'search' ELSE 'page_visit' END, 'bench.synthetic',
              'synthetic item ' || i || ' about ' || (ARRAY['rivers','maps','coffee','trains','music','berlin','weather'])[1 + i % 7]
                || ' and ' || (ARRAY['news','recipes','tickets','lyrics','hiking'])[1 + (i / 7) % 5],
              'https://example.org/' || (ARRAY['search','wiki','shop','blog'])[1 + i % 4] || '/' || md5(int8send(i)),
              CASE WHEN i % 3 = 1 THEN 52.4 + (i % 1000) / 4000.0 END, CASE WHEN i % 3 = 1 THEN 13.2 + (i % 777) / 2000.0 END,
              jsonb_build_object('products', jsonb_build_array('Search'), 'n', i)
         FROM generate_series($4::bigint, $5::bigint) i`,
      [userId, START / 1000, itemStepS, start, Math.min(start + CHUNK, to) - 1],
    );
  }
}

const WORDS = 'the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all we their has would when if so no more up out what about who can said time'.split(' ');

/** Blob n: incompressible (a key stream unique to n) or, for --text-percent of them, text. */
function blobContent(n: number, size: number, text: boolean): Buffer {
  const key = createHash('sha256').update(`bench blob ${n}`).digest();
  const stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
  if (!text) return stream;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; at < size; i++) {
    const r = stream[i % size]!;
    const word = r < 16 ? String(stream.readUInt16LE(i % (size - 1))) : WORDS[r % WORDS.length]!;
    at += out.write(r % 23 === 0 ? `${word}.\n` : `${word} `, at, 'latin1');
  }
  return out;
}

/** Blobs numbered from `from` until `bytes` are written, each with its reference; returns the next number and bytes. */
async function addBlobs(lake: Lake, userId: string, from: number, bytes: number): Promise<{ next: number; bytes: number; count: number }> {
  let n = from;
  let written = 0;
  let refs: { sha256: string; size: number; n: number; text: boolean }[] = [];
  const flush = async () => {
    const batch = refs;
    refs = [];
    await lake.db.asUser(userId, async (tx) => {
      for (const ref of batch) {
        await addRef(tx, { sha256: ref.sha256, sizeBytes: ref.size, mimeType: ref.text ? 'text/plain' : 'image/jpeg', originalName: `Takeout/Photos/${ref.n}.${ref.text ? 'txt' : 'jpg'}`, source: ref.text ? 'google.drive' : 'google.photos' });
      }
    });
  };
  while (written < bytes) {
    const size = Math.max(1024, Math.min(bytes - written, Math.round(BLOB_SIZE * (0.5 + ((n * 7919) % 1000) / 1000))));
    const text = n % 100 < TEXT_PERCENT;
    const put = await lake.blobs.put(blobContent(n, size, text));
    refs.push({ sha256: put.sha256, size, n, text });
    if (refs.length >= 200) await flush();
    written += size;
    n++;
  }
  if (refs.length > 0) await flush();
  return { next: n, bytes: written, count: n - from };
}

// --- one backend ----------------------------------------------------------------------------------

interface Figures {
  [key: string]: unknown;
}

async function serverBase(): Promise<string> {
  return process.env.LAKE_TEST_DATABASE_URL || execFileSync('bash', [script, 'url']).toString().trim();
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await serverBase() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** pgBackRest's command may hit a lock held by another backup of the cluster: wait and retry. */
async function retryingLock<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt < 60 && /unable to acquire lock|lock.*held|LockAcquireError/i.test(String((error as Error).message))) {
        log(`pgBackRest is busy (${String((error as Error).message).slice(0, 120)}): waiting 10 s`);
        await new Promise((r) => setTimeout(r, 10_000));
        continue;
      }
      throw error;
    }
  }
}

async function benchBackend(backend: 'embedded' | 'server'): Promise<Figures> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lake-bench-backup-'));
  const backupDir = await mkdtemp(path.join(os.tmpdir(), 'lake-bench-backup-repo-'));
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'lake-bench-backup-scratch-'));
  const env: Record<string, string> = { LAKE_DATA_DIR: dataDir, LAKE_BACKUP_DIR: backupDir };
  const dbName = `lake_bench_backup_${process.pid}`;
  const root = backend === 'server' ? execFileSync('bash', [script, 'root']).toString().trim() : '';
  const pgRestoreDir = `/var/lib/postgresql/restore-bench-${process.pid}`;
  const dumpFileIn = `/tmp/lake-bench-backup-${process.pid}.dump`;
  let databaseUrl: string | undefined;
  if (backend === 'server') {
    await withAdmin((c) => c.query(`CREATE DATABASE ${dbName}`));
    const url = new URL(await serverBase());
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
    env.DATABASE_URL = databaseUrl;
    env.LAKE_PGBACKREST = process.env.LAKE_PGBACKREST || `bash ${script} pgbackrest`;
  }
  const config = loadConfig(env);
  const lake = await Lake.open(config);
  const figures: Figures = { backend, points: POINTS, items: ITEMS };
  try {
    // ---- the data
    const setup = performance.now();
    const userId = (await createUser(lake.db, 'bench')).userId;
    const points = Math.round(POINTS * 1.01) + 1;
    const items = Math.round(ITEMS * 1.01) + 1;
    const until = START + Math.max(spanMs(points, POINT_STEP_S), spanMs(items, itemStepS)) + 86_400_000;
    for (const table of ['timeseries.location_points', 'user_data.items']) {
      await lake.db.transaction((tx) => tx.query(`SELECT lake.ensure_month_partitions($1, $2, $3)`, [table, new Date(START), new Date(until)]));
    }
    log(`${backend}: ${POINTS} points...`);
    await addPoints(lake, userId, 0, POINTS);
    log(`${backend}: ${ITEMS} items...`);
    await addItems(lake, userId, 0, ITEMS);
    const refreshHours = (from: number, to: number) =>
      lake.db.asUser(userId, (tx) =>
        tx.query(`SELECT timeseries.refresh_location_hours(ARRAY(SELECT generate_series(date_trunc('hour', $1::timestamptz), $2::timestamptz, interval '1 hour')))`, [new Date(from), new Date(to)]),
      );
    await refreshHours(START, START + spanMs(POINTS, POINT_STEP_S));
    log(`${backend}: ${(BLOB_BYTES / MB).toFixed(0)} MB of blobs...`);
    const blobsStarted = performance.now();
    const blobs = await addBlobs(lake, userId, 0, BLOB_BYTES);
    figures.blobPutMBps = round(blobs.bytes / MB / seconds(blobsStarted));
    await lake.db.query('ANALYZE');
    await lake.db.query('CHECKPOINT');
    figures.setupSeconds = round(seconds(setup));
    figures.blobs = blobs.count;
    log(`${backend}: set up in ${figures.setupSeconds} s (blobs at ${figures.blobPutMBps} MB/s)`);

    // ---- live data
    const databaseBytes = backend === 'embedded'
      ? await duBytes(path.join(config.tiers.hot, 'pglite'))
      : Number((await lake.db.query<{ n: string }>(`SELECT pg_database_size(current_database())::text AS n`)).rows[0]!.n);
    const blobBytes = await duBytes(config.tiers.blobs);
    const liveBytes = databaseBytes + blobBytes;
    Object.assign(figures, { databaseMB: round(databaseBytes / MB), blobMB: round(blobBytes / MB), liveMB: round(liveBytes / MB) });
    if (backend === 'server') {
      figures.clusterMB = round(Number((await lake.db.query<{ n: string }>(`SELECT sum(pg_database_size(datname))::text AS n FROM pg_database`)).rows[0]!.n) / MB);
    }

    // ---- full backup
    // A server backup is full when the newest full set is older than LAKE_BACKUP_FULL_EVERY_DAYS:
    // another backup of the cluster may have made one today, so the bench asks for 0 days here
    // (below the setting's minimum of 1, set on the object) and for a year before the incremental.
    const mutable = lake.config as { backupFullEveryDays: number };
    mutable.backupFullEveryDays = 0;
    const phases = () => {
      const marks: Partial<Record<BackupPhase, number>> = {};
      return { marks, onProgress: ({ phase }: { phase: BackupPhase }) => (marks[phase] ??= performance.now()) };
    };
    const backupOnce = async (label: string) => {
      const p = phases();
      const repoBefore = await duBytes(backupDir);
      const result = await sampled(() => retryingLock(() => backupAndPrune(lake, { prune: false, onProgress: p.onProgress })));
      const manifest = result.value.manifest;
      const order: BackupPhase[] = ['pause', 'check', 'database', 'blobs', 'done'];
      const phaseSeconds: Record<string, number> = {};
      const present = order.filter((ph) => p.marks[ph] !== undefined);
      for (let i = 0; i < present.length - 1; i++) phaseSeconds[present[i]!] = round((p.marks[present[i + 1]!]! - p.marks[present[i]!]!) / 1000, 2);
      const repoBytes = (await duBytes(backupDir)) - repoBefore;
      const pgbackrestBytes = manifest.database.kind === 'pgbackrest' ? manifest.database.repositoryBytes : 0;
      log(`${backend}: ${label} backup ${manifest.id} in ${round(result.seconds)} s ${JSON.stringify(phaseSeconds)}`);
      return { manifest, seconds: result.seconds, peakRssMB: result.peakRssMB, cpuSeconds: result.cpuSeconds, childCpuSeconds: result.childCpuSeconds, phaseSeconds, repoBytes, pgbackrestBytes };
    };
    const full = await backupOnce('full');
    const fullManifest: BackupManifest = full.manifest;
    Object.assign(figures, {
      fullSeconds: round(full.seconds, 2),
      fullMBps: round(liveBytes / MB / full.seconds),
      fullPhaseSeconds: full.phaseSeconds,
      fullPeakRssMB: full.peakRssMB,
      fullCpuSeconds: full.cpuSeconds,
      fullChildCpuSeconds: full.childCpuSeconds,
      backupMB: round((full.repoBytes + full.pgbackrestBytes) / MB),
      backupLakeRepoMB: round(full.repoBytes / MB),
      backupRatioToLive: round((full.repoBytes + full.pgbackrestBytes) / liveBytes, 3),
    });
    if (fullManifest.database.kind === 'pgbackrest') {
      Object.assign(figures, {
        pgbackrestSet: fullManifest.database.label,
        pgbackrestType: fullManifest.database.type,
        pgbackrestClusterMB: round(fullManifest.database.databaseBytes / MB),
        pgbackrestRepoDeltaMB: round(fullManifest.database.repositoryBytes / MB),
      });
    } else {
      figures.databaseFileMB = round(fullManifest.database.addedBytes / MB);
      // What of the pause is the tables' row counts and checksums (the rest: the file copy, the blob list).
      const checksummed = performance.now();
      await tableChecksums(lake.db);
      figures.pauseChecksumSeconds = round(seconds(checksummed), 2);
    }

    // ---- baseline, same data, same run
    const tarFile = path.join(scratch, 'baseline.tar.zst');
    if (backend === 'embedded') {
      await lake.db.query('CHECKPOINT');
      const tarred = await sampled(() => run('tar', ['--zstd', '-cf', tarFile, '-C', dataDir, path.relative(dataDir, path.join(config.tiers.hot, 'pglite')), path.relative(dataDir, config.tiers.blobs)]));
      const size = (await stat(tarFile)).size;
      Object.assign(figures, { baseline: 'tar --zstd of hot/pglite + blobs', baselineSeconds: round(tarred.seconds, 2), baselineMB: round(size / MB), baselineCpuSeconds: tarred.childCpuSeconds });
    } else {
      const pgDump = ['/usr/lib/postgresql/17/bin/pg_dump', '-Fc', '-f', dumpFileIn, databaseUrl!];
      const dumped = await sampled(() => (root ? run('chroot', [root, 'runuser', '-u', 'postgres', '--', ...pgDump]) : run('runuser', ['-u', 'postgres', '--', ...pgDump])));
      const dumpBytes = (await stat(path.join(root || '/', dumpFileIn))).size;
      await rm(path.join(root || '/', dumpFileIn), { force: true });
      const tarred = await sampled(() => run('tar', ['--zstd', '-cf', tarFile, '-C', dataDir, path.relative(dataDir, config.tiers.blobs)]));
      const size = (await stat(tarFile)).size;
      Object.assign(figures, {
        baseline: 'pg_dump -Fc + tar --zstd of blobs',
        baselineSeconds: round(dumped.seconds + tarred.seconds, 2),
        baselinePgDumpSeconds: round(dumped.seconds, 2),
        baselineTarSeconds: round(tarred.seconds, 2),
        baselineMB: round((dumpBytes + size) / MB),
        baselineDumpMB: round(dumpBytes / MB),
        // pg_dump and tar with zstd; the server's backend that answered pg_dump is not counted.
        baselineCpuSeconds: round(dumped.childCpuSeconds + tarred.childCpuSeconds, 2),
      });
    }
    await rm(tarFile, { force: true });
    figures.fullToBaseline = round(full.seconds / (figures.baselineSeconds as number), 2);

    // ---- verify
    const repository = await BackupRepository.open(lake.config);
    const verified = await sampled(() => retryingLock(() => verifyBackup(repository, fullManifest.id, lake.config)));
    Object.assign(figures, { verifySeconds: round(verified.seconds, 2), verifyMBps: round(liveBytes / MB / verified.seconds), verifyPeakRssMB: verified.peakRssMB, verifyCpuSeconds: round(verified.cpuSeconds + verified.childCpuSeconds, 2) });
    log(`${backend}: verified in ${figures.verifySeconds} s; so far ${JSON.stringify(figures)}`);

    // ---- restore into a new data directory
    const restoreDir = path.join(scratch, 'restored');
    const restored = await sampled(() =>
      retryingLock(() => restoreBackup(repository, fullManifest.id, { dataDir: restoreDir, ...(backend === 'server' ? { pgData: pgRestoreDir } : {}) }, lake.config)),
    );
    Object.assign(figures, { restoreSeconds: round(restored.seconds, 2), restoreMBps: round(liveBytes / MB / restored.seconds), restorePeakRssMB: restored.peakRssMB, restoreCpuSeconds: round(restored.cpuSeconds + restored.childCpuSeconds, 2) });
    log(`${backend}: restored in ${figures.restoreSeconds} s; so far ${JSON.stringify(figures)}`);
    if (backend === 'server') {
      // Started once to see the bench's points in it, then removed.
      const port = String(54400 + (process.pid % 500));
      try {
        const started = performance.now();
        const url = new URL(execFileSync('bash', [script, 'start-restored', pgRestoreDir, port]).toString().trim());
        figures.restoredStartSeconds = round(seconds(started), 2);
        url.pathname = `/${dbName}`;
        const client = new pg.Client({ connectionString: url.toString() });
        await client.connect();
        figures.restoredPoints = Number((await client.query(`SELECT count(*)::bigint AS n FROM timeseries.location_points`)).rows[0].n);
        await client.end();
      } finally {
        execFileSync('bash', [script, 'remove-restored', pgRestoreDir], { stdio: 'inherit' });
      }
    }
    await rm(restoreDir, { recursive: true, force: true });

    // ---- 1% more, then the incremental backup
    const morePoints = Math.round(POINTS / 100);
    const moreItems = Math.round(ITEMS / 100);
    await addPoints(lake, userId, POINTS, POINTS + morePoints);
    await addItems(lake, userId, ITEMS, ITEMS + moreItems);
    await refreshHours(START + spanMs(POINTS, POINT_STEP_S) - 3_600_000, START + spanMs(POINTS + morePoints, POINT_STEP_S));
    const moreBlobs = await addBlobs(lake, userId, blobs.next, Math.round(blobs.bytes / 100));
    log(`${backend}: added ${morePoints} points, ${moreItems} items, ${moreBlobs.count} blobs (${round(moreBlobs.bytes / MB)} MB)`);
    mutable.backupFullEveryDays = 365;
    const incremental = await backupOnce('incremental');
    Object.assign(figures, {
      incrementalSeconds: round(incremental.seconds, 2),
      incrementalToFull: round(incremental.seconds / full.seconds, 3),
      incrementalPhaseSeconds: incremental.phaseSeconds,
      incrementalMB: round((incremental.repoBytes + incremental.pgbackrestBytes) / MB),
      ...(incremental.manifest.database.kind === 'pglite-files'
        ? { incrementalFilesStored: incremental.manifest.database.added, incrementalFilesStoredMB: round(incremental.manifest.database.addedBytes / MB) }
        : {}),
      incrementalPeakRssMB: incremental.peakRssMB,
      incrementalCpuSeconds: round(incremental.cpuSeconds + incremental.childCpuSeconds, 2),
      ...(incremental.manifest.database.kind === 'pgbackrest' ? { incrementalPgbackrestType: incremental.manifest.database.type } : {}),
    });
    figures.peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  } finally {
    await lake.close();
    if (backend === 'server') {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch((e) => log(`drop ${dbName}: ${e}`));
      await rm(path.join(root || '/', dumpFileIn), { force: true });
      if (existsSync(path.join(root || '/', pgRestoreDir))) execFileSync('bash', [script, 'remove-restored', pgRestoreDir], { stdio: 'inherit' });
    }
    for (const dir of [dataDir, backupDir, scratch]) await rm(dir, { recursive: true, force: true });
  }
  return figures;
}

// --- the costs inside, on this machine -----------------------------------------------------------

/** MB/s of the steps a blob copy goes through, on 64 MiB of incompressible and of text content. */
async function componentRates(): Promise<Figures> {
  const piece = 1 << 20;
  const random = randomBytes(64 * piece);
  const text = blobContent(1, 64 * piece, true);
  const rate = async (bytes: number, work: () => unknown | Promise<unknown>) => {
    const started = performance.now();
    await work();
    return round(bytes / MB / seconds(started));
  };
  const zstd = FRAME_CODECS.cold;
  await zstd.compress(random.subarray(0, piece));
  const frames: Uint8Array[] = [];
  const out: Figures = {
    sha256MBps: await rate(random.length, () => createHash('sha256').update(random).digest()),
    zstdRandomMBps: await rate(random.length, async () => {
      for (let at = 0; at < random.length; at += piece) frames.push(await zstd.compress(random.subarray(at, at + piece)));
    }),
    zstdTextMBps: await rate(text.length, async () => {
      for (let at = 0; at < text.length; at += piece) await zstd.compress(text.subarray(at, at + piece));
    }),
    unzstdRandomMBps: await rate(random.length, async () => {
      for (const frame of frames) await zstd.decompress(frame, piece);
    }),
  };
  try {
    const file = path.join(os.tmpdir(), `lake-bench-zstd-${process.pid}`);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, random);
    out.zstdCliRandomMBps = await rate(random.length, () => run('zstd', ['-q', '-f', '-3', file, '-o', `${file}.zst`]));
    await rm(file, { force: true });
    await rm(`${file}.zst`, { force: true });
  } catch {
    // no zstd command
  }
  return out;
}

// --- main -----------------------------------------------------------------------------------------

const results: Figures[] = [];
const components = await componentRates();
log(`components: ${JSON.stringify(components)}`);
for (const backend of backends) {
  try {
    results.push(await benchBackend(backend as 'embedded' | 'server'));
  } catch (error) {
    log(`${backend} failed: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  }
}
const scale = `${POINTS} points, ${ITEMS} items, ${round(BLOB_BYTES / MB, 0)} MB of blobs (~${BLOB_SIZE / 1024} KB each, ${TEXT_PERCENT}% text)`;
console.log(`scale: ${scale}; ${os.cpus().length} CPUs (shared)`);
console.table(
  results.map((f) => ({
    backend: f.backend,
    'live MB (db+blobs)': `${f.liveMB} (${f.databaseMB}+${f.blobMB})`,
    'full s': f.fullSeconds,
    'full MB/s': f.fullMBps,
    'backup MB': f.backupMB,
    'baseline s': f.baselineSeconds,
    'full/baseline': f.fullToBaseline,
    'verify s': f.verifySeconds,
    'restore s': f.restoreSeconds,
    'incr s': f.incrementalSeconds,
    'incr/full': f.incrementalToFull,
    'full CPU s': f.fullCpuSeconds === undefined ? undefined : round((f.fullCpuSeconds as number) + (f.fullChildCpuSeconds as number), 1),
    'baseline CPU s': f.baselineCpuSeconds,
    'peak RSS MB': f.fullPeakRssMB,
  })),
);
console.log(JSON.stringify({ scale: { points: POINTS, items: ITEMS, blobMB: round(BLOB_BYTES / MB, 0), blobSizeKB: BLOB_SIZE / 1024, textPercent: TEXT_PERCENT }, components, results }));
