import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MobileMessageSchema } from './mobile.ts';

/**
 * What the server pushes to a linked device on `GET /mobile/v1/events` (Server-Sent Events: the
 * type is the `event:` field, the data the JSON of `data:`). Most say only that something changed,
 * and the device pulls it (a new message comes with its content, which saves that pull); since a
 * device also pulls everything after every (re)connect, a push it missed is never lost. Data
 * schemas allow more keys: a newer server may say more.
 */
export const PUSH_EVENT_SCHEMAS = {
  /**
   * a message waits for the device. With `message` (what a pull would hand out for it) the device
   * takes it from the push; without, it pulls `GET /mobile/v1/message` (`id` is then a hint)
   */
  MessageEnqueued: Type.Object({ id: Type.Optional(Type.String()), message: Type.Optional(MobileMessageSchema) }),
  /** the device's Cloud webhook list changed: it pulls `GET /mobile/v1/webhooks` */
  WebhooksUpdated: Type.Object({}),
  /** the user's settings changed: it pulls `GET /mobile/v1/settings` */
  SettingsUpdated: Type.Object({}),
  /** a message was cancelled before the device sent it (the original's data: its `messageId`) */
  MessageCancelled: Type.Object({ messageId: Type.String() }),
  /**
   * replay the SMS received between `since` and `until` (RFC 3339) as webhooks. As in the original,
   * every value is a string: `messageTypes` comma-separated, `webhookDelivery` Individual | Batch |
   * Disabled, `triggerWebhooks` "true" or "false" (older apps read only that).
   */
  MessagesExportRequested: Type.Object({
    since: Type.String(),
    until: Type.String(),
    messageTypes: Type.Optional(Type.String()),
    webhookDelivery: Type.Optional(Type.String()),
    triggerWebhooks: Type.Optional(Type.String()),
  }),
  /** the server's dashboard asks the device to send its delivery `id` again */
  DeliveryRedeliverRequested: Type.Object({ id: Type.String() }),
  /** the server's dashboard asks the device to send its Cloud webhook `id` a test event */
  WebhookTestRequested: Type.Object({ id: Type.String() }),
};

export type PushEventType = keyof typeof PUSH_EVENT_SCHEMAS;
export const PUSH_EVENT_TYPES = Object.keys(PUSH_EVENT_SCHEMAS) as readonly PushEventType[];
export type PushEventData<T extends PushEventType> = Static<(typeof PUSH_EVENT_SCHEMAS)[T]>;
/** One push, its data typed by its type. */
export type PushEvent<T extends PushEventType = PushEventType> = {
  [K in T]: { type: K; data: PushEventData<K> };
}[T];

/** The pushes that only mean "pull this again": what a device needs after a gap in the push channel. */
export const PULL_HINT_TYPES = [
  'MessageEnqueued',
  'WebhooksUpdated',
  'SettingsUpdated',
] as const satisfies readonly PushEventType[];
export type PullHintType = (typeof PULL_HINT_TYPES)[number];

/**
 * The event without the content it carries for the device's own stream (a pushed message): what
 * goes where content must not or cannot (a push relay; a cross-node notification over its size
 * limit). The device then pulls, as it does for any pull hint.
 */
export function withoutContent(event: PushEvent): PushEvent {
  if (event.type !== 'MessageEnqueued' || event.data.message === undefined) return event;
  const { message: _content, ...hint } = event.data;
  return { type: event.type, data: hint };
}

export function isPushEventType(value: unknown): value is PushEventType {
  return typeof value === 'string' && Object.hasOwn(PUSH_EVENT_SCHEMAS, value);
}

/**
 * A push as it arrived (type and parsed data), if it is one this side knows: undefined for an
 * unknown type, or a request whose data does not fit. A pull hint needs no data to be acted on, so
 * one with data that does not fit is kept, with none.
 */
export function parsePushEvent(type: string, data: unknown): PushEvent | undefined {
  if (!isPushEventType(type)) return undefined;
  if (Value.Check(PUSH_EVENT_SCHEMAS[type], data)) return { type, data } as PushEvent;
  return (PULL_HINT_TYPES as readonly string[]).includes(type) ? ({ type, data: {} } as PushEvent) : undefined;
}
