// `lake serve`: listen, then shut down gracefully when told to: stop accepting connections, let
// running requests finish (up to a time limit, then cut them), write the access log, return. The
// caller closes the lake afterwards. With `backups`, the backup schedule starts once listening and,
// at shutdown, its timer stops at once while a running backup is waited for (backup/schedule.ts).
import type { Lake } from '../lake.js';
import { buildServer, type ServerOptions } from './server.js';

export interface ServeOptions extends ServerOptions {
  host: string;
  port: number;
  /** Running requests get this long to finish once stop is signalled. */
  shutdownTimeoutMs: number;
  /** Aborted to shut down (the command wires SIGINT and SIGTERM to it). */
  stop: AbortSignal;
  /** Called with the address once listening (the real port when port is 0). */
  onListening?: (url: string) => void;
  /** Called when shutting down starts and when running requests had to be cut. */
  onShutdown?: (event: 'stopping' | 'cut' | 'waiting-for-backup') => void;
  /** Called once the backup schedule has started (with ServerOptions.backups): what it does, and a catch-up backup's time. */
  onBackups?: (started: { description: string; catchUpAt: Date | null; next: Date | null; newest: Date | null }) => void;
}

export async function serve(lake: Lake, options: ServeOptions): Promise<void> {
  const app = await buildServer(lake, options);
  try {
    const url = await app.listen({ host: options.host, port: options.port });
    options.onListening?.(url);
    // The console is built (a second or two, once per change of its sources) before a browser asks.
    void app.console.warm().catch((error) => app.log.error({ err: error }, 'the web console could not be built'));
    if (app.backups) {
      const started = await app.backups.start();
      options.onBackups?.({ description: app.backups.describe(), ...started });
    }
    await stopped(options.stop);
    options.onShutdown?.('stopping');
  } finally {
    if (app.backups?.isRunning) options.onShutdown?.('waiting-for-backup');
    // The timer goes now; a running backup is awaited beside the requests (and by close's onClose hook).
    const backupsStopped = app.backups?.stop();
    const deadline = setTimeout(() => {
      options.onShutdown?.('cut');
      app.server.closeAllConnections();
    }, options.shutdownTimeoutMs);
    // A keep-alive connection whose request finishes during shutdown would otherwise stay open
    // until its keep-alive timeout and hold the close up: close such connections as they go idle.
    const sweeper = setInterval(() => app.server.closeIdleConnections(), 100);
    try {
      // Stops accepting, closes idle keep-alive connections, answers 503 to requests arriving on
      // busy ones, waits for running requests, then runs onClose hooks (the access log flush).
      await Promise.all([app.close(), backupsStopped]);
    } finally {
      clearTimeout(deadline);
      clearInterval(sweeper);
    }
  }
}

function stopped(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
