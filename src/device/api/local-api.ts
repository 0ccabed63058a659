import type { App } from '../../shared/http.ts';
import { createApp } from '../../shared/http.ts';
import type { DeviceContext } from '../runtime.ts';
import type { LocalCredentials } from './auth.ts';
import { HealthSchema } from '../../protocol/index.ts';
import { webhookRoutes } from './webhooks-routes.ts';
import { messageRoutes } from './messages-routes.ts';
import { settingsRoutes } from './settings-routes.ts';
import { deliveryRoutes } from './deliveries-routes.ts';
import { simRoutes } from './sim-routes.ts';

/** Routes anyone may call: load balancers and monitors need health without credentials. */
const PUBLIC_ROUTES = new Set(['/health']);

/** The device's Local-mode API (what the phone serves on port 8080 in the original). */
export function createLocalApi(ctx: DeviceContext, credentials: LocalCredentials, https?: { key: string; cert: string }): App {
  const app = createApp(https ? { https } : {});

  app.addHook('onRequest', async (request) => {
    if (PUBLIC_ROUTES.has(request.routeOptions.url ?? '')) return;
    await credentials.check(request);
  });

  app.get('/health', { schema: { tags: ['health'], response: { 200: HealthSchema, 503: HealthSchema } } }, async (_request, reply) => {
    const health = ctx.health();
    return reply.code(health.status === 'fail' ? 503 : 200).send(health);
  });

  app.get('/device', { schema: { tags: ['device'] } }, async () => ({
    id: ctx.deviceId,
    cloudId: ctx.identity.cloudDeviceId(),
    simCount: ctx.carrier.simCount,
    timeZone: ctx.timeZone,
    online: ctx.network.isOnline(),
  }));

  webhookRoutes(app, ctx);
  messageRoutes(app, ctx);
  settingsRoutes(app, ctx);
  deliveryRoutes(app, ctx);
  simRoutes(app, ctx);
  return app;
}
