import { Type, type Static } from '@sinclair/typebox';

/**
 * The dashboard's Overview numbers, aggregated in SQL into time buckets: what the charts draw, for
 * anyone who wants them. A bucket with nothing in it is left out (read it as zero).
 */
export const STATS_RANGES = {
  hour: { spanMs: 60 * 60_000, bucketMs: 60_000 },
  day: { spanMs: 24 * 60 * 60_000, bucketMs: 60_000 },
} as const;
export type StatsRange = keyof typeof STATS_RANGES;
/** How many failing webhooks the Overview lists. */
export const FAILING_WEBHOOKS_SHOWN = 5;

export const StatsQuerySchema = Type.Object(
  {
    range: Type.Optional(
      Type.Union([Type.Literal('hour'), Type.Literal('day')], {
        description: 'the last hour or the last day (default hour), in one-minute buckets',
      }),
    ),
  },
  { additionalProperties: false },
);

const BucketStart = Type.String({ description: 'start of the one-minute bucket (ISO 8601)' });

export const AttemptBucketSchema = Type.Object({
  at: BucketStart,
  succeeded: Type.Integer({ description: 'attempts answered 2xx' }),
  retried: Type.Integer({ description: 'failed attempts after which another try was scheduled' }),
  failed: Type.Integer({ description: 'failed attempts that used the retry budget up (the delivery failed)' }),
  p50Ms: Type.Integer({ description: 'median attempt duration (nearest rank)' }),
  p99Ms: Type.Integer({ description: '99th percentile attempt duration (nearest rank)' }),
});
export const MessageBucketSchema = Type.Object({
  at: BucketStart,
  sent: Type.Integer({ description: 'messages that reached Sent in this minute' }),
  delivered: Type.Integer({ description: 'messages that reached Delivered' }),
  failed: Type.Integer({ description: 'messages that reached Failed' }),
});
export const QueueBucketSchema = Type.Object({
  at: BucketStart,
  depth: Type.Integer({
    description: 'webhook deliveries waiting or in flight at the end of this minute (the last bucket: now)',
  }),
});
export const FailingWebhookSchema = Type.Object({
  webhookId: Type.String(),
  url: Type.String({ description: 'the URL of its most recent failing attempt' }),
  failures: Type.Integer({ description: 'failed attempts (retried or final) in the range' }),
  lastFailedAt: Type.String({ description: 'when the most recent one started (ISO 8601)' }),
  lastError: Type.String({ description: 'its error, or its HTTP status' }),
});

export const ActivityStatsSchema = Type.Object({
  range: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
  since: Type.String({ description: 'start of the first bucket (ISO 8601)' }),
  until: Type.String({ description: 'now (ISO 8601)' }),
  bucketSeconds: Type.Integer(),
  attempts: Type.Array(AttemptBucketSchema, { description: 'webhook delivery attempts by when they started' }),
  messages: Type.Array(MessageBucketSchema, { description: 'outgoing messages by when they reached a state' }),
  queueDepth: Type.Integer({ description: 'webhook deliveries waiting or in flight now' }),
  queue: Type.Array(QueueBucketSchema, {
    description:
      'queue depth over the range, every bucket: counted back from the depth now by the deliveries that entered (created) and left (finished) in each minute',
  }),
  failingWebhooks: Type.Array(FailingWebhookSchema, {
    description: `the webhooks with the most failed attempts in the range, at most ${FAILING_WEBHOOKS_SHOWN}`,
  }),
});
export type ActivityStats = Static<typeof ActivityStatsSchema>;
export type AttemptBucket = Static<typeof AttemptBucketSchema>;
export type MessageBucket = Static<typeof MessageBucketSchema>;
export type FailingWebhook = Static<typeof FailingWebhookSchema>;
export type QueueBucket = Static<typeof QueueBucketSchema>;

/** The time range of a stats request: whole buckets, the last one holding `now`. */
export function statsWindow(range: StatsRange, now: number): { since: number; until: number; bucketMs: number } {
  const { spanMs, bucketMs } = STATS_RANGES[range];
  const until = now;
  const since = Math.floor((now - spanMs) / bucketMs) * bucketMs + bucketMs;
  return { since, until, bucketMs };
}
