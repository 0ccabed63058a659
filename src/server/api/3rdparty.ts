import type { App } from '../../shared/http.ts';
import { ErrorBodySchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { requireUser, userOf } from './auth.ts';
import { tokenRoutes } from '../../shared/token-routes.ts';
import { healthRoutes } from '../health/routes.ts';
import { webhooks3rdPartyRoutes } from '../webhooks/3rdparty.ts';
import { messages3rdPartyRoutes } from '../messages/3rdparty.ts';
import { devices3rdPartyRoutes } from '../devices/3rdparty.ts';
import { settings3rdPartyRoutes } from '../settings/3rdparty.ts';
import { deliveries3rdPartyRoutes } from '../deliveries/3rdparty.ts';
import { inbox3rdPartyRoutes } from '../inbox/3rdparty.ts';
import type { ServerResponse } from 'node:http';
import { documentRouteGroup } from '../../shared/openapi.ts';
import { NotImplementedError } from '../../shared/errors.ts';

/**
 * Where the 3rdparty API is served (the original serves both), and what its operationIds start
 * with there: the second is an alias, its operations named `api…`.
 */
export const THIRD_PARTY_PREFIXES = [
  { prefix: '/3rdparty/v1', operationIdPrefix: '' },
  { prefix: '/api/3rdparty/v1', operationIdPrefix: 'api' },
] as const;

/**
 * The integrators' API: HTTP Basic auth with a user's login and password, except health.
 * `liveStreams` holds the dashboards' activity streams (closed with the server, counted in the metrics).
 */
export function thirdPartyApi(app: App, ctx: ServerContext, liveStreams: Set<ServerResponse>): void {
  for (const { prefix, operationIdPrefix } of THIRD_PARTY_PREFIXES) {
    app.register(
      async (scope) => {
        documentRouteGroup(scope, { tags: ['3rdparty'], operationIdPrefix });
        scope.register(async (open) => {
          // the same as /health at the root (`getHealth` there)
          documentRouteGroup(open, { operationIdPrefix: 'thirdParty' });
          healthRoutes(open, ctx);
        });
        scope.register(async (authed) => {
          documentRouteGroup(authed, { security: [{ basicAuth: [] }], tokenScheme: 'jwtAuth' });
          authed.addHook('onRequest', requireUser(ctx));
          webhooks3rdPartyRoutes(authed, ctx);
          messages3rdPartyRoutes(authed, ctx);
          devices3rdPartyRoutes(authed, ctx);
          settings3rdPartyRoutes(authed, ctx);
          deliveries3rdPartyRoutes(authed, ctx, liveStreams);
          tokenRoutes(authed, { tokens: ctx.tokens, subjectOf: (request) => userOf(request).id });
          inbox3rdPartyRoutes(authed, ctx);
          notHereRoutes(authed);
        });
      },
      { prefix },
    );
  }
}

/** Routes of the original that this server does not serve: a clear 501 instead of a bare 404. */
function notHereRoutes(app: App): void {
  const schema = { tags: ['not implemented'], response: { 501: ErrorBodySchema } };
  app.get('/logs', { config: { scope: 'logs:read' }, schema: { ...schema, operationId: 'getLogs' } }, async () => {
    throw new NotImplementedError(
      "logs are not collected by this server (as the original's); each device serves its own at GET /logs of its Local API, and the deliveries and attempts devices report are under GET /3rdparty/v1/deliveries",
    );
  });
}
