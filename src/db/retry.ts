// Retrying what the database failed for reasons of its own: connection lost, serialization or
// deadlock, the server shutting down or starting up, too many connections. The work must be a
// whole transaction (it was rolled back, so running it again is safe). A full disk is not
// transient: it stops with a clear error instead.
import { setTimeout as sleep } from 'node:timers/promises';
import { LakeError } from '../errors.js';

const MAX_RETRIES = 6;
const FIRST_BACKOFF_MS = 100;

export async function retryTransient<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (isDiskFull(error)) {
        throw new LakeError('DISK_FULL', `the database server's disk is full (SQLSTATE 53100: ${(error as Error).message}); free space on it and try again (an import resumes where it stopped)`, { cause: error });
      }
      if (!isTransient(error) || attempt >= MAX_RETRIES) throw error;
      await sleep(FIRST_BACKOFF_MS * 2 ** attempt);
    }
  }
}

function sqlState(error: unknown): string {
  return String((error as { code?: unknown })?.code ?? '');
}

/** Class 22 (data exception) and 23 (integrity constraint): the rows, not the database, are at fault. */
export function isDataError(error: unknown): boolean {
  return /^2[23]/.test(sqlState(error));
}

function isDiskFull(error: unknown): boolean {
  return sqlState(error) === '53100';
}

/** Connection failures, serialization/deadlock, server shutting down or starting up, too many connections. */
function isTransient(error: unknown): boolean {
  const code = sqlState(error);
  return /^08/.test(code) || ['40001', '40P01', '53300', '57P01', '57P02', '57P03'].includes(code) ||
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code) ||
    // node-postgres reports a connection closed under it without a code.
    /^Connection terminated|^Client has encountered a connection error/.test((error as Error)?.message ?? '');
}

