// `lake serve`: listen, then shut down gracefully when told to: stop accepting connections, let
// running requests finish (up to a time limit, then cut them), write the access log, return. The
// caller closes the lake afterwards.
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
  onShutdown?: (event: 'stopping' | 'cut') => void;
}

export async function serve(lake: Lake, options: ServeOptions): Promise<void> {
  const app = await buildServer(lake, options);
  try {
    const url = await app.listen({ host: options.host, port: options.port });
    options.onListening?.(url);
    await stopped(options.stop);
    options.onShutdown?.('stopping');
  } finally {
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
      await app.close();
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
