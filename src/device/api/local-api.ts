import type { App } from '../../shared/http.ts';
import { createApp, trustProxyOption } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import type { LocalCredentials } from './auth.ts';
import { Type } from '@sinclair/typebox';
import { HealthSchema } from '../../protocol/index.ts';
import { webhookRoutes } from './webhooks-routes.ts';
import { messageRoutes } from './messages-routes.ts';
import { inboxRoutes } from './inbox-routes.ts';
import { logsRoutes } from './logs-routes.ts';
import { settingsRoutes } from './settings-routes.ts';
import { deliveryRoutes } from './deliveries-routes.ts';
import { simRoutes } from './sim-routes.ts';
import { dashboardRoutes } from './dashboard-routes.ts';
import type { ServerResponse } from 'node:http';
import { documentRouteGroup, JWT_SECURITY_SCHEME, registerOpenApi } from '../../shared/openapi.ts';
import { metricsRoute } from '../../shared/metrics.ts';
import { installRequestTelemetry } from '../../shared/request-telemetry.ts';
import { appLoggingOptions } from '../../shared/logger.ts';
import { webUiRoutes } from '../../shared/dashboard.ts';
import { tokenRoutes } from '../../shared/token-routes.ts';
import { UnavailableError } from '../../shared/errors.ts';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The device's Local-mode API (what the phone serves on port 8080 in the original). */
export function createLocalApi(
  ctx: DeviceContext,
  credentials: LocalCredentials,
  options: { https?: { key: string; cert: string }; trustProxy?: string[] } = {},
): App {
  const { https } = options;
  const app = createApp({
    ...(https ? { https } : {}),
    ...appLoggingOptions(ctx.logger),
    ...trustProxyOption(options.trustProxy),
  });
  installRequestTelemetry(app, ctx.observability.registry);
  // A write that found the disk full puts the device in full mode (see DiskSpaceGuard).
  app.addHook('onError', async (_request, _reply, error) => {
    ctx.diskSpace.noticeWriteFailure(error);
  });
  registerOpenApi(app, {
    title: 'smsgate device: Local API',
    description:
      "The virtual device's Local-mode API (what the phone serves on port 8080), its simulation API and the dashboard's endpoints.",
    tags: {
      webhooks: 'the Local webhook list',
      messages: 'send SMS and read their state',
      deliveries: 'the delivery and attempt log, redelivery',
      settings: 'device settings',
      simulation: 'the virtual carrier: incoming SMS, connectivity',
      device: 'this device',
      health: 'without credentials',
      metrics: 'Prometheus text; loopback clients, or with credentials',
      dashboard: 'what the web dashboard reads: overview and live events',
      auth: 'access tokens with scopes, beside Basic auth',
      logs: "the device's own log of what it did",
    },
    securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' }, jwtAuth: JWT_SECURITY_SCHEME },
  });

  // Routes check credentials in their group (below); a request for no route at all needs them
  // too, so that what exists cannot be probed without them.
  app.addHook('onRequest', async (request) => {
    if (request.is404) await credentials.check(request, { scoped: false });
  });
  // Open live streams would keep close() waiting forever; end them first.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
    streams.clear();
  });

  // Routes go in plugins registered after the OpenAPI generator, so it sees every one of them.
  // Public: load balancers and monitors need health without credentials; `/metrics` checks for
  // itself (loopback clients, or authenticated ones). The OpenAPI documents (`/docs`, registered
  // above) are public too: they describe routes, never data or secrets.
  app.register(async (open) => publicRoutes(open, ctx, credentials));
  app.register(async (authed) => {
    documentRouteGroup(authed, { security: [{ basicAuth: [] }], tokenScheme: 'jwtAuth' });
    authed.addHook('onRequest', async (request) => credentials.check(request));
    // With the disk full, what is left of it records the deliveries already queued: nothing new.
    authed.addHook('preHandler', async (request) => {
      if (ctx.diskSpace.isFull && !READ_METHODS.has(request.method)) {
        throw new UnavailableError(
          "the device's disk is full: new events and changes are refused until there is room again (deliveries already queued go on); free space in its data directory",
          10,
        );
      }
    });
    routes(authed, ctx, credentials, streams);
  });
  return app;
}

function publicRoutes(app: App, ctx: DeviceContext, credentials: LocalCredentials): void {
  app.get(
    '/health',
    { schema: { tags: ['health'], operationId: 'getHealth', response: { 200: HealthSchema, 503: HealthSchema } } },
    async (_request, reply) => {
      const health = ctx.health();
      return reply.code(health.status === 'fail' ? 503 : 200).send(health);
    },
  );
  metricsRoute(app, ctx.observability.registry, async (request) => {
    if (!request.headers.authorization) return false;
    await credentials.check(request);
    return true;
  });
}

function routes(app: App, ctx: DeviceContext, credentials: LocalCredentials, streams: Set<ServerResponse>): void {
  const DeviceInfo = Type.Object({
    id: Type.String(),
    cloudId: Type.Union([Type.String(), Type.Null()], {
      description: 'the id the server gave this device; null when not linked',
    }),
    simCount: Type.Integer(),
    timeZone: Type.String(),
    online: Type.Boolean({ description: 'simulated connectivity' }),
  });
  app.get(
    '/device',
    {
      config: { scope: 'devices:list' },
      schema: { tags: ['device'], summary: 'This device', operationId: 'getDevice', response: { 200: DeviceInfo } },
    },
    async () => ({
      id: ctx.deviceId,
      cloudId: ctx.identity.cloudDeviceId(),
      simCount: ctx.carrier.simCount,
      timeZone: ctx.timeZone,
      online: ctx.network.isOnline(),
    }),
  );

  webhookRoutes(app, ctx);
  messageRoutes(app, ctx);
  inboxRoutes(app, ctx);
  logsRoutes(app, ctx);
  settingsRoutes(app, ctx);
  deliveryRoutes(app, ctx);
  simRoutes(app, ctx);
  dashboardRoutes(app, ctx, streams);
  tokenRoutes(app, { tokens: credentials.tokens, subjectOf: () => credentials.username });
  webUiRoutes(app, { mode: 'device' });
}
