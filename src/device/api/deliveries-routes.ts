import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../runtime.ts';
import { EventNameSchema, HttpError } from '../../protocol/index.ts';
import { DELIVERY_STATES, type DeliveryRow, type AttemptRow } from '../store/outbox.ts';
import { formatInZone } from '../../shared/time-format.ts';

const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(DELIVERY_STATES.map((s) => Type.Literal(s)))),
    webhookId: Type.Optional(Type.String({ maxLength: 64 })),
    event: Type.Optional(EventNameSchema),
    /** cursor: the `nextCursor` of the previous page */
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** The delivery and attempt log, and redelivery. */
export function deliveryRoutes(app: App, ctx: DeviceContext): void {
  const time = (ms: number) => formatInZone(ms, ctx.timeZone);
  const wireDelivery = (row: DeliveryRow) => ({
    id: row.id,
    eventId: row.eventId,
    event: row.event,
    webhookId: row.webhookId,
    source: row.webhookSource,
    url: row.url,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.state === 'pending' ? time(row.nextAttemptAt) : null,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
    createdAt: time(row.createdAt),
    updatedAt: time(row.updatedAt),
  });
  const wireAttempt = (a: AttemptRow) => ({ ...a, startedAt: time(a.startedAt) });

  app.get('/deliveries', { schema: { tags: ['deliveries'], querystring: ListQuery } }, async (request) => {
    const query = request.query as typeof ListQuery.static;
    const limit = query.limit ?? 50;
    const rows = ctx.outbox.listDeliveries({ ...query, limit });
    return {
      items: rows.map(wireDelivery),
      nextCursor: rows.length === limit ? rows[rows.length - 1].seq : null,
    };
  });

  app.get('/deliveries/:id', { schema: { tags: ['deliveries'], params: IdParams } }, async (request) => {
    const { id } = request.params as { id: string };
    const row = ctx.outbox.getDelivery(id);
    if (!row) throw new HttpError(404, `no delivery with id "${id}"`);
    return { ...wireDelivery(row), body: row.body, attemptLog: row.attemptLog.map(wireAttempt) };
  });

  app.post('/deliveries/:id/redeliver', { schema: { tags: ['deliveries'], params: IdParams } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!ctx.outbox.redeliver(id, ctx.clock.now())) {
      if (!ctx.outbox.getDelivery(id)) throw new HttpError(404, `no delivery with id "${id}"`);
      throw new HttpError(409, `delivery "${id}" is being sent right now; try again when the attempt has finished`);
    }
    ctx.dispatcher.wake();
    return reply.code(202).send(wireDelivery(ctx.outbox.getDelivery(id)!));
  });
}
