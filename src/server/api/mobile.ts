import type { ServerResponse } from 'node:http';
import { documentRouteGroup } from '../../shared/openapi.ts';
import type { App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { requireDevice } from './auth.ts';
import { deviceRegistrationRoutes, devicesMobileRoutes } from '../devices/mobile.ts';
import { messagesMobileRoutes } from '../messages/mobile.ts';
import { webhooksMobileRoutes } from '../webhooks/mobile.ts';
import { settingsMobileRoutes } from '../settings/mobile.ts';
import { usersMobileRoutes } from '../users/mobile.ts';
import { pushStreamRoutes } from '../push/mobile.ts';
import { deliveriesMobileRoutes } from '../deliveries/mobile.ts';

/**
 * Where the mobile API is served, and what its operationIds start with there (beside the
 * 3rdparty API's in one document: `mobileListWebhooks`, `listWebhooks`).
 */
export const MOBILE_PREFIXES = [
  { prefix: '/mobile/v1', operationIdPrefix: 'mobile' },
  { prefix: '/api/mobile/v1', operationIdPrefix: 'apiMobile' },
] as const;

/** The devices' API: registration, then everything with the device's bearer token. */
export function mobileApi(app: App, ctx: ServerContext, streams: Set<ServerResponse>): void {
  for (const { prefix, operationIdPrefix } of MOBILE_PREFIXES) {
    app.register(
      async (scope) => {
        documentRouteGroup(scope, { tags: ['mobile'], operationIdPrefix });
        deviceRegistrationRoutes(scope, ctx);
        scope.register(async (authed) => {
          documentRouteGroup(authed, { security: [{ bearerAuth: [] }] });
          authed.addHook('onRequest', requireDevice(ctx));
          devicesMobileRoutes(authed, ctx);
          deliveriesMobileRoutes(authed, ctx);
          messagesMobileRoutes(authed, ctx);
          webhooksMobileRoutes(authed, ctx);
          settingsMobileRoutes(authed, ctx);
          usersMobileRoutes(authed, ctx);
          pushStreamRoutes(authed, ctx, streams);
        });
      },
      { prefix },
    );
  }
}
