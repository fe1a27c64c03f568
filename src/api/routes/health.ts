// Health for orchestrators and load balancers, without authentication and without user data:
// /health/live says the process answers; /health/ready says requests can be served, i.e. the
// database answers and no migration is pending or changed (skipped ones wait for an extension and
// are no reason to stop serving). Its `backup` field warns of a stale backup without making the
// server unready: an old backup is no reason to take the API out of a load balancer.
import { Type } from 'typebox';
import { migrationStatus } from '../../db/migrate.js';
import type { ApiApp, ApiContext } from '../context.js';

/** A readiness probe that hangs is as bad as one that fails: give up after this long. */
const READY_TIMEOUT_MS = 5000;

const Readiness = Type.Object({
  status: Type.Enum(['ready', 'not_ready']),
  database: Type.String({ description: '"ok" or what is wrong' }),
  migrations: Type.String({ description: '"current" or which are pending or changed' }),
  backup: Type.Optional(
    Type.String({ description: '"ok", "none yet", "off" (no schedule), or how old the newest backup is when older than the schedule allows (a warning: the status stays ready); absent where the server runs no schedule' }),
  ),
});

type ReadinessBody = { status: 'ready' | 'not_ready'; database: string; migrations: string; backup?: string };

export function healthRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/health/live',
    { schema: { summary: 'the process is up', tags: ['operations'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    { schema: { summary: 'the database is reachable and its migrations are current', tags: ['operations'], response: { 200: Readiness, 503: Readiness } } },
    async (_request, reply) => {
      const [body, backup] = await Promise.all([readiness(context), backupReadiness(context)]);
      return reply.status(body.status === 'ready' ? 200 : 503).send(backup === null ? body : { ...body, backup });
    },
  );
}

/** Null where this server runs no backup schedule (a server built without ServerOptions.backups). */
async function backupReadiness(context: ApiContext): Promise<string | null> {
  if (!context.backups) return null;
  try {
    return await context.backups.health();
  } catch (error) {
    return `unknown: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function readiness(context: ApiContext): Promise<Omit<ReadinessBody, 'backup'>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    const statuses = await Promise.race([migrationStatus(context.lake.db, context.lake.profile), timeout]);
    const behind = statuses.filter((m) => m.state === 'pending' || m.state === 'changed');
    if (behind.length === 0) return { status: 'ready', database: 'ok', migrations: 'current' };
    const list = behind.map((m) => `${String(m.version).padStart(4, '0')}_${m.name} ${m.state}`).join(', ');
    return { status: 'not_ready', database: 'ok', migrations: `${list}: run lake migrate` };
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    return { status: 'not_ready', database: `unreachable: ${problem}`, migrations: 'unknown' };
  } finally {
    clearTimeout(timer);
  }
}
