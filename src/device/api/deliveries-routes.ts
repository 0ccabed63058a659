import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import {
  AttemptSchema,
  DELIVERY_STATES,
  DeliverySchema,
  deliveryPageSchema,
  deliveryView,
  ErrorBodySchema,
  EventNameSchema,
} from '../../protocol/index.ts';
import type { DeliveryRow, AttemptRow } from '../store/outbox.ts';
import { formatInZone } from '../time-format.ts';
import { IdParams, PageLimit } from '../../shared/route-schemas.ts';
import { NotFoundError, ConflictError } from '../../shared/errors.ts';

const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(DELIVERY_STATES.map((s) => Type.Literal(s)))),
    webhookId: Type.Optional(Type.String({ maxLength: 64 })),
    event: Type.Optional(EventNameSchema),
    /** cursor: the `nextCursor` of the previous page */
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Optional(PageLimit),
  },
  { additionalProperties: false },
);
const DeliveryDetailSchema = Type.Composite([
  DeliverySchema,
  Type.Object({
    body: Type.String({ description: 'the exact JSON body signed and sent on every attempt' }),
    attemptLog: Type.Array(AttemptSchema),
  }),
]);
const tags = ['deliveries'];

/** The delivery and attempt log, and redelivery. */
export function deliveryRoutes(app: App, ctx: DeviceContext): void {
  const time = (ms: number) => formatInZone(ms, ctx.timeZone);
  const wireDelivery = (row: DeliveryRow) => deliveryView(row, time);
  const wireAttempt = (a: AttemptRow) => ({ ...a, startedAt: time(a.startedAt) });

  app.get(
    '/deliveries',
    {
      config: { scope: 'deliveries:read' },
      schema: {
        tags,
        summary: 'Deliveries, newest first, filtered and paginated',
        operationId: 'listDeliveries',
        querystring: ListQuery,
        response: { 200: deliveryPageSchema(DeliverySchema) },
      },
    },
    async (request) => {
      const { query } = request;
      const limit = query.limit ?? 50;
      const rows = ctx.outbox.listDeliveries({ ...query, limit });
      return {
        items: rows.map(wireDelivery),
        nextCursor: rows.length === limit ? rows[rows.length - 1].seq : null,
      };
    },
  );

  app.get(
    '/deliveries/:id',
    {
      config: { scope: 'deliveries:read' },
      schema: {
        tags,
        summary: 'One delivery with its body and every attempt',
        operationId: 'getDelivery',
        params: IdParams,
        response: { 200: DeliveryDetailSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      const row = ctx.outbox.getDelivery(id);
      if (!row) throw new NotFoundError(`no delivery with id "${id}"`);
      return { ...wireDelivery(row), body: row.body, attemptLog: row.attemptLog.map(wireAttempt) };
    },
  );

  app.post(
    '/deliveries/:id/redeliver',
    {
      config: { scope: 'deliveries:redeliver' },
      schema: {
        tags,
        summary: 'Send again now, with a fresh retry budget',
        operationId: 'redeliver',
        params: IdParams,
        response: { 202: DeliverySchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const outcome = ctx.dispatcher.redeliver(id);
      if (outcome === 'unknown') throw new NotFoundError(`no delivery with id "${id}"`);
      if (outcome === 'sending')
        throw new ConflictError(`delivery "${id}" is being sent right now; try again when the attempt has finished`);
      if (outcome === 'cancelled')
        throw new ConflictError(
          `delivery "${id}" was cancelled because its webhook was deleted or replaced; it cannot be sent again`,
        );
      return reply.code(202).send(wireDelivery(ctx.outbox.getDelivery(id)!));
    },
  );
}
