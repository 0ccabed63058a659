import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';

/** The keys set through the server (signing key included: the device signs with it). */
export function settingsMobileRoutes(app: App, ctx: ServerContext): void {
  app.get(
    '/settings',
    {
      schema: {
        tags: ['settings'],
        summary: 'Settings set for this device through the server',
        operationId: 'getSettings',
        response: {
          200: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), {
            description: 'only the keys set through the server, snake_case by group; null = back to the default',
          }),
        },
      },
    },
    async (request) => ctx.settings.forDevice(deviceOf(request).userId),
  );
}
