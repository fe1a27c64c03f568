// What every route module is given: the lake, the metrics, and the one way to reach user data.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { BackupScheduler } from '../backup/schedule.js';
import type { Transaction } from '../db/database.js';
import type { Lake } from '../lake.js';
import type { ApiMetrics } from './metrics.js';

/** A Fastify instance whose route schemas are TypeBox schemas (typed query, params and replies). */
export type ApiApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface ApiContext {
  lake: Lake;
  metrics: ApiMetrics;
  /** The backup schedule `lake serve` runs (backup/schedule.ts); null when this server makes no backups. */
  backups: BackupScheduler | null;
  /**
   * Database work for an authenticated request, in one transaction as its user: row-level security
   * is what keeps users apart, so routes never read user tables any other way.
   */
  asUser<T>(request: FastifyRequest, work: (tx: Transaction) => Promise<T>): Promise<T>;
}
