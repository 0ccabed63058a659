import type { App } from '../../shared/http.ts';
import { HealthSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';

const schema = (summary: string, operationId: string) => ({
  tags: ['health'],
  summary,
  operationId,
  response: { 200: HealthSchema, 503: HealthSchema },
});

/**
 * Health without credentials (monitors and load balancers have none): `/health`,
 * `/health/ready` and `/health/startup` check the database, `/health/live` only that the process
 * answers. 503 when a check fails. The server serves only once its store is open and migrated, so
 * a startup probe that gets an answer knows startup is over; the database check tells it the
 * server can also do its work.
 */
export function healthRoutes(app: App, ctx: ServerContext): void {
  for (const [url, summary, operationId] of [
    ['/health', 'Health, with a database check', 'getHealth'],
    ['/health/ready', 'Ready to serve: the database answers', 'getReadiness'],
    ['/health/startup', 'Started: the store is open and migrated, and the database answers', 'getStartup'],
  ] as const) {
    app.get(url, { schema: schema(summary, operationId) }, async (_request, reply) => {
      const health = await ctx.health.check();
      return reply.code(health.status === 'fail' ? 503 : 200).send(health);
    });
  }
  app.get('/health/live', { schema: schema('The process answers', 'getLiveness') }, async () => ctx.health.live());
}
