import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import { ErrorBodySchema } from '../../protocol/index.ts';
import { requireTimeRange } from '../../shared/iso-dates.ts';
import { LOG_PRIORITIES, LOGS_LISTED } from '../store/logs.ts';
import { formatInZone } from '../time-format.ts';

const LogsQuery = Type.Object({
  from: Type.Optional(Type.String({ description: 'ISO 8601; entries made at or after (default: the oldest kept)' })),
  to: Type.Optional(Type.String({ description: 'ISO 8601; entries made at or before (default: now)' })),
});

const LogEntrySchema = Type.Object({
  id: Type.Integer(),
  createdAt: Type.String({ description: "ISO 8601, in the device's time zone" }),
  module: Type.String({ description: 'system, messages, webhooks, gateway or settings' }),
  priority: Type.Union(LOG_PRIORITIES.map((p) => Type.Literal(p))),
  message: Type.String(),
  context: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

/** `GET /logs`: the device's own log, as the app's Local API serves it. */
export function logsRoutes(app: App, ctx: DeviceContext): void {
  app.get(
    '/logs',
    {
      config: { scope: 'logs:read' },
      schema: {
        tags: ['logs'],
        summary: `What the device did (kept logs.lifetime_days), oldest first; at most ${LOGS_LISTED} entries: narrow from/to for the rest`,
        operationId: 'getLogs',
        querystring: LogsQuery,
        response: { 200: Type.Array(LogEntrySchema), 400: ErrorBodySchema },
      },
    },
    async (request) => {
      const range = requireTimeRange(request.query.from, request.query.to);
      return ctx.log.select(range.from ?? 0, range.to ?? ctx.clock.now()).map((entry) => ({
        id: entry.id,
        createdAt: formatInZone(entry.createdAt, ctx.timeZone),
        module: entry.module,
        priority: entry.priority,
        message: entry.message,
        ...(entry.context !== null ? { context: entry.context } : {}),
      }));
    },
  );
}
