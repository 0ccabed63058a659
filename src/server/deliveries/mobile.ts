import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { compileBodyValidator, documentCheck } from '../../shared/http.ts';
import {
  ACTIVITY_LISTS,
  ActivityReportAnswerSchema,
  ActivityReportEnvelopeSchema,
  ActivityReportSchema,
  ErrorBodySchema,
  ReportedDeliverySchema,
  ReportedEventSchema,
  ReportedWebhookSchema,
  type ActivityReport,
  type ActivityReportAnswer,
} from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';

const checkItem = {
  events: documentCheck(ReportedEventSchema),
  deliveries: documentCheck(ReportedDeliverySchema),
  webhooks: documentCheck(ReportedWebhookSchema),
};
const checkEnvelope = compileBodyValidator(ActivityReportEnvelopeSchema);

/**
 * The items of a report that fit their schema, and what is wrong with the others: one bad item
 * (an id an older version let through, a field a newer app added) costs only itself.
 */
export function splitActivityReport(body: Record<string, unknown[] | undefined>): {
  report: ActivityReport;
  refused: ActivityReportAnswer['refused'];
} {
  const report: Record<string, unknown[]> = {};
  const refused: ActivityReportAnswer['refused'] = [];
  for (const list of ACTIVITY_LISTS) {
    const items = body[list];
    if (items === undefined) continue;
    report[list] = items.filter((item, index) => {
      const message = checkItem[list](item);
      if (message === undefined) return true;
      const id = (item as { id?: unknown } | null)?.id;
      refused.push({
        list,
        index,
        id: typeof id === 'string' ? JSON.stringify(id).slice(1, -1).slice(0, 80) : null,
        message,
      });
      return false;
    });
  }
  return { report: report as ActivityReport, refused };
}

/** What a linked device reports of its webhook activity; the requireDevice hook runs first. */
export function deliveriesMobileRoutes(app: App, ctx: ServerContext): void {
  app.post(
    '/device/activity',
    {
      schema: {
        tags: ['device'],
        summary:
          "Report this device's webhook activity: events recorded, deliveries that changed (with their latest attempts), its Local webhook list. The server keeps a copy and shows it; an older version of a delivery never replaces a newer one. An item that does not fit its schema is left out and named in a 200 answer; the others are taken",
        operationId: 'reportActivity',
        body: ActivityReportSchema,
        response: { 200: ActivityReportAnswerSchema, 204: Type.Null(), 400: ErrorBodySchema },
      },
      // the document above is what a device sends; the route itself checks the lists here and each
      // item in the handler, so that one bad item does not refuse the rest
      validatorCompiler: () => checkEnvelope,
    },
    async (request, reply) => {
      const { report, refused } = splitActivityReport(request.body as Record<string, unknown[] | undefined>);
      await ctx.deliveries.report(deviceOf(request), report);
      if (refused.length === 0) return reply.code(204).send(null);
      request.log.warn(
        `device ${deviceOf(request).id}: ${refused.length} item(s) of an activity report left out, e.g. ${refused[0].list}[${refused[0].index}]: ${refused[0].message}`,
      );
      return reply.code(200).send({ refused });
    },
  );
}
