// Disk space. A full disk must end a command within seconds with a clear error, never hang it and
// never lose what was accepted: writers make sure there is room before they start (statfs), with a
// reserve, and a write the disk refuses anyway (ENOSPC, EDQUOT, PostgreSQL's SQLSTATE 53100
// disk_full) becomes DISK_FULL, naming the directory, the space free there and the space needed.
// Nothing retries a full disk: it stays full until someone frees space, and the same command run
// again then goes on (an import resumes after its last committed batch).
import { statfsSync } from 'node:fs';
import path from 'node:path';
import { LakeError } from './errors.js';

export const MIB = 1024 * 1024;

/**
 * Free space every writer leaves on a data directory's disk: the embedded database PANICs when it
 * cannot create a WAL segment (16 MiB, made whole before use), which no transaction can roll
 * back, so room for two stays free whoever writes (blobs and uploads share the disk by default).
 */
export const DISK_RESERVE_BYTES = 32 * MIB;

/**
 * Bytes an unprivileged process may still write on the file system holding `dir` (or its nearest
 * existing parent); null when it cannot be told. One statfs call (synchronous: it is as quick as
 * a stat, and an error must be made where nothing can be awaited, see pglite-guard.ts).
 */
export function freeBytes(dir: string): number | null {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    try {
      const stats = statfsSync(at);
      return Number(stats.bavail) * Number(stats.bsize);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || at === path.dirname(at)) return null;
    }
  }
}

/** Fails with DISK_FULL unless the file system holding `dir` has `needed` bytes free. `what` names the directory's role. */
export function assertFreeSpace(dir: string, needed: number, what: string): void {
  const free = freeBytes(dir);
  if (free !== null && free < needed) throw diskFullError(dir, what, free, needed);
}

/** A write refused for want of space: ENOSPC or EDQUOT from Node or from PGlite's file system, or PostgreSQL's disk_full. */
export function isNoSpace(error: unknown): boolean {
  if (typeof error === 'string') return NO_SPACE_MESSAGE.test(error);
  if (error instanceof LakeError) return error.code === 'DISK_FULL';
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === '53100') return true;
  // Emscripten's ErrnoError (PGlite's file system) carries its own numbering: 51 is ENOSPC.
  if ((error as Error | null)?.name === 'ErrnoError' && errno === 51) return true;
  return NO_SPACE_MESSAGE.test((error as Error | null)?.message ?? '');
}

/** strerror(ENOSPC) and strerror(EDQUOT), as PostgreSQL's messages quote them. */
const NO_SPACE_MESSAGE = /No space left on device|Disk quota exceeded/i;

/** DISK_FULL for `dir` with its free space read now; `needed` when known. */
export function diskFull(dir: string, what: string, options: { needed?: number; cause?: unknown } = {}): LakeError {
  return diskFullError(dir, what, freeBytes(dir), options.needed ?? null, options.cause);
}

function diskFullError(dir: string, what: string, free: number | null, needed: number | null, cause?: unknown): LakeError {
  const space = [free === null ? null : `${formatBytes(free)} free`, needed === null ? null : `${formatBytes(needed)} needed`].filter(Boolean).join(', ');
  const reason = cause instanceof Error ? ` (${cause.message})` : typeof cause === 'string' ? ` (${cause})` : '';
  return new LakeError(
    'DISK_FULL',
    `no space left for ${what} in ${dir}${space ? `: ${space}` : ''}${reason}; free space there and try again (an import or an upload resumes where it stopped)`,
    { cause, details: { path: dir, freeBytes: free, neededBytes: needed } },
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < MIB) return `${Math.ceil(bytes / 1024)} KiB`;
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
