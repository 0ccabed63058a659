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

/**
 * The fields every SMS and MMS payload shares. A field that would be null is left out. `phoneNumber`
 * is deprecated: it repeats `sender` for incoming messages and `recipient` for outgoing ones.
 */
interface IncomingFields {
  messageId: string;
  /** who sent it */
  sender: string;
  /** the receiving SIM's own number, when known */
  recipient?: string;
  /** 1-based SIM slot; absent when the platform does not say */
  simNumber?: number;
  /** @deprecated use `sender` */
  phoneNumber: string;
}
interface OutgoingFields {
  /** the id of the message */
  messageId: string;
  /** the sending SIM's own number, when known */
  sender?: string;
  /** the recipient this event is about */
  recipient: string;
  /** 1-based SIM slot; absent when the platform does not say */
  simNumber?: number;
  /** @deprecated use `recipient` */
  phoneNumber: string;
}

/** A received SMS. `messageId` is a content digest: identical texts share it. */
export interface SmsReceivedPayload extends IncomingFields {
  message: string;
  receivedAt: string;
}
/** A received data SMS; `data` is base64. */
export interface SmsDataReceivedPayload extends IncomingFields {
  data: string;
  receivedAt: string;
}
/** An MMS notification: the message is announced, not yet downloaded. */
export interface MmsReceivedPayload extends IncomingFields {
  transactionId: string;
  subject?: string;
  /** bytes */
  size: number;
  contentClass?: string;
  receivedAt: string;
}
export interface MmsAttachment {
  partId: number;
  contentType: string;
  name?: string;
  /** bytes */
  size: number;
  /** base64 */
  data?: string;
}
/** A downloaded MMS with its parts. */
export interface MmsDownloadedPayload extends IncomingFields {
  body?: string;
  subject?: string;
  attachments: MmsAttachment[];
  receivedAt: string;
}
export interface SimCard {
  /** 0-based physical slot */
  slotIndex: number;
  /** 1-based, as messages name it */
  simNumber: number;
  phoneNumber?: string;
  carrierName?: string;
  iccid?: string;
}

/** What each event's `payload` holds (after evaluation, so the type reads as plain objects). */
export type EventPayloads = Evaluate<{
  'sms:received': SmsReceivedPayload;
  'sms:data-received': SmsDataReceivedPayload;
  /** `partsCount`: how many SMS parts the text took */
  'sms:sent': OutgoingFields & { partsCount: number; sentAt: string };
  'sms:delivered': OutgoingFields & { deliveredAt: string };
  /** `reason`: Android-style, e.g. RESULT_ERROR_GENERIC_FAILURE */
  'sms:failed': OutgoingFields & { failedAt: string; reason: string };
  'sms:cancelled': OutgoingFields & { cancelledAt: string };
  'mms:received': MmsReceivedPayload;
  'mms:downloaded': MmsDownloadedPayload;
  'system:ping': { health: Health };
  /** once per device start */
  'app:started': { simCards: SimCard[] };
  'sms:batch:received': { messages: SmsReceivedPayload[] };
  'sms:batch:data-received': { messages: SmsDataReceivedPayload[] };
  'mms:batch:received': { messages: MmsReceivedPayload[] };
  'mms:batch:downloaded': { messages: MmsDownloadedPayload[] };
}>;
type Evaluate<T> = { [K in keyof T]: { [P in keyof T[K]]: T[K][P] } };

export type EventName = keyof EventPayloads;

/** The JSON body of every webhook request. `id` is the same on every retry: dedupe on it. */
export interface Envelope<E extends EventName = EventName> {
  deviceId: string;
  event: E;
  id: string;
  payload: EventPayloads[E];
  webhookId: string;
}

/** The events a device sends, in the order the docs list them; the last four are batches. */
export const WEBHOOK_EVENTS = [
  'sms:received',
  'sms:data-received',
  'sms:sent',
  'sms:delivered',
  'sms:failed',
  'sms:cancelled',
  'mms:received',
  'mms:downloaded',
  'system:ping',
  'app:started',
  'sms:batch:received',
  'sms:batch:data-received',
  'mms:batch:received',
  'mms:batch:downloaded',
] as const satisfies readonly EventName[];

