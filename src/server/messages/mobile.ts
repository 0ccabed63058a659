import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { ErrorBodySchema, ProcessStateSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';
import { toMobileMessage, type StateReportRequest } from './service.ts';

const MobileMessageSchema = Type.Object({
  id: Type.String(),
  message: Type.String(),
  textMessage: Type.Object({ text: Type.String() }),
  phoneNumbers: Type.Array(Type.String()),
  simNumber: Type.Union([Type.Integer(), Type.Null()]),
  withDeliveryReport: Type.Boolean(),
  isEncrypted: Type.Boolean(),
  priority: Type.Integer(),
  validUntil: Type.Union([Type.String(), Type.Null()]),
  state: ProcessStateSchema,
  createdAt: Type.String(),
});

const StateReportSchema = Type.Array(
  Type.Object(
    {
      id: Type.String({ minLength: 1, maxLength: 36 }),
      state: ProcessStateSchema,
      recipients: Type.Array(
        Type.Object({
          phoneNumber: Type.String({ minLength: 1, maxLength: 512 }),
          state: ProcessStateSchema,
          error: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
        }),
        { maxItems: 100 },
      ),
      states: Type.Optional(Type.Record(Type.String(), Type.String())),
    },
    // devices also send deviceId, isHashed, isEncrypted: accepted and ignored
    { additionalProperties: true },
  ),
  { maxItems: 1000 },
);
const tags = ['messages'];

/** The device pulls what it has to send, and reports how it went. */
export function messagesMobileRoutes(app: App, ctx: ServerContext): void {
  app.get('/message', { schema: { tags, summary: 'Pending messages for this device, oldest first', response: { 200: Type.Array(MobileMessageSchema) } } }, async (request) =>
    (await ctx.messages.pending(deviceOf(request))).map(toMobileMessage),
  );

  app.patch(
    '/message',
    { schema: { tags, summary: 'Report message states (never moves a state backwards)', body: StateReportSchema, response: { 204: Type.Null(), 400: ErrorBodySchema } } },
    async (request, reply) => {
      await ctx.messages.report(deviceOf(request), request.body as StateReportRequest[]);
      return reply.code(204).send();
    },
  );
}
