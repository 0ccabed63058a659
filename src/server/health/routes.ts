import type { App } from '../../shared/http.ts';
import { HealthSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';

const schema = (summary: string) => ({ tags: ['health'], summary, response: { 200: HealthSchema, 503: HealthSchema } });

/**
 * Health without credentials (monitors and load balancers have none): `/health` and
 * `/health/ready` check the database, `/health/live` only that the process answers.
 * 503 when a check fails.
 */
export function healthRoutes(app: App, ctx: ServerContext): void {
  const ready = async (_request: unknown, reply: { code(n: number): { send(body: unknown): unknown } }) => {
    const health = await ctx.health.check();
    return reply.code(health.status === 'fail' ? 503 : 200).send(health);
  };
  app.get('/health', { schema: schema('Health, with a database check') }, ready);
  app.get('/health/ready', { schema: schema('Ready to serve: the database answers') }, ready);
  app.get('/health/live', { schema: schema('The process answers') }, async () => ctx.health.live());
}
