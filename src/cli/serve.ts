// `lake serve`: the REST API until SIGINT or SIGTERM, and the backup schedule (LAKE_BACKUP_SCHEDULE).
import { serve } from '../api/serve.js';
import { formatLocal } from '../backup/schedule.js';
import type { Config } from '../config/config.js';
import { LakeError } from '../errors.js';
import { Lake } from '../lake.js';
import type { SqlPort } from '../query/sql-port.js';
import type { AdminSocket } from '../api/admin-socket.js';
import { recordServeAddress } from './serve-address.js';

/** `--pg-port`: the embedded database's SQL port (src/query/sql-port.ts), set before serveCommand runs. */
let sqlPortNumber: number | null = null;
export function requestSqlPort(port: number): void {
  sqlPortNumber = port;
}

export async function serveCommand(settings: Config): Promise<void> {
  const lake = await Lake.open(settings, { throughServer: false });
  // Embedded: the other lake commands go through this server while it holds the database (admin-socket.ts).
  let adminSocket: AdminSocket | null = null;
  if (lake.db.backend === 'embedded') {
    const { listenAdminSocket } = await import('../api/admin-socket.js');
    adminSocket = await listenAdminSocket(lake.db, lake.profile, settings.tiers.hot, { log: (message) => process.stderr.write(`lake: ${message}\n`) }).catch(async (error) => {
      await lake.close();
      throw error;
    });
  }
  let sqlPort: SqlPort | null = null;
  if (sqlPortNumber !== null) {
    if (lake.db.backend !== 'embedded') {
      await lake.close();
      throw new LakeError('USAGE', '--pg-port serves the embedded database: with DATABASE_URL, SQL clients connect to the PostgreSQL server itself');
    }
    const { startSqlPort } = await import('../query/sql-port.js');
    sqlPort = await startSqlPort(lake, sqlPortNumber);
    console.log(`lake: SQL port 127.0.0.1:${sqlPort.port} (PostgreSQL protocol; log in as a role from lake users sql-access)`);
  }
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`lake: ${signal}: finishing running requests (a second ${signal} exits at once)\n`);
    stop.abort();
  };
  // once: a second signal gets Node's default handling and ends the process.
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let forgetAddress: Promise<(() => Promise<void>) | null> = Promise.resolve(null);
  try {
    await serve(lake, {
      host: settings.apiHost,
      port: settings.apiPort,
      shutdownTimeoutMs: settings.apiShutdownTimeoutMs,
      stop: stop.signal,
      logLevel: 'warn',
      backups: {
        // Failures reach the server's log (warn level and up); a completed backup gets a line of its own.
        log: (level, message) => {
          if (level === 'info') console.log(`lake: ${message}`);
        },
      },
      onListening: (url) => {
        console.log(`lake: serving ${url} (${lake.db.backend} database at ${lake.db.location})`);
        forgetAddress = recordServeAddress(settings.dataDir, settings.apiHost, Number(new URL(url).port)).catch(() => null);
      },
      onBackups: ({ description, catchUpAt, newest }) => {
        const why = newest ? `the newest is from ${formatLocal(newest)}` : 'none yet';
        const catchUp = catchUpAt ? `; ${why}: one at ${formatLocal(catchUpAt)}` : '';
        console.log(`lake: backups: ${description}${catchUp}`);
      },
      onShutdown: (event) => {
        if (event === 'cut') process.stderr.write(`lake: requests still running after ${settings.apiShutdownTimeoutMs} ms were cut\n`);
        if (event === 'waiting-for-backup') process.stderr.write('lake: waiting for the running backup to end (a second signal exits at once; the next backup removes the unfinished one)\n');
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await (await forgetAddress)?.();
    await sqlPort?.close();
    await adminSocket?.close(settings.apiShutdownTimeoutMs);
    await lake.close();
  }
  console.log('lake: stopped');
}
