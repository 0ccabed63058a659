// The wire format of a webhook, declared here so that the SDK needs nothing beyond the language.
// The device builds its events from TypeBox schemas in src/protocol/events.ts; a type test
// (test/receiver/parse.test.ts) fails the type check when the two drift apart.

/** A health verdict, as in `GET /health`. */
export type HealthStatus = 'pass' | 'warn' | 'fail';

export interface HealthCheck {
  description: string;
  observedValue: number;
  observedUnit: string;
  status: HealthStatus;
}

/** The `system:ping` payload's `health`: the device's `GET /health` answer. */
export interface Health {
  status: HealthStatus;
  version: string;
  releaseId: number;
  checks: Record<string, HealthCheck>;
}

/** What each event's `payload` holds. Timestamps are ISO 8601 in the device's time zone. */
export interface EventPayloads {
  'sms:received': {
    messageId: string;
    message: string;
    phoneNumber: string;
    /** 1-based SIM slot, or null when the platform does not say */
    simNumber: number | null;
    receivedAt: string;
  };
  'sms:sent': { messageId: string; phoneNumber: string; simNumber: number | null; sentAt: string };
  'sms:delivered': { messageId: string; phoneNumber: string; simNumber: number | null; deliveredAt: string };
  'sms:failed': {
    messageId: string;
    phoneNumber: string;
    simNumber: number | null;
    failedAt: string;
    /** Android-style failure reason, e.g. RESULT_ERROR_GENERIC_FAILURE */
    reason: string;
  };
  'system:ping': { health: Health };
}

export type EventName = keyof EventPayloads;

/** The JSON body of every webhook request. `id` is the same on every retry: dedupe on it. */
export interface Envelope<E extends EventName = EventName> {
  deviceId: string;
  event: E;
  id: string;
  payload: EventPayloads[E];
  webhookId: string;
}

/** The five events a device sends, in the order the docs list them. */
export const WEBHOOK_EVENTS = [
  'sms:received',
  'sms:sent',
  'sms:delivered',
  'sms:failed',
  'system:ping',
] as const satisfies readonly EventName[];

type KeyKind = 'string' | 'sim' | 'health';

/** The keys each payload must carry and what each must hold. Extra keys are allowed. */
export const PAYLOAD_KEYS: { [E in EventName]: Readonly<Record<keyof EventPayloads[E], KeyKind>> } = {
  'sms:received': {
    messageId: 'string',
    message: 'string',
    phoneNumber: 'string',
    simNumber: 'sim',
    receivedAt: 'string',
  },
  'sms:sent': { messageId: 'string', phoneNumber: 'string', simNumber: 'sim', sentAt: 'string' },
  'sms:delivered': { messageId: 'string', phoneNumber: 'string', simNumber: 'sim', deliveredAt: 'string' },
  'sms:failed': { messageId: 'string', phoneNumber: 'string', simNumber: 'sim', failedAt: 'string', reason: 'string' },
  'system:ping': { health: 'health' },
};

/** One webhook request, narrowed by `event`: `if (e.event === 'sms:failed') e.payload.reason`. */
export type WebhookEvent = { [E in EventName]: Envelope<E> }[EventName];
export type WebhookEventOf<E extends EventName> = Envelope<E>;

export type WebhookParseErrorCode = 'invalid-json' | 'not-an-object' | 'unknown-event' | 'missing-key' | 'wrong-type';

/** Why a body is not a webhook this SDK understands. `key` names the offending field, e.g. "payload.simNumber". */
export class WebhookParseError extends Error {
  override name = 'WebhookParseError';
  constructor(
    readonly code: WebhookParseErrorCode,
    message: string,
    readonly key?: string,
  ) {
    super(message);
  }
}

export type ParseResult = { ok: true; event: WebhookEvent } | { ok: false; error: WebhookParseError };

export function isWebhookEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(value);
}

// ignoreBOM keeps a byte-order mark in the text, so such a body is not JSON, as with Buffer#toString.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

// `event` first: for a body of some other kind, "unknown event" says more than a missing id.
const ENVELOPE_STRING_KEYS = ['event', 'deviceId', 'id', 'webhookId'] as const;

/**
 * Turn a webhook body (raw text or bytes, or JSON you already parsed) into a typed event.
 * Never throws: a bad body comes back as `{ ok: false, error }`. Verify the signature on the
 * raw bytes first; parsing is for after you trust the request.
 */
export function parseWebhook(body: string | Uint8Array | object): ParseResult {
  let value: unknown = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : utf8.decode(body);
    try {
      value = JSON.parse(text);
    } catch (error) {
      return failure('invalid-json', `the body is not JSON: ${(error as Error).message}`);
    }
  }
  if (!isPlainObject(value)) return failure('not-an-object', `the body must be a JSON object, got ${kindOf(value)}`);

  for (const key of ENVELOPE_STRING_KEYS) {
    if (!Object.hasOwn(value, key)) return failure('missing-key', `the envelope has no "${key}"`, key);
    if (typeof value[key] !== 'string')
      return failure('wrong-type', `"${key}" must be a string, got ${kindOf(value[key])}`, key);
    if (key === 'event' && !isWebhookEventName(value.event)) {
      return failure(
        'unknown-event',
        `unknown event ${JSON.stringify(value.event)}; expected one of ${WEBHOOK_EVENTS.join(', ')}`,
        'event',
      );
    }
  }
  const event = value.event as EventName;
  if (!Object.hasOwn(value, 'payload')) return failure('missing-key', `the envelope has no "payload"`, 'payload');
  const payload = value.payload;
  if (!isPlainObject(payload))
    return failure('wrong-type', `"payload" must be an object, got ${kindOf(payload)}`, 'payload');

  for (const [key, kind] of Object.entries(PAYLOAD_KEYS[event]) as [string, KeyKind][]) {
    const path = `payload.${key}`;
    if (!Object.hasOwn(payload, key)) return failure('missing-key', `${event} payload has no "${key}"`, path);
    const problem = checkKind(payload[key], kind);
    if (problem) return failure('wrong-type', `"${path}" ${problem}, got ${kindOf(payload[key])}`, path);
  }
  return { ok: true, event: value as unknown as WebhookEvent };
}

function checkKind(value: unknown, kind: KeyKind): string | undefined {
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'sim':
      // The key is always there; null means the platform did not say which SIM.
      return value === null || (Number.isInteger(value) && (value as number) >= 1)
        ? undefined
        : 'must be a SIM number (1, 2, …) or null';
    case 'health':
      return isPlainObject(value) && typeof value.status === 'string' && isPlainObject(value.checks)
        ? undefined
        : 'must be a health report with "status" and "checks"';
  }
}

function failure(code: WebhookParseErrorCode, message: string, key?: string): ParseResult {
  return { ok: false, error: new WebhookParseError(code, message, key) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 30 ? value.slice(0, 30) + '…' : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
