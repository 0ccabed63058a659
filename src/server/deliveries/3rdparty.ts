import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import { operation, type App } from '../../shared/http.ts';
import {
  AttemptSchema,
  ATTEMPT_OUTCOMES,
  DeliverySchema,
  deliveryPageSchema,
  ErrorBodySchema,
  EventNameSchema,
  STORED_DELIVERY_STATES,
  ActivityStatsSchema,
  StatsQuerySchema,
} from '../../protocol/index.ts';
import { EventStreamResponse, openEventStream } from '../../shared/sse.ts';
import type { ServerContext } from '../context.ts';
import { tokenOf, userOf } from '../api/auth.ts';
import { askDeviceRoute } from '../api/asked.ts';
import { IdParams, PageLimit } from '../../shared/route-schemas.ts';

/** A delivery in the server's copy: the Local API's shape, plus the device and when it reported this version. */
export const ServerDeliverySchema = Type.Composite([
  DeliverySchema,
  Type.Object({
    deviceId: Type.String({ description: 'the device that makes this delivery' }),
    reportedAt: Type.String({ description: 'when the device reported this version (ISO 8601)' }),
  }),
]);
const ServerAttemptSchema = Type.Composite([
  AttemptSchema,
  Type.Object({
    outcome: Type.Union(
      ATTEMPT_OUTCOMES.map((o) => Type.Literal(o)),
      { description: 'succeeded, retry (another try scheduled) or failed (the retry budget spent)' },
    ),
  }),
]);
const DeliveryDetailSchema = Type.Composite([
  ServerDeliverySchema,
  Type.Object({ attemptLog: Type.Array(ServerAttemptSchema) }),
]);

const ListQuery = Type.Object(
  {
    state: Type.Optional(
      Type.Union(
        STORED_DELIVERY_STATES.map((s) => Type.Literal(s)),
        { description: 'an attempt in flight shows as pending' },
      ),
    ),
    event: Type.Optional(EventNameSchema),
    webhookId: Type.Optional(Type.String({ maxLength: 64 })),
    deviceId: Type.Optional(Type.String({ maxLength: 64 })),
    /** cursor: the `nextCursor` of the previous page */
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(PageLimit),
  },
  { additionalProperties: false },
);
const tags = ['deliveries'];

/**
 * Your devices' webhook deliveries, as they report them (the devices deliver; this is their copy),
 * redelivery through the device, and the live stream of their activity.
 */
export function deliveries3rdPartyRoutes(app: App, ctx: ServerContext, liveStreams: Set<ServerResponse>): void {
  app.get(
    '/deliveries',
    operation('deliveries:read', {
      tags,
      summary:
        "Your devices' webhook deliveries, newest first (by when the server heard of them), filtered and paginated",
      operationId: 'listDeliveries',
      querystring: ListQuery,
      response: { 200: deliveryPageSchema(ServerDeliverySchema) },
    }),
    async (request) => {
      const { query } = request;
      return ctx.deliveries.list(userOf(request).id, { ...query, limit: query.limit ?? 50 });
    },
  );

  app.get(
    '/stats',
    operation('deliveries:read', {
      tags,
      summary:
        "Your devices' delivery attempts per minute by outcome with their p50/p99 duration, messages sent/delivered/failed per minute, queue depth and the most failing webhooks, over the last hour or day",
      operationId: 'getActivityStats',
      querystring: StatsQuerySchema,
      response: { 200: ActivityStatsSchema },
    }),
    async (request) => ctx.deliveries.stats(userOf(request).id, request.query.range ?? 'hour'),
  );

  app.get(
    '/deliveries/:id',
    operation('deliveries:read', {
      tags,
      summary: 'One delivery with the attempts its device reported',
      operationId: 'getDelivery',
      params: IdParams,
      response: { 200: DeliveryDetailSchema, 404: ErrorBodySchema },
    }),
    async (request) => ctx.deliveries.get(userOf(request).id, request.params.id),
  );

  askDeviceRoute(
    app,
    '/deliveries/:id/redeliver',
    {
      scope: 'deliveries:redeliver',
      tags,
      operationId: 'redeliver',
      summary:
        'Ask the device to send it again now, with a fresh retry budget; the new attempt appears once the device reports it',
    },
    (userId, id) => ctx.deliveries.redeliver(userId, id),
    (asked) =>
      `asked device ${asked.deviceId} to redeliver ${asked.id}; its next attempt shows up in GET /deliveries/${asked.id}`,
  );

  app.get(
    '/events/stream',
    operation('deliveries:read', {
      tags: ['events'],
      operationId: 'streamEvents',
      summary:
        "Server-Sent Events of your devices' webhook activity as they report it: `event` (an SMS/system event recorded), `attempt` (a new delivery attempt) and `delivery` (a delivery changed: id, state, attempts)",
      produces: ['text/event-stream'],
      response: { 200: EventStreamResponse },
    }),
    async (request, reply) => {
      const user = userOf(request);
      let stopListening = () => {};
      const stream = openEventStream(request, reply, {
        clock: ctx.clock,
        keepAliveMs: ctx.keepAliveMs,
        onClose: () => {
          stopListening();
          liveStreams.delete(reply.raw);
        },
      });
      if (!stream) return reply;
      liveStreams.add(reply.raw);
      const unsubscribe = ctx.hub.subscribeActivity(user.id, (notice) => stream.send(notice.type, notice.data));
      // Notices from other nodes may have been missed (LISTEN was down): end the stream, so the
      // dashboard shows it is offline, reconnects and reloads its lists, rather than silently
      // missing events.
      const stopWatching = ctx.hub.watch({ userEvent() {}, gap: () => stream.end() });
      // and it ends when the password or the token that opened it stops counting, on any node
      const forget = ctx.openStreams.add({ userId: user.id, familyId: tokenOf(request)?.familyId }, () => stream.end());
      stopListening = () => {
        unsubscribe();
        stopWatching();
        forget();
      };
      return reply;
    },
  );
}
