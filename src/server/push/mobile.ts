import type { ServerResponse } from 'node:http';
import type { App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';
import { EventStreamResponse, openEventStream } from '../../shared/sse.ts';

/**
 * `GET /events`: the device's push channel (Server-Sent Events). Events only say "something
 * changed"; the device then pulls, and it pulls after every (re)connect too, so an event
 * missed while disconnected loses nothing.
 */
export function pushStreamRoutes(app: App, ctx: ServerContext, streams: Set<ServerResponse>): void {
  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Server-Sent Events for this device',
        operationId: 'streamEvents',
        produces: ['text/event-stream'],
        response: { 200: EventStreamResponse },
      },
    },
    async (request, reply) => {
      const device = deviceOf(request);
      let unsubscribe = () => {};
      let forget = () => {};
      const stream = openEventStream(request, reply, {
        clock: ctx.clock,
        keepAliveMs: ctx.keepAliveMs,
        // an open stream means the device is there
        onKeepAlive: () => void ctx.devices.seen(device.id).catch(() => {}),
        onClose: () => {
          unsubscribe();
          forget();
          streams.delete(reply.raw);
        },
      });
      if (!stream) return reply;
      streams.add(reply.raw);
      unsubscribe = ctx.hub.subscribe(device, (event) => stream.send(event.type, event.data));
      // a deleted device's stream ends, on whichever node holds it
      forget = ctx.openStreams.add({ userId: device.userId, deviceId: device.id }, () => stream.end());
      return reply;
    },
  );
}
