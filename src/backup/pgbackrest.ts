// pgBackRest for a server lake: full, differential and incremental backups of the whole cluster,
// WAL archived for point-in-time recovery, verification and restore into a new data directory.
//
// The command comes from LAKE_PGBACKREST (split on spaces, run without a shell) and the stanza
// from LAKE_PGBACKREST_STANZA; pgBackRest reads everything else (repository, cipher, retention:
// expiry follows repo1-retention-full after each backup) from its own configuration. pgBackRest's
// `verify` checks the files of the repository but not that the WAL a backup needs is all there,
// so the archive's segments are listed and checked for gaps here too; restore runs both checks
// for the set it restores before anything is written.
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { type ErrorCode, LakeError } from '../errors.js';

export type PgBackRestBackupType = 'full' | 'diff' | 'incr';

export interface PgBackRestBackup {
  /** pgBackRest's label: 20261207-144909F, 20261207-144909F_20261207-150000D or ..._...I. */
  label: string;
  type: PgBackRestBackupType;
  /** The backup this one was taken against (null for a full one): the full for a differential one, the previous backup for an incremental one. */
  prior: string | null;
  /** Every backup whose files this one uses (the full one first); empty for a full one. */
  references: string[];
  startedAt: Date;
  stoppedAt: Date;
  /** Size of the cluster when it was backed up, and of the files this backup copied (all of them for a full one). */
  databaseBytes: number;
  deltaBytes: number;
  /** What the backup takes in the repository (compressed, encrypted): in all, when pgBackRest reports it (not with bundling), and this backup's own share. */
  repositoryBytes: number | null;
  repositoryDeltaBytes: number;
  /** The first and last WAL segments the backup needs to be consistent. */
  walStart: string;
  walStop: string;
  lsnStart: string;
  lsnStop: string;
  /** pgBackRest found page checksum errors while copying. */
  error: boolean;
}

export interface PgBackRestInfo {
  stanza: string;
  /** pgBackRest's status of the stanza (0 ok, 2 no valid backups, ...). */
  status: { code: number; message: string };
  cipher: string;
  /** Oldest first. */
  backups: PgBackRestBackup[];
  /** The oldest and newest WAL segments in the archive (of the current database), null when it holds none. */
  archive: { min: string | null; max: string | null };
}

export interface PgBackRestVerifyReport {
  stanza: string;
  /** The backups whose files were checked, each found valid. */
  backups: string[];
  /** WAL segments pgBackRest checked, and the range of segments found contiguous for those backups. */
  walChecked: number;
  walRange: { start: string; stop: string } | null;
}

export interface PgBackRestRestoreOptions {
  /** The backup set; default: the newest one, or with `toTime` the newest that ended before it (by a whole second: pgBackRest's times are seconds). */
  label?: string;
  /** The data directory to restore into, as pgBackRest's host sees it: absent or empty. */
  pgData: string;
  /** Point-in-time recovery: replay archived WAL up to this moment, then promote. Default: the set's consistent point. */
  toTime?: Date;
}

export interface PgBackRestRestoreResult {
  label: string;
  pgData: string;
  /** `immediate`: the set's consistent point; `time`: up to toTime. */
  recovery: 'immediate' | 'time';
  toTime: Date | null;
}

export interface PgBackRestOptions {
  /**
   * Where pgBackRest's file system is seen from this process ('' when it runs on this machine,
   * the chroot's root when scripts/postgres-server.sh runs the server in one): restore checks
   * that the target is empty there. When the target cannot be seen, pgBackRest's own refusal of
   * a non-empty directory applies.
   */
  fileSystemRoot?: string;
  /** The cluster's wal_segment_size (default 16 MiB), to name the segments of a gap. */
  walSegmentBytes?: number;
}

interface RunResult {
  stdout: string;
  stderr: string;
}

interface InfoJson {
  name: string;
  cipher: string;
  status: { code: number; message: string };
  db: { id: number; version: string }[];
  archive: { id: string; min: string | null; max: string | null; database: { id: number } }[];
  backup: {
    label: string;
    type: string;
    prior: string | null;
    reference: string[] | null;
    error?: boolean;
    timestamp: { start: number; stop: number };
    info: { size: number; delta: number; repository: { size?: number; delta: number } };
    archive: { start: string; stop: string };
    lsn: { start: string; stop: string };
    database: { id: number };
  }[];
}

const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const MAX_BUFFER = 256 * 1024 * 1024;
/** How long a backup waits for another backup of the same stanza to end. */
const LOCK_WAIT_MS = 30 * 60 * 1000;

