import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { WebhookSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';
import { toWebhookView } from './service.ts';

/** The device's Cloud webhook list: its own plus the user's device-less ones (it replaces its whole list). */
export function webhooksMobileRoutes(app: App, ctx: ServerContext): void {
  app.get(
    '/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: "This device's Cloud webhooks",
        operationId: 'listWebhooks',
        response: { 200: Type.Array(WebhookSchema) },
      },
    },
    async (request) => {
      const device = deviceOf(request);
      return (await ctx.webhooks.forDevice(device.userId, device.id)).map(toWebhookView);
    },
  );
}
