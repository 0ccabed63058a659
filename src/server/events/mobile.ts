import type { ServerResponse } from 'node:http';
import type { App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';
import type { PushEvent } from './hub.ts';
import { EventStreamResponse } from '../../shared/sse.ts';

/** The frame of one push event: `event: <Type>\ndata: <json>\n\n`. */
export const sseFrame = (event: PushEvent): string => `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;

/**
 * `GET /events`: the device's push channel (Server-Sent Events). Events only say "something
 * changed"; the device then pulls, and it pulls after every (re)connect too, so an event
 * missed while disconnected loses nothing.
 */
export function eventsMobileRoutes(app: App, ctx: ServerContext, streams: Set<ServerResponse>): void {
  app.get('/events', { schema: { tags: ['events'], summary: 'Server-Sent Events for this device', produces: ['text/event-stream'], response: { 200: EventStreamResponse } } }, async (request, reply) => {
    const device = deviceOf(request);
    // HEAD gets the headers and an end: a stream's writes send nothing for HEAD, not even the headers.
    if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache, no-transform').send();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // proxies such as nginx would otherwise buffer the stream
      'x-accel-buffering': 'no',
    });
    // A first comment makes the headers and the stream reach the client now, not at the first event.
    res.write(': connected\n\n');
    streams.add(res);

    const unsubscribe = ctx.hub.subscribe(device, (event) => {
      res.write(sseFrame(event));
    });
    let timer: unknown;
    const keepAlive = () => {
      res.write(': keep-alive\n\n');
      // an open stream means the device is there
      void ctx.devices.seen(device.id).catch(() => {});
      timer = ctx.clock.setTimeout(keepAlive, ctx.keepAliveMs);
    };
    timer = ctx.clock.setTimeout(keepAlive, ctx.keepAliveMs);

    let closed = false;
    const cleanup = () => {
      if (closed) return;
      closed = true;
      ctx.clock.clearTimeout(timer);
      unsubscribe();
      streams.delete(res);
    };
    res.on('close', cleanup);
    res.on('error', cleanup);
    return reply;
  });
}
