import { Type } from '@sinclair/typebox';

/**
 * The documented 200 of a Server-Sent Events route: a `text/event-stream` that stays open. The
 * routes write the frames themselves (the reply is hijacked), so this only describes them.
 */
export const EventStreamResponse = {
  description: 'a text/event-stream that stays open: `event: <type>` and `data: <json>` frames, and `: keep-alive` comments',
  content: { 'text/event-stream': { schema: Type.String() } },
};
