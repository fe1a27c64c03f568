// The backup schedule of `lake serve` (LAKE_BACKUP_SCHEDULE): pg_cron cannot run a program, so
// the server's own clock is the one that makes backups. Decisions:
//
// - Times are local (HH:MM), computed on local date components each time, never by adding 24 h:
//   a time that does not exist on the day clocks go forward (02:30 in Europe/Berlin) runs at the
//   first moment after the gap (03:00), once; one that exists twice when they go back runs at
//   its first occurrence only. The next run is always recomputed from the clock after a run (no
//   drift), and one timer is armed at a time, unref'd, for at most an hour (then recomputed: a
//   wall clock set or a machine woken from sleep does not shift the schedule).
// - One backup at a time: a scheduled time that comes while a backup runs is skipped (the
//   running one is that time's backup). A failure is logged and counted; the next time still comes.
// - Staleness: a backup's time is its start (the state it holds; retention counts the same way).
//   The policy allows the largest gap between consecutive scheduled times plus one hour of grace,
//   compared in wall-clock time, so the 25-hour day when clocks go back does not raise a warning.
// - Catch-up at start: when waiting for the next scheduled time would leave the newest complete
//   backup older than the policy allows (none yet, or the server was down at the last time), one
//   backup is made soon after start (catchUpDelayMs, 60 s by default: the server answers first).
// - Shutdown: the timer is cancelled at once and a running backup is waited for, without a time
//   limit (cutting it wastes the work; the API stops accepting requests meanwhile). A second
//   SIGINT/SIGTERM ends the process at once; the unfinished backup is a partial directory the
//   next backup removes.
import { LakeError } from '../errors.js';
import type { Lake } from '../lake.js';
import { backupAndPrune } from './make-backup.js';
import { type BackupManifest, BackupRepository } from './repository.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MINUTES = 24 * 60;
/** How late the newest backup may be past the largest gap of the schedule before readiness warns. */
export const BACKUP_GRACE_MS = HOUR_MS;
export const DEFAULT_CATCH_UP_DELAY_MS = 60_000;
/** The longest a timer is armed: then the next run is recomputed from the wall clock. */
const MAX_TIMER_MS = HOUR_MS;
/** How often readiness may read the repository again while the newest backup looks stale. */
const STALE_REFRESH_MS = MINUTE_MS;

function minutesOf(time: string): number {
  const [hours, minutes] = time.split(':').map(Number) as [number, number];
  return hours * 60 + minutes;
}

/** The moment of a local wall-clock time on a day; in a gap of a clock change, the first moment after it. */
function localMoment(year: number, month: number, day: number, minutes: number): Date {
  const hours = Math.floor(minutes / 60);
  const mins = minutes % 60;
  const at = new Date(year, month, day, hours, mins);
  if (at.getHours() === hours && at.getMinutes() === mins) return at;
  // The time does not exist that day: JavaScript moved it forward by the gap's length. Step back
  // to the first minute whose wall time is at or past the wanted one: the end of the gap.
  const wanted = wallMs(new Date(year, month, day)) + minutes * MINUTE_MS;
  let t = at.getTime();
  while (wallMs(new Date(t - MINUTE_MS)) >= wanted) t -= MINUTE_MS;
  return new Date(t);
}

/** A moment's local wall-clock time as if it were UTC: differences of these are wall-clock durations. */
function wallMs(time: Date): number {
  return Date.UTC(time.getFullYear(), time.getMonth(), time.getDate(), time.getHours(), time.getMinutes(), time.getSeconds(), time.getMilliseconds());
}

/** The first scheduled moment strictly after `after` (times HH:MM local, sorted); null when the schedule is empty. */
export function nextScheduledRun(schedule: readonly string[], after: Date): Date | null {
  if (schedule.length === 0) return null;
  const times = schedule.map(minutesOf).sort((a, b) => a - b);
  for (let day = 0; day <= 2; day++) {
    for (const minutes of times) {
      const at = localMoment(after.getFullYear(), after.getMonth(), after.getDate() + day, minutes);
      if (at.getTime() > after.getTime()) return at;
    }
  }
  throw new Error(`no scheduled time after ${after.toISOString()} in ${schedule.join(',')}`);
}

