// The HTTP API of a lake, built as a Fastify app that does not listen yet: `lake serve` listens
// (serve.ts), tests listen on port 0. Routes are declared with JSON Schemas (TypeBox): Fastify
// checks every query against them before a handler runs, and @fastify/swagger turns them into the
// OpenAPI 3 document at /openapi.json.
//
//   /health/live, /health/ready, /openapi.json            open (no user data)
//   /metrics                                              Bearer <LAKE_METRICS_TOKEN>, or loopback clients when unset
//   /v1/...                                               Authorization: Bearer <API key>
// Fastify's trustProxy is left off: request.ip is the socket's peer, never a forwarded-for header.
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { BackupScheduler, BackupSchedulerOptions } from '../backup/schedule.js';
import type { Lake } from '../lake.js';
import { AccessLog } from './access-log.js';
import { consoleRoutes } from './console.js';
import { authenticate, principalOf } from './auth.js';
import type { ApiApp, ApiContext } from './context.js';
import { EXPECTED, frameworkErrors, installErrorHandling, MAX_PARAM_LENGTH } from './errors.js';
import { limitOptions, registerRateLimit } from './limits.js';
import { screenParameters } from './query-params.js';
import { ApiMetrics } from './metrics.js';
import { authLinkRoutes } from './routes/auth-link.js';
import { blobRoutes } from './routes/blobs.js';
import { contactRoutes } from './routes/contacts.js';
import { documentRoutes } from './routes/documents.js';
import { exportRoutes } from './routes/export.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import { itemRoutes } from './routes/items.js';
import { locationRoutes } from './routes/locations.js';
import { measurementRoutes } from './routes/measurements.js';
import { mediaRoutes } from './routes/media.js';
import { messageRoutes } from './routes/messages.js';
import { meRoutes } from './routes/me.js';
import { metricsRoutes } from './routes/metrics.js';
import { placeRoutes } from './routes/places.js';
import { searchRoutes } from './routes/search.js';
import { statsRoutes } from './routes/stats.js';
import { tileRoutes } from './routes/tiles.js';
import { timelineRoutes } from './routes/timeline.js';
import { JobRunner } from './jobs/runner.js';
import { jobRoutes } from './routes/jobs.js';
import { uploadRoutes } from './routes/uploads.js';
import { Uploads, type UploadSettings } from './uploads/uploads.js';

export interface ServerOptions {
  /** Log level for the server's own log on stderr (errors of 5xx responses and the like); false: silent. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug' | false;
  /** How often the access log is written to audit.events. */
  accessLogFlushMs?: number;
  /** Upload settings other than the configuration's (tests: a short expiry). */
  uploads?: Partial<UploadSettings>;
  /** Import jobs run at once; default: LAKE_JOB_CONCURRENCY, else 1 embedded and 2 on a server. */
  jobConcurrency?: number;
  /**
   * Run the backup schedule (LAKE_BACKUP_SCHEDULE) in this server, as `lake serve` does: its
   * metrics and readiness field are there from the start, serve.ts starts its timer once
   * listening. Unset: no backups, and no `backup` field in readiness.
   */
  backups?: BackupSchedulerOptions;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The access log of this server; flushed on close. */
    accessLog: AccessLog;
    /** The backup schedule, when this server runs it (ServerOptions.backups). */
    backups: BackupScheduler | null;
    /** The web console's files; `warm()` builds them now rather than on the first request. */
    console: { warm(): Promise<void> };
  }
}

/** The route pattern a request matched, for metrics and the access log; unknown routes share one label. */
function routeOf(request: { routeOptions: { url?: string | undefined } }): string {
  return request.routeOptions.url ?? 'unmatched';
}

