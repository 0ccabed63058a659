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
 * Health without credentials (monitors and load balancers have none): `/health` and
 * `/health/ready` check the database, `/health/live` only that the process answers.
 * 503 when a check fails.
 */
export function healthRoutes(app: App, ctx: ServerContext): void {
  for (const [url, summary, operationId] of [
    ['/health', 'Health, with a database check', 'getHealth'],
    ['/health/ready', 'Ready to serve: the database answers', 'getReadiness'],
  ] as const) {
    app.get(url, { schema: schema(summary, operationId) }, async (_request, reply) => {
      const health = await ctx.health.check();
      return reply.code(health.status === 'fail' ? 503 : 200).send(health);
    });
  }
  app.get('/health/live', { schema: schema('The process answers', 'getLiveness') }, async () => ctx.health.live());
}
