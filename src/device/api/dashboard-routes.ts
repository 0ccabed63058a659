import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import { ActivityStatsSchema, HealthSchema, StatsQuerySchema, WebhookSchema } from '../../protocol/index.ts';
import { DeviceStats } from '../store/stats.ts';
import { assembleStats, statsWindowFor } from '../../shared/stats.ts';
import { toWireWebhook } from '../store/webhooks.ts';
import { EventStreamResponse, openEventStream } from '../../shared/sse.ts';
import { systemClock } from '../../shared/clock.ts';

const OverviewSchema = Type.Object({
  device: Type.Object({
    id: Type.String(),
    cloudId: Type.Union([Type.String(), Type.Null()], {
      description: 'the id the server gave this device; null when not linked',
    }),
    online: Type.Boolean({ description: 'simulated connectivity' }),
    timeZone: Type.String(),
  }),
  health: HealthSchema,
  queue: Type.Object({
    pending: Type.Integer(),
    sending: Type.Integer(),
    succeeded: Type.Integer(),
    failed: Type.Integer(),
    cancelled: Type.Integer(),
  }),
  webhooks: Type.Object({ local: Type.Array(WebhookSchema), cloud: Type.Array(WebhookSchema) }),
});

/** How often a comment line keeps an idle live stream (and any proxy in between) open. */
const KEEP_ALIVE_MS = 15_000;

/**
 * What the dashboard needs beyond the Local API: one overview call (the device, its health, the
 * queue by state and both webhook lists) and the live stream of events and attempts.
 */
export function dashboardRoutes(app: App, ctx: DeviceContext, streams: Set<ServerResponse>): void {
  app.get(
    '/dashboard/overview',
    {
      config: { scope: ['devices:list', 'webhooks:list', 'deliveries:read'] },
      schema: {
        tags: ['dashboard'],
        summary: 'The device, its health, deliveries by state and both webhook lists',
        operationId: 'getDashboardOverview',
        response: { 200: OverviewSchema },
      },
    },
    async () => ({
      device: {
        id: ctx.deviceId,
        cloudId: ctx.identity.cloudDeviceId(),
        online: ctx.network.isOnline(),
        timeZone: ctx.timeZone,
      },
      health: ctx.health(),
      queue: ctx.outbox.countByState(),
      webhooks: {
        local: ctx.webhooks.list('Local').map(toWireWebhook),
        cloud: ctx.webhooks.list('Cloud').map(toWireWebhook),
      },
    }),
  );

  const stats = new DeviceStats(ctx.db);
  app.get(
    '/stats',
    {
      config: { scope: 'deliveries:read' },
      schema: {
        tags: ['dashboard'],
        summary:
          'Delivery attempts per minute by outcome with their p50/p99 duration, messages sent/delivered/failed per minute, queue depth and the most failing webhooks, over the last hour or day',
        operationId: 'getActivityStats',
        querystring: StatsQuerySchema,
        response: { 200: ActivityStatsSchema },
      },
    },
    async (request) => {
      const range = request.query.range ?? 'hour';
      const window = statsWindowFor(range, ctx.clock.now());
      // waiting or in flight: both are pending rows, counted over their partial index
      const depth = ctx.outbox.queueCounts().queued;
      return assembleStats(range, window, { ...stats.read(window), queueNow: depth, queueDepth: depth });
    },
  );

  app.get(
    '/events/stream',
    {
      config: { scope: 'deliveries:read' },
      schema: {
        tags: ['dashboard'],
        operationId: 'streamEvents',
        summary:
          'Server-Sent Events: `event` frames for every SMS/system event recorded, `attempt` frames for every delivery attempt',
        produces: ['text/event-stream'],
        response: { 200: EventStreamResponse },
      },
    },
    (request, reply) => {
      let offEvent = () => {};
      let offAttempt = () => {};
      const stream = openEventStream(request, reply, {
        clock: systemClock,
        keepAliveMs: KEEP_ALIVE_MS,
        onClose: () => {
          offEvent();
          offAttempt();
          streams.delete(reply.raw);
          ctx.observability.streamClosed();
        },
      });
      if (!stream) return;
      streams.add(reply.raw);
      ctx.observability.streamOpened();
      offEvent = ctx.events.onEvent((e) =>
        stream.send('event', {
          eventId: e.eventId,
          event: e.event,
          payload: e.payload,
          deliveryIds: e.deliveryIds,
          at: e.at,
        }),
      );
      offAttempt = ctx.observability.onAttempt((notice) => stream.send('attempt', notice));
    },
  );
}
