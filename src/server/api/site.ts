import type { App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { JWT_SECURITY_SCHEME, registerOpenApi } from '../../shared/openapi.ts';
import { metricsRoute } from '../../shared/metrics.ts';
import { installRequestTelemetry } from '../../shared/request-telemetry.ts';
import { webUiRoutes } from '../../shared/dashboard.ts';
import { optionalUser, requireUser } from './auth.ts';

/**
 * What the server serves beside its APIs, registered before them: one OpenAPI document for both
 * audiences (every route tagged `3rdparty` or `mobile`) at `/docs/openapi.json` with Swagger UI at
 * `/docs` (public), `/metrics` (loopback, or a user's Basic auth), a log line per request, and the
 * web dashboard at `/` (a user's Basic auth, like the 3rdparty API it calls).
 */
export function installSite(app: App, ctx: ServerContext): void {
  const registry = ctx.observability.registry;
  installRequestTelemetry(app, registry);
  registerOpenApi(app, {
    title: 'smsgate server: 3rdparty and mobile APIs',
    description:
      'One document for both audiences: routes tagged `3rdparty` are for integrators (HTTP Basic auth with a user, or an access token from POST /3rdparty/v1/auth/token holding the scopes each operation lists), routes tagged `mobile` are for devices (Bearer token). Each API is served under two prefixes, as in the original; the operations under `/api/…` have the same operationIds with `api` in front.',
    tags: {
      '3rdparty': 'the integrators’ API (/3rdparty/v1, /api/3rdparty/v1)',
      mobile: 'the devices’ API (/mobile/v1, /api/mobile/v1)',
      health: 'without credentials',
    },
    securitySchemes: {
      basicAuth: { type: 'http', scheme: 'basic', description: "a user's login and password" },
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: "the device's token (registration: the private token, or a user's Basic auth)",
      },
      jwtAuth: { ...JWT_SECURITY_SCHEME, description: 'an access token (POST /3rdparty/v1/auth/token)' },
      registrationCode: {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description: 'registration with a one-time code: `Authorization: Code <code>` (GET /mobile/v1/user/code)',
      },
    },
  });
  app.register(async (scope) => {
    metricsRoute(scope, registry, async (request) => (await optionalUser(ctx, request)) !== undefined);
    scope.register(async (authed) => {
      authed.addHook('onRequest', requireUser(ctx));
      webUiRoutes(authed, { mode: 'server' });
    });
  });
}
