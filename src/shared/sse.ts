import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from './clock.ts';
import { NOSNIFF } from './http.ts';
import { tokenExpiryOf } from './access-tokens.ts';

/**
 * The documented 200 of a Server-Sent Events route: a `text/event-stream` that stays open. The
 * routes write the frames themselves (the reply is hijacked), so this only describes them.
 */
export const EventStreamResponse = {
  description:
    'a text/event-stream that stays open: `event: <type>` and `data: <json>` frames, and `: keep-alive` comments',
  content: { 'text/event-stream': { schema: Type.String() } },
};

/** Bytes a stream may have waiting to be sent before its reader is considered gone. */
export const EVENT_STREAM_BUFFER_LIMIT = 1024 * 1024;

export interface EventStream {
  /** One frame, `event: <type>` with `data: <JSON>`. A reader that stopped reading is let go instead. */
  send(type: string, data: unknown): void;
  /** End the stream (the reader's EventSource reconnects). */
  end(): void;
}

export interface EventStreamOptions {
  clock: Clock;
  /** a comment is sent this often, so proxies and clients see the stream is alive */
  keepAliveMs: number;
  /** also called at every keep-alive */
  onKeepAlive?: () => void;
  /** called once, when the reader goes or the stream ends */
  onClose: () => void;
}

/**
 * Answer a request with a Server-Sent Events stream. The headers go at once, with a first comment
 * so that they pass proxies now rather than at the first event. HEAD gets the headers and an end,
 * since a stream's writes send nothing for HEAD, not even the headers: then it returns undefined,
 * and nothing is held open. A stream opened with an access token ends when that token expires: the
 * reader reconnects with a fresh one (an expired one gets 401).
 */
export function openEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  options: EventStreamOptions,
): EventStream | undefined {
  if (request.method === 'HEAD') {
    void reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache, no-transform').send();
    return undefined;
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // proxies such as nginx would otherwise buffer the stream
    'x-accel-buffering': 'no',
    'x-request-id': String(request.id),
    ...NOSNIFF,
  });
  res.write(': connected\n\n');
  const { clock } = options;
  let timer: unknown;
  const keepAlive = () => {
    write(': keep-alive\n\n');
    options.onKeepAlive?.();
    timer = clock.setTimeout(keepAlive, options.keepAliveMs);
  };
  timer = clock.setTimeout(keepAlive, options.keepAliveMs);
  const expiresAt = tokenExpiryOf(request);
  const expiry =
    expiresAt === undefined ? undefined : clock.setTimeout(() => void res.end(), Math.max(0, expiresAt - clock.now()));
  let closed = false;
  const cleanup = () => {
    if (closed) return;
    closed = true;
    clock.clearTimeout(timer);
    if (expiry !== undefined) clock.clearTimeout(expiry);
    options.onClose();
  };
  res.on('close', cleanup);
  res.on('error', cleanup);
  function write(frame: string): void {
    if (res.writableEnded) return;
    // a reader that stopped reading is let go rather than buffered without end
    if (res.writableLength > EVENT_STREAM_BUFFER_LIMIT) return void res.end();
    res.write(frame);
  }
  return {
    send: (type, data) => write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`),
    end: () => void res.end(),
  };
}
