// GET /metrics: the server's Prometheus metrics (no authentication: figures about the service,
// none about a user's data).
import type { ApiApp, ApiContext } from '../context.js';

export function metricsRoutes(app: ApiApp, context: ApiContext): void {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['operations'] } }, async (_request, reply) => {
    const text = await context.metrics.registry.metrics();
    return reply.header('content-type', context.metrics.registry.contentType).send(text);
  });
}
