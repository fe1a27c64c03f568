// Back-pressure for the archive's tar streams, whose consumer may stop early.
import type { EventEmitter } from 'node:events';

/**
 * Resolves when `writable` drains, or when `closing` closes: a tar stream whose reader stopped
 * (a client that hung up, an iteration ended early) is destroyed and never drains. Both listeners
 * go either way, so waiting once per chunk leaves none behind.
 */
export function drainedOrClosed(writable: EventEmitter, closing: EventEmitter = writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      writable.off('drain', done);
      closing.off('close', done);
      resolve();
    };
    writable.on('drain', done);
    closing.on('close', done);
  });
}
