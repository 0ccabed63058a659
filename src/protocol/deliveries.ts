import { Type, type Static } from '@sinclair/typebox';
import { EventNameSchema, WEBHOOK_SOURCES } from './webhooks.ts';

/**
 * Webhook deliveries and their attempts as the APIs show them: the device's Local API
 * (`GET /deliveries`) and the server's 3rdparty API (the copy devices report), one shape for both,
 * so the dashboard reads either.
 */

export const DELIVERY_STATES = ['pending', 'sending', 'succeeded', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** What became of one attempt: done, another try scheduled, or the retry budget spent. */
export const ATTEMPT_OUTCOMES = ['succeeded', 'retry', 'failed'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

const Time = (description: string) => Type.String({ description: `${description} (ISO 8601)` });
const NullableString = () => Type.Union([Type.String(), Type.Null()]);

export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'the envelope id: the same on every attempt' }),
  eventId: Type.String(),
  event: EventNameSchema,
  webhookId: Type.String(),
  source: Type.Union(WEBHOOK_SOURCES.map((s) => Type.Literal(s)), { description: 'which list the webhook is in' }),
  url: Type.String(),
  state: Type.Union(DELIVERY_STATES.map((s) => Type.Literal(s))),
  attempts: Type.Integer({ description: 'attempts made, over the delivery’s whole life' }),
  nextAttemptAt: Type.Union([Time('when the next attempt is due, while pending'), Type.Null()]),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: NullableString(),
  createdAt: Time('when the event was recorded'),
  updatedAt: Time('last change'),
});
export type DeliveryView = Static<typeof DeliverySchema>;

export const AttemptSchema = Type.Object({
  number: Type.Integer({ description: '1-based, over the delivery’s whole life' }),
  startedAt: Time('when the request started'),
  durationMs: Type.Integer(),
  status: Type.Union([Type.Integer(), Type.Null()], { description: 'the HTTP status; null when no answer came' }),
  error: NullableString(),
  responsePreview: Type.Union([Type.String(), Type.Null()], { description: 'the start of the answer body' }),
});
export type AttemptView = Static<typeof AttemptSchema>;

/** One page of a delivery list, newest first: pass `nextCursor` as `before` for the next page. */
export const deliveryPageSchema = <T extends typeof DeliverySchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.Integer(), Type.Null()], { description: 'null on the last page' }),
  });