export class PgBackRest {
  readonly stanza: string;
  private readonly command: string[];
  private readonly fileSystemRoot: string;
  private readonly segmentsPerLogId: number;

  constructor(config: Pick<Config, 'pgbackrest' | 'pgbackrestStanza'>, options: PgBackRestOptions = {}) {
    if (!config.pgbackrest) throw new LakeError('CONFIG_INVALID', 'LAKE_PGBACKREST is not set: backups of a server lake are made with pgBackRest (e.g. LAKE_PGBACKREST=pgbackrest)');
    this.command = config.pgbackrest.split(' ').filter((part) => part !== '');
    this.stanza = config.pgbackrestStanza;
    this.fileSystemRoot = options.fileSystemRoot ?? '';
    const segmentBytes = options.walSegmentBytes ?? 16 * 1024 * 1024;
    this.segmentsPerLogId = 0x1_0000_0000 / segmentBytes;
  }

  /** Take a backup of the cluster, then read it back from `info`. An incremental or differential one with no full backup yet becomes full (pgBackRest's rule). */
  async backup(type: PgBackRestBackupType): Promise<PgBackRestBackup> {
    const before = new Set((await this.info()).backups.map((backup) => backup.label));
    // One backup of a stanza at a time: another one running (a manual `pgbackrest backup`, the
    // schedule, another lake on the same cluster) is waited for, up to LOCK_WAIT_MS.
    for (const waitUntil = Date.now() + LOCK_WAIT_MS; ; ) {
      try {
        await this.run(['backup', `--type=${type}`], 'backup');
        break;
      } catch (error) {
        if (!(error instanceof LakeError && /unable to acquire lock/i.test(error.message)) || Date.now() > waitUntil) throw error;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    const made = (await this.info()).backups.filter((backup) => !before.has(backup.label));
    const newest = made.at(-1);
    if (!newest) throw new LakeError('DB_ERROR', `pgbackrest backup --type=${type} (stanza ${this.stanza}) ended without error, but info lists no new backup`);
    return newest;
  }

  /** The stanza as `pgbackrest info` reports it. */
  async info(): Promise<PgBackRestInfo> {
    const { stdout } = await this.run(['info', '--output=json'], 'info');
    let parsed: InfoJson[];
    try {
      parsed = JSON.parse(stdout) as InfoJson[];
    } catch (cause) {
      throw new LakeError('DB_ERROR', `pgbackrest info --output=json (stanza ${this.stanza}) printed something that is not JSON: ${stdout.slice(0, 200)}`, { cause });
    }
    const stanza = parsed.find((entry) => entry.name === this.stanza);
    if (!stanza) throw new LakeError('BACKUP_NOT_FOUND', `pgBackRest knows no stanza ${this.stanza}: create it with pgbackrest --stanza=${this.stanza} stanza-create`);
    const currentDb = stanza.db.at(-1)?.id;
    const archive = stanza.archive.find((entry) => entry.database.id === currentDb) ?? stanza.archive.at(-1);
    return {
      stanza: stanza.name,
      status: stanza.status,
      cipher: stanza.cipher,
      backups: stanza.backup.map(toBackup).sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.label.localeCompare(b.label)),
      archive: { min: archive?.min ?? null, max: archive?.max ?? null },
    };
  }

  /** The backups in the repository, oldest first. */
  async list(): Promise<PgBackRestBackup[]> {
    return (await this.info()).backups;
  }

  /** `pgbackrest check`: the cluster's configuration and that a WAL segment reaches the archive. */
  async check(): Promise<void> {
    await this.run(['check'], 'check');
  }

  /**
   * Check one backup (or all, and the archive between the oldest backup and the newest segment):
   * every file's checksum and size (pgBackRest's verify) and every WAL segment they need (listed
   * here). Throws BACKUP_CORRUPT naming each file or segment that is wrong.
   */
  async verify(label?: string): Promise<PgBackRestVerifyReport> {
    const info = await this.info();
    const sets = label ? [this.findSet(info, label)] : info.backups;
    const files = await this.verifyFiles(label);
    const problems = [...files.problems];
    let walRange: PgBackRestVerifyReport['walRange'] = null;
    if (sets.length > 0) {
      const segments = await this.archivedSegments();
      for (const set of sets) problems.push(...this.consistencyGaps(segments, set));
      // Point-in-time recovery after the oldest backup checked needs the archive without a gap up to its newest segment.
      const oldest = sets[0]!;
      const newest = newestOnTimeline(segments, timelineOf(oldest.walStart));
      const stop = newest && newest.name > oldest.walStop ? newest.name : oldest.walStop;
      problems.push(...this.recoveryGaps(segments, oldest, stop));
      walRange = { start: oldest.walStart, stop };
    }
    this.throwProblems(problems, label);
    return { stanza: this.stanza, backups: sets.map((set) => set.label), walChecked: files.walChecked, walRange };
  }

  /**
   * Restore a backup set into `pgData` (absent or empty), to its consistent point or with
   * `toTime` to that moment, promoted, with archiving off (the copy never pushes WAL into the
   * lake's archive). Refused before anything is written when the target is not empty, when no set
   * fits, or when the set or the WAL it needs fails verification.
   */
  async restore(options: PgBackRestRestoreOptions): Promise<PgBackRestRestoreResult> {
    const { pgData, toTime } = options;
    if (!path.isAbsolute(pgData)) throw new LakeError('USAGE', `the restore target ${JSON.stringify(pgData)} is not an absolute path`);
    if (toTime && Number.isNaN(toTime.getTime())) throw new LakeError('USAGE', 'the restore target time is not a valid date');
    await this.refuseNonEmpty(pgData);
    const info = await this.info();
    let set: PgBackRestBackup;
    if (options.label) {
      set = this.findSet(info, options.label);
      if (toTime && set.stoppedAt > toTime) {
        throw new LakeError('USAGE', `backup ${set.label} ended at ${set.stoppedAt.toISOString()}, after the target time ${toTime.toISOString()}: choose an older backup`);
      }
    } else {
      // pgBackRest's times are whole seconds: a backup stopped within the second it reports.
      const candidates = toTime ? info.backups.filter((backup) => backup.stoppedAt.getTime() + 1000 <= toTime.getTime()) : info.backups;
      const newest = candidates.at(-1);
      if (!newest) {
        throw new LakeError('BACKUP_NOT_FOUND', toTime
          ? `no backup of stanza ${this.stanza} ended at or before ${toTime.toISOString()}`
          : `no backup of stanza ${this.stanza} to restore: make one first`);
      }
      set = newest;
    }
    await this.verifyForRestore(set, toTime);
    const args = ['restore', `--set=${set.label}`, `--pg1-path=${pgData}`, '--archive-mode=off', '--target-action=promote'];
    if (toTime) args.push('--type=time', `--target=${postgresTimestamp(toTime)}`);
    else args.push('--type=immediate');
    await this.run(args, 'restore');
    return { label: set.label, pgData, recovery: toTime ? 'time' : 'immediate', toTime: toTime ?? null };
  }

  private findSet(info: PgBackRestInfo, label: string): PgBackRestBackup {
    const set = info.backups.find((backup) => backup.label === label);
    if (!set) throw new LakeError('BACKUP_NOT_FOUND', `no backup ${label} in stanza ${this.stanza}: pgbackrest info lists ${info.backups.map((backup) => backup.label).join(', ') || 'none'}`);
    return set;
  }

  private async refuseNonEmpty(pgData: string): Promise<void> {
    const local = path.join(this.fileSystemRoot || '/', pgData);
    let entries: string[];
    try {
      const stats = await stat(local);
      if (!stats.isDirectory()) throw new LakeError('RESTORE_TARGET_NOT_EMPTY', `the restore target ${pgData} exists and is not a directory: nothing was restored`);
      entries = await readdir(local);
    } catch (error) {
      if (error instanceof LakeError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    if (entries.length > 0) {
      throw new LakeError('RESTORE_TARGET_NOT_EMPTY', `the restore target ${pgData} is not empty (${entries.length} entries, e.g. ${entries.sort()[0]}): restore into a new or empty directory; nothing was restored`, {
        details: { pgData },
      });
    }
  }

  /**
   * The set's files and the WAL its restore replays: to its consistent point, or up to the first
   * segment archived after toTime (which must exist: WAL not yet archived cannot be replayed).
   */
  private async verifyForRestore(set: PgBackRestBackup, toTime: Date | undefined): Promise<void> {
    const problems = (await this.verifyFiles(set.label)).problems;
    const segments = await this.archivedSegments();
    problems.push(...this.consistencyGaps(segments, set));
    if (toTime) {
      let after: string | undefined;
      for (const [name, archivedAt] of segments) {
        if (timelineOf(name) === timelineOf(set.walStart) && name >= set.walStop && archivedAt > toTime && (!after || name < after)) after = name;
      }
      if (!after) {
        const newest = newestOnTimeline(segments, timelineOf(set.walStart));
        throw new LakeError('BACKUP_NOT_FOUND', `WAL of stanza ${this.stanza} is archived up to ${newest ? `${newest.name} (${newest.archivedAt.toISOString()})` : 'nothing'}, not past ${toTime.toISOString()}: recovery could not reach the target time (wait for the next segment, or run SELECT pg_switch_wal()); nothing was restored`);
      }
      problems.push(...this.recoveryGaps(segments, set, after));
    }
    this.throwProblems(problems, set.label, ' nothing was restored');
  }

  private consistencyGaps(segments: Map<string, Date>, set: PgBackRestBackup): string[] {
    return missingSegments(segments, set.walStart, set.walStop, this.segmentsPerLogId)
      .map((segment) => `WAL segment ${segment} is missing from the archive (backup ${set.label} needs it to be consistent)`);
  }

  private recoveryGaps(segments: Map<string, Date>, set: PgBackRestBackup, stop: string): string[] {
    if (stop <= set.walStop) return [];
    return missingSegments(segments, set.walStop, stop, this.segmentsPerLogId)
      .map((segment) => `WAL segment ${segment} is missing from the archive (point-in-time recovery from backup ${set.label} stops before it)`);
  }

  private throwProblems(problems: string[], label: string | undefined, suffix = ''): void {
    const unique = [...new Set(problems)];
    if (unique.length === 0) return;
    const shown = unique.slice(0, 10).join('; ');
    const more = unique.length > 10 ? `; and ${unique.length - 10} more` : '';
    throw new LakeError('BACKUP_CORRUPT', `pgBackRest repository of stanza ${this.stanza}${label ? `, backup ${label},` : ''} fails verification: ${shown}${more}${suffix ? `;${suffix}` : ''}`, {
      details: { stanza: this.stanza, label: label ?? null, problems: unique },
    });
  }

  /** pgBackRest's verify, with its log at info so that each damaged file is named. */
  private async verifyFiles(label: string | undefined): Promise<{ problems: string[]; walChecked: number }> {
    const args = ['verify', '--output=text', '--verbose', '--log-level-console=info', '--log-level-stderr=off'];
    if (label) args.push(`--set=${label}`);
    const { stdout } = await this.run(args, 'verify');
    const problems: string[] = [];
    let walChecked = 0;
    let status: string | undefined;
    const logLine = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ P(\d+)\s+(\w+): (.*)$/;
    let inLog = false;
    for (const line of stdout.split('\n')) {
      const log = logLine.exec(line);
      if (log) {
        inLog = true;
        const [, , level, message] = log;
        if (/command (begin|end)/.test(message!) || /^stanza: /.test(message!)) continue;
        if (level === 'WARN' || level === 'ERROR' || /'[^']+'/.test(message!)) problems.push(message!.trim());
        continue;
      }
      // A log message's continuation lines are indented; the report proper starts at column 0.
      if (inLog && /^\s/.test(line)) continue;
      inLog = false;
      const statusMatch = /^status: (\w+)/.exec(line);
      if (statusMatch) status = statusMatch[1];
      const wal = /total WAL checked: (\d+)/.exec(line);
      if (wal) walChecked += Number(wal[1]);
      const backup = /^\s+backup: (\S+), status: (\w+)/.exec(line);
      if (backup && backup[2] !== 'valid') problems.push(`backup ${backup[1]} is ${backup[2]}`);
      const counts = /^\s+(missing: \d+.*)$/.exec(line);
      if (counts && /[1-9]/.test(counts[1]!)) problems.push(counts[1]!.trim());
    }
    if (status === undefined) throw new LakeError('DB_ERROR', `pgbackrest verify (stanza ${this.stanza}) printed no status: ${stdout.slice(-300)}`);
    if (status !== 'ok' && problems.length === 0) problems.push(`pgBackRest verify reports status ${status}`);
    return { problems, walChecked };
  }

  /** The archive's WAL segments (of every archive id), with when each was archived. */
  private async archivedSegments(): Promise<Map<string, Date>> {
    const { stdout } = await this.run(['repo-ls', '--recurse', '--output=json', `archive/${this.stanza}`], 'repo-ls');
    const listing = JSON.parse(stdout) as Record<string, { type: string; time?: number }>;
    const segments = new Map<string, Date>();
    for (const [name, entry] of Object.entries(listing)) {
      if (entry.type !== 'file') continue;
      const match = /(?:^|\/)([0-9A-F]{24})-[0-9a-f]{40}(?:\.\w+)?$/.exec(name);
      if (match) segments.set(match[1]!, new Date((entry.time ?? 0) * 1000));
    }
    return segments;
  }

  private async run(args: string[], what: string): Promise<RunResult> {
    const [file, ...prefix] = this.command;
    const argv = [...prefix, `--stanza=${this.stanza}`, ...args];
    const shown = `pgbackrest ${what === 'restore' || what === 'backup' ? args.join(' ') : what} (stanza ${this.stanza})`;
    return await new Promise<RunResult>((resolve, reject) => {
      execFile(file!, argv, { maxBuffer: MAX_BUFFER, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr });
        const errno = (error as NodeJS.ErrnoException).code;
        if (errno === 'ENOENT' || errno === 'EACCES') {
          return reject(new LakeError('CONFIG_INVALID', `LAKE_PGBACKREST: ${file} cannot be run (${errno})`, { cause: error }));
        }
        const message = redact(lastLines(`${stderr}\n${stdout}`));
        reject(new LakeError(codeFor(message), `${shown} failed${typeof error.code === 'number' ? ` (exit ${error.code})` : ''}: ${message || error.message}`, {
          details: { command: what, stanza: this.stanza, exitCode: error.code ?? null },
        }));
      });
    });
  }
}

function toBackup(entry: InfoJson['backup'][number]): PgBackRestBackup {
  return {
    label: entry.label,
    type: entry.type as PgBackRestBackupType,
    prior: entry.prior,
    references: entry.reference ?? [],
    startedAt: new Date(entry.timestamp.start * 1000),
    stoppedAt: new Date(entry.timestamp.stop * 1000),
    databaseBytes: entry.info.size,
    deltaBytes: entry.info.delta,
    repositoryBytes: entry.info.repository.size ?? null,
    repositoryDeltaBytes: entry.info.repository.delta,
    walStart: entry.archive.start,
    walStop: entry.archive.stop,
    lsnStart: entry.lsn.start,
    lsnStop: entry.lsn.stop,
    error: entry.error ?? false,
  };
}

function timelineOf(segment: string): string {
  return segment.slice(0, 8);
}

function newestOnTimeline(segments: Map<string, Date>, timeline: string): { name: string; archivedAt: Date } | undefined {
  let newest: { name: string; archivedAt: Date } | undefined;
  for (const [name, archivedAt] of segments) {
    if (timelineOf(name) === timeline && (!newest || name > newest.name)) newest = { name, archivedAt };
  }
  return newest;
}

/** The segments from `start` to `stop` (inclusive, one timeline) that the archive lacks. */
function missingSegments(segments: Map<string, Date>, start: string, stop: string, perLogId: number): string[] {
  const from = SEGMENT_NAME.exec(start);
  const to = SEGMENT_NAME.exec(stop);
  if (!from || !to) return [];
  const timeline = from[1]!;
  const number = (match: RegExpExecArray) => Number.parseInt(match[2]!, 16) * perLogId + Number.parseInt(match[3]!, 16);
  const missing: string[] = [];
  for (let n = number(from); n <= number(to); n++) {
    const name = `${timeline}${hex8(Math.floor(n / perLogId))}${hex8(n % perLogId)}`;
    if (!segments.has(name)) missing.push(name);
    if (missing.length > 100) break;
  }
  return missing;
}

function hex8(value: number): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

/** recovery_target_time as PostgreSQL reads it, in UTC to the millisecond. */
function postgresTimestamp(time: Date): string {
  return `${time.toISOString().replace('T', ' ').replace('Z', '')}+00`;
}

function lastLines(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return lines.slice(-8).join(' / ').slice(-2000);
}

/** pgBackRest redacts its passphrase in its own log; whatever else reaches a message is cut here too. */
function redact(text: string): string {
  return text.replace(/(cipher-pass|passphrase|password)([=:]\s*)\S+/gi, '$1$2<redacted>');
}

function codeFor(message: string): ErrorCode {
  if (/unable to restore to path .* (contains|not empty)|PathNotEmpty/i.test(message)) return 'RESTORE_TARGET_NOT_EMPTY';
  if (/cipher|decrypt|crypto/i.test(message)) return 'BACKUP_KEY';
  if (/backup set .* (is not valid|does not exist)|unable to find backup set/i.test(message)) return 'BACKUP_NOT_FOUND';
  if (/checksum|missing|invalid size|corrupt/i.test(message)) return 'BACKUP_CORRUPT';
  return 'DB_ERROR';
}
