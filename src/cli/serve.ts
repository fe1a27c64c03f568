// `lake serve`: the REST API until SIGINT or SIGTERM.
import { serve } from '../api/serve.js';
import type { Config } from '../config/config.js';
import { Lake } from '../lake.js';

export async function serveCommand(settings: Config): Promise<void> {
  const lake = await Lake.open(settings);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`lake: ${signal}: finishing running requests (a second ${signal} exits at once)\n`);
    stop.abort();
  };
  // once: a second signal gets Node's default handling and ends the process.
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await serve(lake, {
      host: settings.apiHost,
      port: settings.apiPort,
      shutdownTimeoutMs: settings.apiShutdownTimeoutMs,
      stop: stop.signal,
      logLevel: 'warn',
      onListening: (url) => console.log(`lake: serving ${url} (${lake.db.backend} database at ${lake.db.location})`),
      onShutdown: (event) => {
        if (event === 'cut') process.stderr.write(`lake: requests still running after ${settings.apiShutdownTimeoutMs} ms were cut\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lake.close();
  }
  console.log('lake: stopped');
}
