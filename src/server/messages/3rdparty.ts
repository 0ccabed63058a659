import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { ErrorBodySchema, MessageStateSchema, ProcessStateSchema, SendMessageSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';
import { toMessageState } from './service.ts';
import { requireIsoDateTime } from '../../shared/iso-dates.ts';
import { IdParams, PageLimit } from '../../shared/route-schemas.ts';

const SendQuery = Type.Object({ skipPhoneValidation: Type.Optional(Type.Boolean()) });
const ListQuery = Type.Object({
  limit: Type.Optional(PageLimit),
  // bounded: a larger number is not an integer to the database (500 instead of an empty page)
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 })),
  state: Type.Optional(ProcessStateSchema),
  deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  from: Type.Optional(Type.String({ description: 'ISO 8601; messages created at or after' })),
  to: Type.Optional(Type.String({ description: 'ISO 8601; messages created before' })),
});
const tags = ['messages'];

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  return requireIsoDateTime(value, name);
}

/** Send (`/messages`, alias `/message` as the official TS client calls it), read one, list. */
export function messages3rdPartyRoutes(app: App, ctx: ServerContext): void {
  for (const [base, alias] of [
    ['/messages', ''],
    ['/message', 'Alias'],
  ] as const) {
    app.post(
      base,
      {
        config: { scope: 'messages:send' },
        schema: {
          tags,
          summary: 'Send an SMS through one of your devices',
          operationId: `sendMessage${alias}`,
          querystring: SendQuery,
          body: SendMessageSchema,
          response: { 202: MessageStateSchema, 400: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const message = await ctx.messages.send(userOf(request).id, request.body, {
          skipPhoneValidation: request.query.skipPhoneValidation,
        });
        // The Location follows the path the client used, prefix included (/api/3rdparty/v1/… or /3rdparty/v1/…).
        const location = `${request.url.split('?')[0].replace(/\/$/, '')}/${encodeURIComponent(message.id)}`;
        return reply.code(202).header('location', location).send(toMessageState(message));
      },
    );

    app.get(
      `${base}/:id`,
      {
        config: { scope: 'messages:read' },
        schema: {
          tags,
          summary: 'The state of one message',
          operationId: `getMessage${alias}`,
          params: IdParams,
          response: { 200: MessageStateSchema, 404: ErrorBodySchema },
        },
      },
      async (request) => toMessageState(await ctx.messages.get(userOf(request).id, request.params.id)),
    );

    app.get(
      base,
      {
        config: { scope: 'messages:list' },
        schema: {
          tags,
          summary: 'Your messages, newest first (X-Total-Count has the number of matches)',
          operationId: `listMessages${alias}`,
          querystring: ListQuery,
          response: { 200: Type.Array(MessageStateSchema) },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const { items, total } = await ctx.messages.list(
          userOf(request).id,
          {
            deviceId: q.deviceId,
            state: q.state,
            from: parseTime(q.from, 'from'),
            to: parseTime(q.to, 'to'),
          },
          { limit: q.limit ?? 50, offset: q.offset ?? 0 },
        );
        return reply.header('x-total-count', String(total)).send(items.map(toMessageState));
      },
    );
  }
}
