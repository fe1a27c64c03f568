// One process per embedded database: PGlite has a single connection, and two processes on the same
// files would corrupt them. The lock is a file holding the owner's PID, created exclusively; a lock
// whose process is gone (killed with SIGKILL, machine restarted) is taken over at once, so a crash
// never leaves the user waiting. Hand-written because lock libraries judge staleness by age, which
// after a kill means waiting for a timeout.
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { LakeError } from '../../errors.js';

export async function lockDirectory(directory: string): Promise<() => Promise<void>> {
  const file = path.join(directory, 'lake.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        if ((await readFile(file, 'utf8').catch(() => '')) === String(process.pid)) await rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(await readFile(file, 'utf8').catch(() => ''));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new LakeError('DATA_DIR_LOCKED', `the embedded database in ${directory} is in use by another lake process (pid ${owner})`);
      }
      await rm(file, { force: true }); // left by a process that is gone
    }
  }
  throw new LakeError('DATA_DIR_LOCKED', `cannot lock the embedded database in ${directory}`);
}

/** Whether process `pid` exists (another user's process, which may not be signalled, counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