/** How a payload key is checked; a kind ending in `?` may be absent (or null). */
type KeyKind = 'string' | 'string?' | 'integer' | 'sim?' | 'health' | 'array';

const incomingKeys = {
  messageId: 'string',
  sender: 'string',
  recipient: 'string?',
  simNumber: 'sim?',
  phoneNumber: 'string',
} as const;
const outgoingKeys = {
  messageId: 'string',
  sender: 'string?',
  recipient: 'string',
  simNumber: 'sim?',
  phoneNumber: 'string',
} as const;

/** The key that `phoneNumber` repeats: the sender of what came in, the recipient of what went out. */
const PARTY_KEY: Partial<Record<EventName, 'sender' | 'recipient'>> = {
  'sms:received': 'sender',
  'sms:data-received': 'sender',
  'mms:received': 'sender',
  'mms:downloaded': 'sender',
  'sms:sent': 'recipient',
  'sms:delivered': 'recipient',
  'sms:failed': 'recipient',
  'sms:cancelled': 'recipient',
};

/** Every key of each payload and what it must hold. Extra keys are allowed. */
export const PAYLOAD_KEYS: { [E in EventName]: Readonly<Record<keyof EventPayloads[E], KeyKind>> } = {
  'sms:received': { ...incomingKeys, message: 'string', receivedAt: 'string' },
  'sms:data-received': { ...incomingKeys, data: 'string', receivedAt: 'string' },
  'sms:sent': { ...outgoingKeys, partsCount: 'integer', sentAt: 'string' },
  'sms:delivered': { ...outgoingKeys, deliveredAt: 'string' },
  'sms:failed': { ...outgoingKeys, failedAt: 'string', reason: 'string' },
  'sms:cancelled': { ...outgoingKeys, cancelledAt: 'string' },
  'mms:received': {
    ...incomingKeys,
    transactionId: 'string',
    subject: 'string?',
    size: 'integer',
    contentClass: 'string?',
    receivedAt: 'string',
  },
  'mms:downloaded': {
    ...incomingKeys,
    body: 'string?',
    subject: 'string?',
    attachments: 'array',
    receivedAt: 'string',
  },
  'system:ping': { health: 'health' },
  'app:started': { simCards: 'array' },
  'sms:batch:received': { messages: 'array' },
  'sms:batch:data-received': { messages: 'array' },
  'mms:batch:received': { messages: 'array' },
  'mms:batch:downloaded': { messages: 'array' },
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

  // App versions before `sender` and `recipient` name the other party only in `phoneNumber`: the
  // parsed event gets it under its new name too, so code written for today's payloads reads both.
  const party = PARTY_KEY[event];
  if (party && !Object.hasOwn(payload, party) && typeof payload.phoneNumber === 'string') {
    return parseWebhook({ ...value, payload: { ...payload, [party]: payload.phoneNumber } });
  }

  for (const [key, kind] of Object.entries(PAYLOAD_KEYS[event]) as [string, KeyKind][]) {
    const path = `payload.${key}`;
    if (kind.endsWith('?') && (!Object.hasOwn(payload, key) || payload[key] === null)) continue;
    if (!Object.hasOwn(payload, key)) return failure('missing-key', `${event} payload has no "${key}"`, path);
    const problem = checkKind(payload[key], kind);
    if (problem) return failure('wrong-type', `"${path}" ${problem}, got ${kindOf(payload[key])}`, path);
  }
  return { ok: true, event: value as unknown as WebhookEvent };
}

function checkKind(value: unknown, kind: KeyKind): string | undefined {
  switch (kind) {
    case 'string':
    case 'string?':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'integer':
      return Number.isInteger(value) ? undefined : 'must be an integer';
    case 'sim?':
      // Absent (or null) when the platform does not say which SIM.
      return Number.isInteger(value) && (value as number) >= 1 ? undefined : 'must be a SIM number (1, 2, …)';
    case 'array':
      return Array.isArray(value) ? undefined : 'must be an array';
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
