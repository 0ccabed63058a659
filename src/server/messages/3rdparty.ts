import { Type } from '@sinclair/typebox';
import { operation, type App } from '../../shared/http.ts';
import { ErrorBodySchema, MessageStateSchema, SendMessageSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';
import { toMessageState } from './service.ts';
import { requireTimeRange } from '../../shared/iso-dates.ts';
import { IdParams, MessageListQuery, SendQuery } from '../../shared/route-schemas.ts';

const ServerSendQuery = Type.Object({
  ...SendQuery.properties,
  deviceActiveWithin: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 87_600,
      description: 'without deviceId: only devices seen within this many hours (0: any that has connected)',
    }),
  ),
});
/** The server's device ids are 21-character nanoids: anything else cannot name a device. */
export const ServerDeviceId = Type.String({
  pattern: '^[A-Za-z0-9_-]{21}$',
  description: 'a device id (21 characters)',
});
const ListQuery = Type.Object({ ...MessageListQuery.properties, deviceId: Type.Optional(ServerDeviceId) });
const tags = ['messages'];

/** Send (`/messages`, alias `/message` as the official TS client calls it), read one, cancel one, list. */
export function messages3rdPartyRoutes(app: App, ctx: ServerContext): void {
  for (const [base, alias] of [
    ['/messages', ''],
    ['/message', 'Alias'],
  ] as const) {
    app.post(
      base,
      operation('messages:send', {
        tags,
        summary: 'Send an SMS through one of your devices',
        operationId: `sendMessage${alias}`,
        querystring: ServerSendQuery,
        body: SendMessageSchema,
        response: { 202: MessageStateSchema, 400: ErrorBodySchema, 409: ErrorBodySchema },
      }),
      async (request, reply) => {
        const message = await ctx.messages.send(userOf(request).id, request.body, {
          skipPhoneValidation: request.query.skipPhoneValidation,
          deviceActiveWithin: request.query.deviceActiveWithin,
        });
        // The Location follows the path the client used, prefix included (/api/3rdparty/v1/… or /3rdparty/v1/…).
        const location = `${request.url.split('?')[0].replace(/\/$/, '')}/${encodeURIComponent(message.id)}`;
        return reply.code(202).header('location', location).send(toMessageState(message));
      },
    );

    app.get(
      `${base}/:id`,
      operation('messages:read', {
        tags,
        summary: 'The state of one message',
        operationId: `getMessage${alias}`,
        params: IdParams,
        response: { 200: MessageStateSchema, 404: ErrorBodySchema },
      }),
      async (request) => toMessageState(await ctx.messages.get(userOf(request).id, request.params.id)),
    );

    app.delete(
      `${base}/:id`,
      operation('messages:cancel', {
        tags,
        summary:
          'Cancel a Pending message: it becomes Cancelling until its device confirms (Cancelled) or reports it already left',
        operationId: `cancelMessage${alias}`,
        params: IdParams,
        response: { 200: MessageStateSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      }),
      async (request) => toMessageState(await ctx.messages.cancel(userOf(request).id, request.params.id)),
    );

    app.get(
      base,
      operation('messages:list', {
        tags,
        summary: 'Your messages, newest first (X-Total-Count has the number of matches)',
        operationId: `listMessages${alias}`,
        querystring: ListQuery,
        response: { 200: Type.Array(MessageStateSchema), 400: ErrorBodySchema },
      }),
      async (request, reply) => {
        const q = request.query;
        const { items, total } = await ctx.messages.list(
          userOf(request).id,
          { deviceId: q.deviceId, state: q.state, ...requireTimeRange(q.from, q.to) },
          { limit: q.limit ?? 50, offset: q.offset ?? 0, order: q.sort === 'created_at' ? 'asc' : 'desc' },
        );
        const includeContent = q.includeContent === true;
        return reply
          .header('x-total-count', String(total))
          .send(items.map((message) => toMessageState(message, { includeContent })));
      },
    );
  }
}
