// Back-pressure for a stream whose consumer may stop early (a tar stream, a client socket).
import type { EventEmitter } from 'node:events';

/**
 * Resolves when `writable` drains, or when `closing` closes: a stream whose reader stopped (a
 * client that hung up, an iteration ended early) is destroyed and never drains. Both listeners go
 * either way, so waiting once per chunk leaves none behind.
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
