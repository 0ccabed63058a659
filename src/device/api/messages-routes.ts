import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import { Type } from '@sinclair/typebox';
import {
  duplicatePhoneNumbers,
  ErrorBodySchema,
  MessageStateSchema,
  messageText,
  SendMessageSchema,
} from '../../protocol/index.ts';
import { InvalidInputError, NotFoundError } from '../../shared/errors.ts';
import { requireIsoDateTime, requireTimeRange } from '../../shared/iso-dates.ts';
import { IdParams, MessageListQuery } from '../../shared/route-schemas.ts';

/** Local-mode messages: `/message` (alias `/messages`). */
export function messageRoutes(app: App, ctx: DeviceContext): void {
  for (const [base, alias] of [
    ['/message', ''],
    ['/messages', 'Alias'],
  ] as const) {
    app.post(
      base,
      {
        config: { scope: 'messages:send' },
        schema: {
          tags: ['messages'],
          operationId: `sendMessage${alias}`,
          body: SendMessageSchema,
          response: { 202: MessageStateSchema, 400: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const { body } = request;
        const text = messageText(body);
        if ('error' in text) throw new InvalidInputError(text.error);
        const duplicate = duplicatePhoneNumbers(body.phoneNumbers);
        if (duplicate) throw new InvalidInputError(duplicate);
        if (body.deviceId != null && body.deviceId !== ctx.deviceId) {
          throw new InvalidInputError(
            `Device ID mismatch: this device is ${ctx.deviceId}; omit deviceId or use that id`,
          );
        }
        const validUntil = body.validUntil != null ? requireIsoDateTime(body.validUntil, 'validUntil') : null;
        const message = ctx.sms.enqueue({
          id: body.id,
          text: text.text,
          phoneNumbers: body.phoneNumbers,
          simNumber: body.simNumber,
          withDeliveryReport: body.withDeliveryReport,
          ttlSeconds: body.ttl,
          validUntil,
          priority: body.priority,
          source: 'Local',
        });
        return reply
          .code(202)
          .header('location', `${base}/${encodeURIComponent(message.id)}`)
          .send(ctx.sms.toWire(message));
      },
    );

    // As the app does, the list holds the messages sent through this Local API; those the server
    // handed to a linked device are listed by the server (`GET /3rdparty/v1/messages`).
    app.get(
      base,
      {
        config: { scope: 'messages:list' },
        schema: {
          tags: ['messages'],
          summary: 'Messages sent through the Local API, newest first (X-Total-Count has the number of matches)',
          operationId: `listMessages${alias}`,
          querystring: MessageListQuery,
          response: { 200: Type.Array(MessageStateSchema), 400: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const q = request.query;
        if (q.deviceId !== undefined && q.deviceId !== ctx.deviceId) {
          throw new InvalidInputError(
            `deviceId "${q.deviceId}" is not this device (${ctx.deviceId}); omit it or use that id`,
          );
        }
        const { items, total } = ctx.messageStore.list(
          { source: 'Local', state: q.state, ...requireTimeRange(q.from, q.to) },
          { limit: q.limit ?? 50, offset: q.offset ?? 0, order: q.sort === 'created_at' ? 'asc' : 'desc' },
        );
        return reply
          .header('x-total-count', String(total))
          .send(items.map((message) => ctx.sms.toWire(message, { includeContent: q.includeContent === true })));
      },
    );

    app.get(
      `${base}/:id`,
      {
        config: { scope: 'messages:read' },
        schema: {
          tags: ['messages'],
          operationId: `getMessage${alias}`,
          params: IdParams,
          response: { 200: MessageStateSchema, 404: ErrorBodySchema },
        },
      },
      async (request) => {
        const { id } = request.params;
        const message = ctx.sms.get(id);
        if (!message) throw new NotFoundError(`no message with id "${id}" on this device`);
        return ctx.sms.toWire(message);
      },
    );
  }
}
