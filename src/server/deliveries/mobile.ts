import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { ActivityReportSchema, ErrorBodySchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';

/** What a linked device reports of its webhook activity; the requireDevice hook runs first. */
export function deliveriesMobileRoutes(app: App, ctx: ServerContext): void {
  app.post(
    '/device/activity',
    {
      schema: {
        tags: ['device'],
        summary:
          "Report this device's webhook activity: events recorded, deliveries that changed (with their latest attempts), its Local webhook list. The server keeps a copy and shows it; an older version of a delivery never replaces a newer one",
        operationId: 'reportActivity',
        body: ActivityReportSchema,
        response: { 204: Type.Null(), 400: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      await ctx.deliveries.report(deviceOf(request), request.body);
      return reply.code(204).send(null);
    },
  );
}
