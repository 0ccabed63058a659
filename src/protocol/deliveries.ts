import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { EventName } from './events.ts';
import { EventNameSchema, WEBHOOK_SOURCES, type WebhookSource } from './webhooks.ts';
import { IdString } from './ids.ts';
import { redactUrl } from './redact.ts';

/**
 * Webhook deliveries and their attempts as the APIs show them: the device's Local API
 * (`GET /deliveries`) and the server's 3rdparty API (the copy devices report), one shape for both,
 * so the dashboard reads either.
 */

/**
 * pending → succeeded | failed | cancelled; `sending` while an attempt is in flight (the device's API
 * shows it). `cancelled`: its webhook was deleted, or replaced by one with another URL or event,
 * before it succeeded; it is never attempted again.
 */
export const DELIVERY_STATES = ['pending', 'sending', 'succeeded', 'failed', 'cancelled'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
/**
 * The states a delivery is stored and reported in: `sending` lives in the device's memory only (a
 * claim writes nothing), so a stored row and the server's copy say `pending` meanwhile.
 */
export type StoredDeliveryState = Exclude<DeliveryState, 'sending'>;
export const STORED_DELIVERY_STATES = DELIVERY_STATES.filter((s): s is StoredDeliveryState => s !== 'sending');

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
  source: Type.Union(
    WEBHOOK_SOURCES.map((s) => Type.Literal(s)),
    { description: 'which list the webhook is in' },
  ),
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

/** A delivery as the device's outbox keeps it, and the server its copy: times in Unix ms. */
export interface DeliveryRecord {
  id: string;
  eventId: string;
  event: EventName;
  webhookSource: WebhookSource;
  webhookId: string;
  url: string;
  state: DeliveryState;
  attempts: number;
  /** when the next attempt is due; only meaningful while pending */
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * A delivery in the shape the APIs show it, its instants written by `time`: ISO 8601 for the
 * Local and 3rdparty APIs (`DeliverySchema`), Unix ms for the activity report.
 */
export function deliveryView<T>(d: DeliveryRecord, time: (ms: number) => T) {
  return {
    id: d.id,
    eventId: d.eventId,
    event: d.event,
    webhookId: d.webhookId,
    source: d.webhookSource,
    // shown and reported with its credentials masked; the device keeps and calls the URL as given
    url: redactUrl(d.url),
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === 'pending' && d.nextAttemptAt !== null ? time(d.nextAttemptAt) : null,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: time(d.createdAt),
    updatedAt: time(d.updatedAt),
  };
}

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
export const deliveryPageSchema = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.Integer(), Type.Null()], { description: 'null on the last page' }),
  });

/**
 * `POST /mobile/v1/device/activity`: what a linked device reports about its webhook activity, so the
 * server can show it (the device delivers and stays the source of truth; the server keeps a copy).
 * Every part is optional and bounded; the device sends a report at most every ~500 ms, only when
 * something changed. Times are Unix milliseconds.
 */
export const ACTIVITY_LIMITS = {
  /** events per report */
  events: 100,
  /** deliveries per report (the device also stops at about 512 KiB of them) */
  deliveries: 200,
  /** the latest attempts of each delivery a report carries (attempts are numbered: re-sent ones are ignored) */
  attemptsPerDelivery: 10,
  /** Local webhooks in a report (the first ones, when a device has more) */
  webhooks: 100,
  /** characters of an attempt's response preview kept in the copy */
  responsePreviewChars: 200,
  /** characters of an error message */
  errorChars: 300,
  /** characters of an SMS text in an event summary */
  messageChars: 160,
} as const;

/** The latest instant a JavaScript Date can hold. */
const MAX_MS = 8.64e15;
/** What a PostgreSQL `integer` column holds. */
const MAX_INT = 2_147_483_647;
const Ms = (description: string) =>
  Type.Integer({ minimum: 0, maximum: MAX_MS, description: `${description} (Unix ms)` });
const Count = (description?: string) =>
  Type.Integer({ minimum: 0, maximum: MAX_INT, ...(description ? { description } : {}) });
const Id = () => IdString(64);
const Bounded = (maxLength: number) => Type.Union([Type.String({ maxLength }), Type.Null()]);
const HttpStatus = () => Type.Union([Type.Integer({ minimum: 100, maximum: 999 }), Type.Null()]);

export const ReportedEventSchema = Type.Object(
  {
    id: Id(),
    event: EventNameSchema,
    createdAt: Ms('when the device recorded it'),
    deliveries: Count('how many deliveries it made (one per webhook that wants it)'),
    summary: Type.Object(
      {
        messageId: Type.Optional(Type.String({ maxLength: 64 })),
        phoneNumber: Type.Optional(Type.String({ maxLength: 64 })),
        message: Type.Optional(
          Type.String({ maxLength: ACTIVITY_LIMITS.messageChars, description: 'the start of the SMS text' }),
        ),
      },
      { additionalProperties: false, description: 'a few fields of the payload, for the live view' },
    ),
  },
  { additionalProperties: false },
);