/** The largest wall-clock gap between consecutive scheduled times (around midnight too): 24 h for one time a day. */
export function largestGapMs(schedule: readonly string[]): number {
  const times = [...new Set(schedule.map(minutesOf))].sort((a, b) => a - b);
  if (times.length === 0) return Number.POSITIVE_INFINITY;
  let gap = times[0]! + DAY_MINUTES - times.at(-1)!;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap * MINUTE_MS;
}

/** The oldest the newest backup may be, in wall-clock time, before it is stale. */
export function allowedAgeMs(schedule: readonly string[]): number {
  return largestGapMs(schedule) + BACKUP_GRACE_MS;
}

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / MINUTE_MS);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

function formatAge(ms: number): string {
  const hours = ms / HOUR_MS;
  return hours < 10 ? `${Math.round(hours * 10) / 10} h` : `${Math.round(hours)} h`;
}

/**
 * The `backup` field of /health/ready: "off" (no schedule), "none yet", "ok", or how old the
 * newest backup is when older than the schedule allows.
 */
export function backupHealth(schedule: readonly string[], newest: Date | null, now: Date): string {
  if (schedule.length === 0) return 'off';
  if (!newest) return 'none yet';
  if (wallMs(now) - wallMs(newest) <= allowedAgeMs(schedule)) return 'ok';
  return `last good backup is ${formatAge(now.getTime() - newest.getTime())} old (policy: every ${formatDuration(largestGapMs(schedule))})`;
}

