import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import {
  keepMaskedCredentials,
  checkWebhookUrl,
  ErrorBodySchema,
  RegisterWebhookSchema,
  WebhookSchema,
  WebhookTestReplySchema,
} from '../../protocol/index.ts';
import { toWireWebhook } from '../store/webhooks.ts';
import { newId } from '../../shared/ids.ts';
import { IdParams } from '../../shared/route-schemas.ts';
import { InvalidInputError, NotFoundError } from '../../shared/errors.ts';

/** Local-mode webhooks: `/webhooks` (alias `/webhook`). Only the Local list is visible here. */
export function webhookRoutes(app: App, ctx: DeviceContext): void {
  for (const [base, alias] of [
    ['/webhooks', ''],
    ['/webhook', 'Alias'],
  ] as const) {
    app.get(
      base,
      {
        config: { scope: 'webhooks:list' },
        schema: {
          tags: ['webhooks'],
          operationId: `listWebhooks${alias}`,
          response: { 200: Type.Array(WebhookSchema) },
        },
      },
      async () => ctx.webhooks.list('Local').map(toWireWebhook),
    );

    app.post(
      base,
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags: ['webhooks'],
          operationId: `registerWebhook${alias}`,
          body: RegisterWebhookSchema,
          response: { 201: WebhookSchema, 400: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const { body } = request;
        if (body.deviceId != null && body.deviceId !== ctx.deviceId) {
          throw new InvalidInputError(
            `Device ID mismatch: this device is ${ctx.deviceId}; omit deviceId or use that id`,
          );
        }
        const id = body.id || newId(); // absent, null or "": generate one
        const url = keepMaskedCredentials(body.url, body.id ? ctx.webhooks.get('Local', id)?.url : undefined);
        const urlProblem = checkWebhookUrl(url, { allowInsecureHttp: ctx.insecureHttp });
        if (urlProblem) throw new InvalidInputError(urlProblem);
        const hook = {
          source: 'Local' as const,
          id,
          url,
          event: body.event,
          deviceId: body.deviceId ?? null,
        };
        ctx.webhooks.upsert(hook, ctx.clock.now());
        return reply.code(201).send(toWireWebhook(hook));
      },
    );

    app.post(
      `${base}/:id/test`,
      {
        config: { scope: 'webhooks:write' },
        schema: {
          tags: ['webhooks'],
          summary:
            "Send this webhook a test event now: a system:ping with the device's health, whatever event it subscribes to, signed, delivered and retried through the outbox like any other",
          operationId: `testWebhook${alias}`,
          params: IdParams,
          response: { 202: WebhookTestReplySchema, 404: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const hook = ctx.webhooks.get('Local', request.params.id);
        if (!hook) throw new NotFoundError(`no Local webhook ${request.params.id}`);
        const emitted = ctx.events.emitTo('system:ping', { health: ctx.health() }, [hook]);
        return reply.code(202).send({ eventId: emitted.eventId, deliveryId: emitted.deliveryIds[0] });
      },
    );

    app.delete(
      `${base}/:id`,
      {
        config: { scope: 'webhooks:delete' },
        schema: {
          tags: ['webhooks'],
          operationId: `deleteWebhook${alias}`,
          params: IdParams,
          response: { 204: Type.Null({ description: 'also when there is no such webhook' }) },
        },
      },
      async (request, reply) => {
        ctx.webhooks.remove('Local', request.params.id, ctx.clock.now());
        return reply.code(204).send(null);
      },
    );
  }
}