export const ReportedAttemptSchema = Type.Object(
  {
    number: Type.Integer({ minimum: 1, maximum: MAX_INT }),
    startedAt: Ms('when the request started'),
    durationMs: Count(),
    status: HttpStatus(),
    error: Bounded(ACTIVITY_LIMITS.errorChars),
    responsePreview: Bounded(ACTIVITY_LIMITS.responsePreviewChars),
    outcome: Type.Union(
      ATTEMPT_OUTCOMES.map((o) => Type.Literal(o)),
      { description: 'succeeded, retry (another try scheduled) or failed (the retry budget spent)' },
    ),
  },
  { additionalProperties: false },
);

export const ReportedDeliverySchema = Type.Object(
  {
    id: Id(),
    eventId: Id(),
    event: EventNameSchema,
    webhookId: Id(),
    source: Type.Union(WEBHOOK_SOURCES.map((s) => Type.Literal(s))),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    state: Type.Union(
      STORED_DELIVERY_STATES.map((s) => Type.Literal(s)),
      {
        description: 'as stored on the device: an attempt in flight is reported once it has finished',
      },
    ),
    attempts: Count(),
    nextAttemptAt: Type.Union([Ms('when the next attempt is due, while pending'), Type.Null()]),
    lastStatus: HttpStatus(),
    lastError: Bounded(ACTIVITY_LIMITS.errorChars),
    createdAt: Ms('when the event was recorded'),
    updatedAt: Ms(
      'last change on the device; with attempts, the version of the delivery: an older one never replaces a newer',
    ),
    attemptLog: Type.Array(ReportedAttemptSchema, {
      maxItems: ACTIVITY_LIMITS.attemptsPerDelivery,
      description: 'its latest attempts',
    }),
  },
  { additionalProperties: false },
);

export const ReportedWebhookSchema = Type.Object(
  {
    id: Id(),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    event: EventNameSchema,
    deviceId: Type.Union([IdString(64, { allowEmpty: true }), Type.Null()]),
  },
  { additionalProperties: false },
);

export const ActivityReportSchema = Type.Object(
  {
    events: Type.Optional(
      Type.Array(ReportedEventSchema, {
        maxItems: ACTIVITY_LIMITS.events,
        description: 'events recorded since the last report',
      }),
    ),
    deliveries: Type.Optional(
      Type.Array(ReportedDeliverySchema, {
        maxItems: ACTIVITY_LIMITS.deliveries,
        description: 'deliveries that changed since the last report, as they are now',
      }),
    ),
    webhooks: Type.Optional(
      Type.Array(ReportedWebhookSchema, {
        maxItems: ACTIVITY_LIMITS.webhooks,
        description:
          "the device's whole Local webhook list (sent when linking and whenever it changes); absent = unchanged",
      }),
    ),
  },
  { additionalProperties: false },
);
export type ActivityReport = Static<typeof ActivityReportSchema>;

/**
 * An activity report as the server first reads it: its lists and their lengths. Each item is then
 * checked on its own against its schema above, so that one bad item (an id an older version let
 * through) costs only itself, never the rest of the report.
 */
export const ActivityReportEnvelopeSchema = Type.Object(
  {
    events: Type.Optional(Type.Array(Type.Unknown(), { maxItems: ACTIVITY_LIMITS.events })),
    deliveries: Type.Optional(Type.Array(Type.Unknown(), { maxItems: ACTIVITY_LIMITS.deliveries })),
    webhooks: Type.Optional(Type.Array(Type.Unknown(), { maxItems: ACTIVITY_LIMITS.webhooks })),
  },
  { additionalProperties: false },
);

export const ACTIVITY_LISTS = ['events', 'deliveries', 'webhooks'] as const;

/** What the server answers (200) when it left items of a report out; all taken, it answers 204. */
export const ActivityReportAnswerSchema = Type.Object({
  refused: Type.Array(
    Type.Object({
      list: Type.Union(ACTIVITY_LISTS.map((l) => Type.Literal(l))),
      index: Type.Integer({ minimum: 0, description: 'its place in that list' }),
      id: Type.Union([Type.String(), Type.Null()], { description: 'its id, when it has a readable one' }),
      message: Type.String({ description: 'what is wrong with it' }),
    }),
    { description: 'the items left out; the others were taken' },
  ),
});
export type ActivityReportAnswer = Static<typeof ActivityReportAnswerSchema>;
export type ReportedEvent = Static<typeof ReportedEventSchema>;
export type ReportedDelivery = Static<typeof ReportedDeliverySchema>;
export type ReportedAttempt = Static<typeof ReportedAttemptSchema>;
/** An attempt as the device stores it: what a report carries, but for the outcome (worked out when reported). */
export type AttemptRecord = Omit<ReportedAttempt, 'outcome'>;
export type ReportedWebhook = Static<typeof ReportedWebhookSchema>;