/** A moment as local "YYYY-MM-DD HH:MM", for messages. */
export function formatLocal(time: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())} ${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

/** "at 03:30 daily into DIR", "at 03:30, 15:30 daily into DIR" or "off". */
export function describeSchedule(schedule: readonly string[], backupDir: string): string {
  return schedule.length === 0 ? 'off' : `at ${schedule.join(', ')} daily into ${backupDir}`;
}

/** Whether a backup should be made at start: waiting for `next` would leave `newest` older than allowed. */
export function needsCatchUp(schedule: readonly string[], newest: Date | null, next: Date | null): boolean {
  if (schedule.length === 0 || !next) return false;
  if (!newest) return true;
  return wallMs(next) - wallMs(newest) > allowedAgeMs(schedule);
}

export interface BackupRunResult {
  manifest: BackupManifest;
  seconds: number;
  /** Stored bytes the backup added: its database part and the blob copies new to the repository. */
  sizeBytes: number;
}

export interface BackupStatus {
  /** The start of the newest complete backup in the repository (from the repository at start, then each run). */
  lastSuccess: Date | null;
  lastDurationSeconds: number | null;
  lastSizeBytes: number | null;
  failures: number;
  running: boolean;
  lastError: string | null;
  /** When the timer will run a backup next (a catch-up or a scheduled time); null when off or stopped. */
  next: Date | null;
}

export interface BackupSchedulerOptions {
  /** Delay of the catch-up backup after start (tests: a few ms). */
  catchUpDelayMs?: number;
  /** Messages for the server's log: completed backups at info, failures at error. */
  log?: (level: 'info' | 'error', message: string, error?: unknown) => void;
}

export class BackupScheduler {
  readonly schedule: readonly string[];
  private readonly catchUpDelayMs: number;
  private readonly log: NonNullable<BackupSchedulerOptions['log']>;
  private readonly state: BackupStatus = { lastSuccess: null, lastDurationSeconds: null, lastSizeBytes: null, failures: 0, running: false, lastError: null, next: null };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<BackupRunResult | null> | null = null;
  private started = false;
  private stopped = false;
  private lastRefresh = 0;

  constructor(
    private readonly lake: Lake,
    options: BackupSchedulerOptions = {},
  ) {
    this.schedule = lake.config.backupSchedule;
    this.catchUpDelayMs = options.catchUpDelayMs ?? DEFAULT_CATCH_UP_DELAY_MS;
    this.log = options.log ?? (() => {});
  }

  get status(): Readonly<BackupStatus> {
    return { ...this.state };
  }

  describe(): string {
    return describeSchedule(this.schedule, this.lake.config.backupDir);
  }

  /** Read the newest backup from the repository and arm the timer (a catch-up first when needed). */
  async start(): Promise<{ catchUpAt: Date | null; next: Date | null; newest: Date | null }> {
    if (this.started) throw new Error('the backup schedule is already started');
    this.started = true;
    await this.refresh();
    const newest = this.state.lastSuccess;
    if (this.stopped || this.schedule.length === 0) return { catchUpAt: null, next: null, newest };
    const now = new Date();
    const next = nextScheduledRun(this.schedule, now);
    let catchUpAt = needsCatchUp(this.schedule, this.state.lastSuccess, next) ? new Date(now.getTime() + this.catchUpDelayMs) : null;
    // A scheduled time sooner than the catch-up delay is the catch-up.
    if (catchUpAt && next && next <= catchUpAt) catchUpAt = null;
    this.arm(catchUpAt ?? next);
    return { catchUpAt, next, newest };
  }

  /**
   * Make a backup now (and apply the retention policy), unless one is running: then that one's
   * result. Resolves with null when it failed (logged and counted) or the scheduler has stopped.
   */
  runNow(): Promise<BackupRunResult | null> {
    if (this.running) return this.running;
    if (this.stopped) return Promise.resolve(null);
    this.running = this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** The `backup` field of readiness; reads the repository again (at most once a minute) while it looks stale. */
  async health(now = new Date()): Promise<string> {
    let answer = backupHealth(this.schedule, this.state.lastSuccess, now);
    if (answer !== 'ok' && answer !== 'off' && !this.running && performance.now() - this.lastRefresh > STALE_REFRESH_MS) {
      // Another process may have made one (`lake backup` beside a server database).
      await this.refresh();
      answer = backupHealth(this.schedule, this.state.lastSuccess, now);
    }
    return answer;
  }

  /** Cancel the timer and wait for a running backup to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.disarm();
    await this.running;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  private async run(): Promise<BackupRunResult | null> {
    const started = performance.now();
    this.state.running = true;
    try {
      const { manifest, pruned } = await backupAndPrune(this.lake);
      const seconds = (performance.now() - started) / 1000;
      const databaseBytes = manifest.database.kind === 'pglite-files' ? manifest.database.addedBytes : manifest.database.repositoryBytes;
      const result = { manifest, seconds, sizeBytes: databaseBytes + manifest.blobs.addedBytes };
      this.state.lastSuccess = new Date(manifest.startedAt);
      this.state.lastDurationSeconds = seconds;
      this.state.lastSizeBytes = result.sizeBytes;
      this.state.lastError = null;
      const prunedText = pruned && pruned.removed.length > 0 ? `, ${pruned.removed.length} old backups pruned` : '';
      this.log('info', `backup ${manifest.id} made in ${seconds.toFixed(1)} s, ${result.sizeBytes} bytes added${prunedText}`);
      return result;
    } catch (error) {
      this.state.failures++;
      this.state.lastError = error instanceof Error ? error.message : String(error);
      const next = this.schedule.length > 0 && !this.stopped ? `; the next at ${formatLocal(nextScheduledRun(this.schedule, new Date())!)}` : '';
      this.log('error', `scheduled backup failed${next}`, error);
      return null;
    } finally {
      this.state.running = false;
    }
  }

  /** The newest complete backup's start, from the repository; none when there is no repository yet. */
  private async refresh(): Promise<void> {
    this.lastRefresh = performance.now();
    try {
      const repository = await BackupRepository.open(this.lake.config);
      const newest = (await repository.list()).at(-1);
      const at = newest ? new Date(newest.manifest.startedAt) : null;
      if (at && (!this.state.lastSuccess || at > this.state.lastSuccess)) this.state.lastSuccess = at;
    } catch (error) {
      if (error instanceof LakeError && error.code === 'BACKUP_NOT_FOUND') return;
      this.log('error', `backup repository ${this.lake.config.backupDir} could not be read`, error);
    }
  }

  private arm(at: Date | null): void {
    this.disarm();
    this.state.next = at;
    if (!at || this.stopped) return;
    const delay = Math.max(0, at.getTime() - Date.now());
    this.timer = setTimeout(() => void this.fire(at), Math.min(delay, MAX_TIMER_MS));
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.state.next = null;
  }

  private async fire(due: Date): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    if (Date.now() < due.getTime()) {
      // Woken early by the hourly re-check: recompute (the wall clock may have moved).
      const next = nextScheduledRun(this.schedule, new Date());
      this.arm(next && next < due ? next : due);
      return;
    }
    this.state.next = null;
    await this.runNow();
    await this.refresh();
    // From the clock after the run, and never the time just served again (a timer may fire early).
    const after = new Date(Math.max(Date.now(), due.getTime()));
    this.arm(nextScheduledRun(this.schedule, after));
  }
}
