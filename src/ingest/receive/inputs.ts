// The paths given to an import, checked before anything is recorded: one that is not there or may
// not be read is the caller's mistake, reported at once with its path, and leaves no job behind.
// A permission refused later, on a file or folder inside an input, is named with its path too.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { LakeError } from '../../errors.js';

export async function assertInputsReadable(inputs: readonly string[]): Promise<void> {
  for (const input of inputs) {
    try {
      const stats = await stat(input);
      // A folder is listed and entered; a file read.
      await access(input, stats.isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new LakeError('INPUT_NOT_FOUND', `${input}: no such file or folder`, { cause: error, details: { input } });
      }
      throw unreadableInput(error, input) ?? error;
    }
  }
}

/** A file system error refusing this process access (EACCES, EPERM) as INPUT_UNREADABLE naming the path; null for any other error. */
export function unreadableInput(error: unknown, fallbackPath?: string): LakeError | null {
  const e = error as NodeJS.ErrnoException & { path?: string | Buffer };
  if (!(e instanceof Error) || (e.code !== 'EACCES' && e.code !== 'EPERM')) return null;
  const where = e.path === undefined ? fallbackPath : Buffer.isBuffer(e.path) ? e.path.toString('utf8') : e.path;
  const uid = process.getuid?.();
  return new LakeError(
    'INPUT_UNREADABLE',
    `${where ?? 'an input'}: permission denied (${e.code}${e.syscall ? ` on ${e.syscall}` : ''}): this process${uid === undefined ? '' : ` (uid ${uid})`} may not read it`,
    { cause: error, details: { input: where ? path.normalize(where) : null } },
  );
}
