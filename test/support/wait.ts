// Waiting in tests for a condition, never for a fixed time: a loaded machine may take many times
// longer than an idle one, and a test that slept "long enough" then fails for no fault of the code.
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a condition may take before a test gives up on it: a hang guard only. */
export const WAIT_TIMEOUT_MS = 120_000;

/**
 * Poll `read` until `done` accepts its value or `timeoutMs` passes; returns the last value read,
 * for the test to assert on (so a timeout fails with the test's own message).
 */
export async function waitUntil<T>(read: () => T | Promise<T>, done: (value: T) => boolean, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? WAIT_TIMEOUT_MS);
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(options.intervalMs ?? 50);
  }
}
