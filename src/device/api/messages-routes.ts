import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import { Type } from '@sinclair/typebox';
import { ErrorBodySchema, MessageStateSchema, SendMessageSchema } from '../../protocol/index.ts';
import { InvalidInputError, NotFoundError } from '../../shared/errors.ts';
import { requireTimeRange } from '../../shared/iso-dates.ts';
import { IdParams, MessageListQuery, SendQuery } from '../../shared/route-schemas.ts';
import { parseSendRequest } from '../../shared/send-request.ts';

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
          querystring: SendQuery,
          body: SendMessageSchema,
          response: { 202: MessageStateSchema, 400: ErrorBodySchema, 409: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const parsed = parseSendRequest(request.body, {
          skipPhoneValidation: request.query.skipPhoneValidation,
          now: ctx.clock.now(),
        });
        if (parsed.deviceId !== null && parsed.deviceId !== ctx.deviceId) {
          throw new InvalidInputError(
            `Device ID mismatch: this device is ${ctx.deviceId}; omit deviceId or use that id`,
          );
        }
        const message = ctx.sms.enqueue({ ...parsed, source: 'Local' });
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

    app.delete(
      `${base}/:id`,
      {
        config: { scope: 'messages:cancel' },
        schema: {
          tags: ['messages'],
          summary:
            'Cancel a message the device has not started sending (Pending): it becomes Cancelled, with sms:cancelled',
          operationId: `cancelMessage${alias}`,
          params: IdParams,
          response: { 200: MessageStateSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
        },
      },
      async (request) => ctx.sms.toWire(ctx.sms.cancel(request.params.id)),
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
