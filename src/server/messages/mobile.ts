import { Type } from '@sinclair/typebox';
import { noContent, type App } from '../../shared/http.ts';
import { ErrorBodySchema, MobileMessageSchema, PullQuerySchema, StateReportSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';
import { toMobileMessage } from './service.ts';

const tags = ['messages'];

/** The device pulls what it has to send, and reports how it went. */
export function messagesMobileRoutes(app: App, ctx: ServerContext): void {
  app.get(
    '/message',
    {
      schema: {
        tags,
        summary:
          'Pending messages for this device (at most 100): highest priority first, then by order; then its Cancelling ones',
        operationId: 'pullMessages',
        querystring: PullQuerySchema,
        response: { 200: Type.Array(MobileMessageSchema) },
      },
    },
    async (request) => (await ctx.messages.pending(deviceOf(request), request.query.order)).map(toMobileMessage),
  );

  app.patch(
    '/message',
    {
      schema: {
        tags,
        summary: 'Report message states (never moves a state backwards)',
        operationId: 'reportMessageStates',
        body: StateReportSchema,
        response: { 204: Type.Null(), 400: ErrorBodySchema },
      },
    },
    (request, reply) => noContent(reply, ctx.messages.report(deviceOf(request), request.body)),
  );
}
