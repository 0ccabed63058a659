import { Type, type Static } from '@sinclair/typebox';
import { EVENT_NAMES } from './events.ts';
import { IdString } from './ids.ts';
import { redactUrl } from './redact.ts';

export const WEBHOOK_SOURCES = ['Local', 'Cloud'] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

export const EventNameSchema = Type.Union(
  EVENT_NAMES.map((name) => Type.Literal(name)),
  { description: 'one of ' + EVENT_NAMES.join(', ') },
);

export const RegisterWebhookSchema = Type.Object(
  {
    id: Type.Optional(
      Type.Union([IdString(36, { allowEmpty: true }), Type.Null()], {
        description: 'absent, null or "" generates one; an existing id replaces that webhook',
      }),
    ),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    event: EventNameSchema,
    deviceId: Type.Optional(Type.Union([IdString(64), Type.Null()])),
  },
  { additionalProperties: false },
);
export type RegisterWebhook = Static<typeof RegisterWebhookSchema>;

export const WebhookSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  event: EventNameSchema,
  deviceId: Type.Union([Type.String(), Type.Null()]),
  source: Type.Optional(Type.Union(WEBHOOK_SOURCES.map((s) => Type.Literal(s)))),
});
export type Webhook = Static<typeof WebhookSchema>;

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  if (LOOPBACK_HOSTS.has(hostname.toLowerCase())) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * The URL rule for webhook targets: absolute https, or http to a loopback host.
 * `allowInsecureHttp` (the device's insecure-http setting) lifts the https rule for LAN testing.
 * Returns an error message naming the problem, or null when the URL is acceptable.
 */
export function checkWebhookUrl(raw: string, options: { allowInsecureHttp?: boolean } = {}): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `url must be an absolute URL such as https://example.com/webhook, got "${redactUrl(raw).slice(0, 100)}"`;
  }
  // new URL() quietly trims spaces and drops tabs and newlines; a URL that has them is a mistake
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\u0000-\u0020\u007f]/.test(raw)) return 'url must not contain spaces or control characters';
  if (url.port === '0') return 'url must not use port 0: nothing can listen there';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') {
    if (options.allowInsecureHttp || isLoopbackHost(url.hostname)) return null;
    return 'url must use https:// (http:// is accepted only for loopback hosts, or with the insecure-http setting)';
  }
  return `url must use https:// (got ${url.protocol.replace(':', '')}://)`;
}

/** The answer to a test event request: the event recorded and its one delivery, to follow in /deliveries. */
export const WebhookTestReplySchema = Type.Object({
  eventId: Type.String(),
  deliveryId: Type.String({ description: 'GET /deliveries/{id} shows its attempts' }),
});