export async function buildServer(lake: Lake, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app: ApiApp = Fastify({
    logger: options.logLevel ? { level: options.logLevel } : false,
    // Every request is recorded in the access log and the metrics; the log stays for problems.
    logController: new LogController({ disableRequestLogging: true }),
    // Request ids end up in audit.events: unique across restarts, unlike Fastify's counter.
    genReqId: () => randomUUID(),
    // Body size, handler and idle timeouts, socket-level errors as JSON (limits.ts).
    ...limitOptions(lake.config),
    // Refusals of the router (a path parameter too long, a malformed URL) in the API's error shape.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    ajv: {
      // Unknown query parameters are refused rather than silently dropped (a typo is an error).
      // verbose: a failure carries its schema and value, for a message in words (errors.ts).
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false, verbose: true },
      plugins: [(ajv) => ajv.addKeyword({ keyword: EXPECTED, schemaType: 'string' })],
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const metrics = new ApiMetrics(lake);
  const accessLog = new AccessLog(lake.db, {
    flushIntervalMs: options.accessLogFlushMs,
    onDropped: (count, error) => {
      metrics.accessLogEntriesDropped(count);
      app.log.error({ err: error }, `access log: ${count} entries could not be written`);
    },
  });
  let backups: BackupScheduler | null = null;
  if (options.backups) {
    const { BackupScheduler } = await import('../backup/schedule.js');
    const alsoTell = options.backups.log;
    backups = new BackupScheduler(lake, {
      ...options.backups,
      log: (level, message, error) => {
        if (level === 'error') app.log.error({ err: error }, message);
        else app.log.info(message);
        alsoTell?.(level, message, error);
      },
    });
    const scheduler = backups;
    metrics.watchBackups(() => scheduler.status);
  }
  const requestSettings = lake.config.apiTimeoutMs > 0 ? { statement_timeout: `${lake.config.apiTimeoutMs}ms` } : undefined;
  const context: ApiContext = {
    lake,
    metrics,
    backups,
    // Every query of an API request is cut at LAKE_API_TIMEOUT_MS (limits.ts), set with the user's identity.
    asUser: (request, work) => metrics.timeTransaction((inner) => lake.db.asUser(principalOf(request).userId, inner, requestSettings), work),
  };

  app.decorate('accessLog', accessLog);
  app.decorate('backups', backups);
  // After the requests: the timer goes, a running backup ends before the lake may close.
  app.addHook('onClose', async () => backups?.stop());
  app.decorateRequest('principal', null);
  installErrorHandling(app);
  app.addHook('preValidation', screenParameters);
  // No browser guesses a type the lake did not send (a stored file's bytes above all).
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, routeOf(request), reply.statusCode, reply.elapsedTime / 1000);
    const principal = request.principal;
    if (principal) {
      accessLog.record({
        userId: principal.userId,
        keyId: principal.keyId,
        at: new Date(Date.now() - reply.elapsedTime),
        method: request.method,
        route: routeOf(request),
        path: request.url,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        requestId: request.id,
      });
    }
  });
  // Runs after in-flight requests have finished, so their entries are written too.
  app.addHook('onClose', async () => accessLog.close());

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Datapunk Lake API', version: '1', description: 'Your personal data lake over HTTP. /v1 routes need `Authorization: Bearer <API key>` (lake keys create).' },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from `lake keys create`' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'the operator\'s LAKE_METRICS_TOKEN (GET /metrics only; without it set, loopback clients only)' },
        },
      },
    },
  });

  healthRoutes(app, context);
  metricsRoutes(app, context);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // The web console: GET / and /console/* (built from console/ on first use).
  app.decorate('console', consoleRoutes(app, { pmtiles: lake.config.consolePmtiles, cacheDir: lake.config.cacheDir }));

  // Resumable uploads (tus) and import jobs. Running imports stop before the server closes
  // (preClose: at a batch boundary, back to 'queued'), and the next server resumes them on start.
  const uploads = new Uploads(
    lake.db,
    {
      directory: lake.config.uploadDir,
      maxBytes: lake.config.uploadMaxBytes,
      ttlMs: lake.config.uploadTtlSeconds * 1000,
      ...options.uploads,
    },
    (message, error) => app.log.error({ err: error }, message),
  );
  const jobs = new JobRunner(
    lake,
    uploads,
    options.jobConcurrency ?? lake.config.jobConcurrency ?? (lake.db.backend === 'embedded' ? 1 : 2),
    metrics.registry,
    (message, error) => app.log.error({ err: error }, message),
  );
  app.addHook('preClose', async () => jobs.stop());
  app.addHook('onClose', async () => uploads.close());
  await app.register(
    async (v1: ApiApp) => {
      v1.addHook('onRequest', authenticate(lake.db));
      await registerRateLimit(v1, lake.config);
      timelineRoutes(v1, context);
      locationRoutes(v1, context);
      tileRoutes(v1, context);
      itemRoutes(v1, context);
      statsRoutes(v1, context);
      exportRoutes(v1, context);
      placeRoutes(v1, context);
      searchRoutes(v1, context);
      messageRoutes(v1, context);
      mediaRoutes(v1, context);
      blobRoutes(v1, context);
      documentRoutes(v1, context);
      measurementRoutes(v1, context);
      contactRoutes(v1, context);
      ingestRoutes(v1, context);
      await uploadRoutes(v1, context, uploads);
      jobRoutes(v1, context, jobs);
      meRoutes(v1, context);
      authLinkRoutes(v1, context);
    },
    { prefix: '/v1' },
  );

  await app.ready();
  await jobs.start();
  void uploads.sweepExpired();
  return app;
}
