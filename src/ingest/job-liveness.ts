// Whether the process that runs an import job is still there, so that a job whose process died
// (kill -9, a crash, a reboot) is seen as interrupted instead of `running` forever.
//
// A running job's row names its runner: the pid, the process's start time (in clock ticks since
// boot, from /proc: with the pid, one process for the machine's whole uptime, so a reused pid is
// not mistaken for it) and the machine (host name, kernel boot id, pid namespace: where that pid
// means that process). The runner writes a heartbeat into the row every HEARTBEAT_MS. A running
// job is interrupted when
//   - its runner is on this machine and that process is gone (no such pid, another process under
//     the pid, or a zombie), or
//   - its runner is on another machine (another host, a container of its own, or before a reboot)
//     and its heartbeat is older than STALE_AFTER_MS by the database's clock.
// Nothing depends on the dying process cleaning up, and the same rows work on PGlite and on a
// server. A session-level advisory lock held while running was set aside: on a server it takes a
// connection of its own for the whole import, and PGlite's one connection is shared by the
// process's every use, so a lock there would tell nothing.
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface JobRunnerIdentity {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat), null where there is no /proc. */
  started: number | null;
  machine: string;
}

export const HEARTBEAT_MS = 15_000;
/** A runner on another machine is taken as gone when its heartbeat is this old (8 missed beats). */
export const STALE_AFTER_MS = 120_000;

let self: JobRunnerIdentity | null = null;

/** This process, as job rows name it. */
export function thisRunner(): JobRunnerIdentity {
  self ??= { pid: process.pid, started: processStart(process.pid)?.started ?? null, machine: machineId() };
  return self;
}

/**
 * Whether a `running` job's runner is gone. `heartbeatAgeMs` is measured by the database (now()
 * minus the last beat, or the start of a job with none). A row without a runner is from before
 * runners were recorded: gone once its age passes the stale bound.
 */
export function isRunnerGone(runner: JobRunnerIdentity | null, heartbeatAgeMs: number | null): boolean {
  if (runner && runner.machine === thisRunner().machine) return !isAlive(runner);
  return heartbeatAgeMs === null || heartbeatAgeMs > STALE_AFTER_MS;
}

function isAlive(runner: JobRunnerIdentity): boolean {
  const now = processStart(runner.pid);
  if (now === undefined) {
    // No /proc: only whether the pid exists (EPERM: it does, under another user).
    try {
      process.kill(runner.pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  return now !== null && !now.zombie && (runner.started === null || now.started === runner.started);
}

/** The process's start time and whether it is a zombie; null when there is no such process, undefined without /proc. */
function processStart(pid: number): { started: number; zombie: boolean } | null | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return readable('/proc/self/stat') ? null : undefined;
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { started: Number(fields[19]), zombie: fields[0] === 'Z' };
}

function machineId(): string {
  const bootId = readOr('/proc/sys/kernel/random/boot_id', (p) => readFileSync(p, 'latin1').trim());
  const pidNamespace = readOr('/proc/self/ns/pid', (p) => readlinkSync(p));
  return [hostname(), bootId, pidNamespace].join('/');
}

function readOr(file: string, read: (file: string) => string): string {
  try {
    return read(file);
  } catch {
    return '';
  }
}

function readable(file: string): boolean {
  return readOr(file, (p) => readFileSync(p, 'latin1')) !== '';
}
