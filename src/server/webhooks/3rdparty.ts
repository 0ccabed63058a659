import { Type } from '@sinclair/typebox';
import { operation, type App } from '../../shared/http.ts';
import { ErrorBodySchema, RegisterWebhookSchema, WebhookSchema } from '../../protocol/index.ts';
import { noContent, sendSerialized } from '../../shared/http.ts';
import { IdParams } from '../../shared/route-schemas.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';
import { askDeviceRoute } from '../api/asked.ts';
import { toShownWebhookView } from './service.ts';
import type { WebhookRecord } from './repository.ts';

const tags = ['webhooks'];

/** Integrators manage their webhooks; every change is pushed to their devices. */
export function webhooks3rdPartyRoutes(app: App, ctx: ServerContext): void {
  // The answer for each list, serialised once: the cache hands out the same array until the list changes.
  const answers = new WeakMap<readonly WebhookRecord[], string>();
  app.get(
    '/webhooks',
    operation('webhooks:list', {
      tags,
      summary: 'List your webhooks',
      operationId: 'listWebhooks',
      response: { 200: Type.Array(WebhookSchema) },
    }),
    async (request, reply) => {
      const list = await ctx.webhooks.list(userOf(request).id);
      let json = answers.get(list);
      if (json === undefined) answers.set(list, (json = JSON.stringify(list.map(toShownWebhookView))));
      return sendSerialized(reply, json);
    },
  );

  app.post(
    '/webhooks',
    operation('webhooks:write', {
      tags,
      summary: 'Register a webhook (a POST with an existing id replaces it)',
      operationId: 'registerWebhook',
      body: RegisterWebhookSchema,
      response: { 201: WebhookSchema, 400: ErrorBodySchema },
    }),
    async (request, reply) => {
      const stored = await ctx.webhooks.register(userOf(request).id, request.body);
      return reply.code(201).send(toShownWebhookView(stored));
    },
  );

  askDeviceRoute(
    app,
    '/webhooks/:id/test',
    {
      scope: 'webhooks:write',
      tags,
      operationId: 'testWebhook',
      summary:
        'Have a device send this webhook a test event (a system:ping with its health, signed and retried like any other): the device it is bound to, else your most recently seen one; the delivery shows in GET /deliveries?webhookId= once the device reports it',
    },
    (userId, id) => ctx.webhooks.sendTest(userId, id),
    (asked) =>
      `asked device ${asked.deviceId} to send webhook ${asked.id} a test event; it shows in GET /deliveries?webhookId=${asked.id} once reported`,
  );

  app.delete(
    '/webhooks/:id',
    operation('webhooks:delete', {
      tags,
      summary: 'Delete a webhook (204 also when it does not exist)',
      operationId: 'deleteWebhook',
      params: IdParams,
      response: { 204: Type.Null() },
    }),
    (request, reply) => noContent(reply, ctx.webhooks.remove(userOf(request).id, request.params.id)),
  );
}
