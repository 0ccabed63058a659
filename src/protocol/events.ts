import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { WEBHOOK_EVENTS } from 'smsgate-receiver';

/**
 * Every event a device emits, in the order the docs list them. The four batch events carry many
 * messages in one request; the inbox refresh fires them. The receiver SDK (smsgate-receiver, which
 * receivers install alone) owns the list; the runtimes take it from there, so the two cannot drift.
 */
export const EVENT_NAMES = WEBHOOK_EVENTS;
export type EventName = (typeof EVENT_NAMES)[number];

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (EVENT_NAMES as readonly string[]).includes(value);
}

const SimNumber = Type.Integer({
  minimum: 1,
  description: '1-based SIM slot; absent when the platform does not say',
});
const Timestamp = Type.String({ description: 'ISO 8601 with milliseconds and offset, in the device time zone' });

/**
 * How large a health document may be: a device reports a dozen checks, each a few words. Keys
 * outside the schema are taken but not kept (a newer app may add some).
 */
export const HEALTH_LIMITS = { checks: 64, checkNameChars: 64, descriptionChars: 256, unitChars: 64, versionChars: 64 };

export const HealthCheckSchema = Type.Object({
  description: Type.String({ maxLength: HEALTH_LIMITS.descriptionChars }),
  observedValue: Type.Number(),
  observedUnit: Type.String({ maxLength: HEALTH_LIMITS.unitChars }),
  status: Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')]),
});
export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')]),
  version: Type.String({ maxLength: HEALTH_LIMITS.versionChars }),
  releaseId: Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 }),
  checks: Type.Record(Type.String(), HealthCheckSchema, {
    maxProperties: HEALTH_LIMITS.checks,
    propertyNames: { minLength: 1, maxLength: HEALTH_LIMITS.checkNameChars },
    description: `at most ${HEALTH_LIMITS.checks}, named in at most ${HEALTH_LIMITS.checkNameChars} characters`,
  }),
});

/** The known fields of a health document, and only those: what is kept of a report. */
export function knownHealthFields(health: Health): Health {
  const checks: Health['checks'] = {};
  for (const [name, check] of Object.entries(health.checks)) {
    const { description, observedValue, observedUnit, status } = check;
    checks[name] = { description, observedValue, observedUnit, status };
  }
  return { status: health.status, version: health.version, releaseId: health.releaseId, checks };
}
export type Health = Static<typeof HealthSchema>;
export type HealthCheck = Static<typeof HealthCheckSchema>;

/*
 * Payloads follow the app's serialisation: a null field is left out, never sent as null. Every SMS
 * and MMS payload names both ends (`sender`, `recipient`) and keeps the deprecated `phoneNumber`:
 * the sender for incoming messages, the recipient for outgoing ones.
 */
const PhoneNumber = (role: string) =>
  Type.String({ deprecated: true, description: `deprecated, use ${role}: the same number` });
const incoming = {
  messageId: Type.String(),
  sender: Type.String({ description: 'who sent it' }),
  recipient: Type.Optional(Type.String({ description: "the receiving SIM's own number, when known" })),
  simNumber: Type.Optional(SimNumber),
  phoneNumber: PhoneNumber('sender'),
};
const outgoing = {
  messageId: Type.String({ description: 'the id of the message' }),
  sender: Type.Optional(Type.String({ description: "the sending SIM's own number, when known" })),
  recipient: Type.String({ description: 'the recipient this event is about' }),
  simNumber: Type.Optional(SimNumber),
  phoneNumber: PhoneNumber('recipient'),
};

export const SimCardSchema = Type.Object({
  slotIndex: Type.Integer({ minimum: 0, description: '0-based physical slot' }),
  simNumber: Type.Integer({ minimum: 1, description: '1-based SIM number, as messages name it' }),
  phoneNumber: Type.Optional(Type.String({ description: "the SIM's own number, when known" })),
  carrierName: Type.Optional(Type.String()),
  iccid: Type.Optional(Type.String()),
});
export type SimCard = Static<typeof SimCardSchema>;

export const MmsAttachmentSchema = Type.Object({
  partId: Type.Integer(),
  contentType: Type.String(),
  name: Type.Optional(Type.String()),
  size: Type.Integer({ minimum: 0, description: 'bytes' }),
  data: Type.Optional(Type.String({ description: 'the content, base64' })),
});
export type MmsAttachment = Static<typeof MmsAttachmentSchema>;

const SmsReceived = Type.Object({
  ...incoming,
  messageId: Type.String({ description: 'content digest; identical texts share it, so it is not unique' }),
  message: Type.String(),
  receivedAt: Timestamp,
});
const SmsDataReceived = Type.Object({
  ...incoming,
  messageId: Type.String({ description: 'content digest; identical data share it, so it is not unique' }),
  data: Type.String({ description: 'the data SMS body, base64' }),
  receivedAt: Timestamp,
});
const MmsReceived = Type.Object({
  ...incoming,
  messageId: Type.String({ description: 'the MMS id; the transaction id until it is downloaded' }),
  transactionId: Type.String(),
  subject: Type.Optional(Type.String()),
  size: Type.Integer({ minimum: 0, description: 'message size announced by the notification, bytes' }),
  contentClass: Type.Optional(Type.String()),
  receivedAt: Timestamp,
});
const MmsDownloaded = Type.Object({
  ...incoming,
  messageId: Type.String({ description: 'the MMS id' }),
  body: Type.Optional(Type.String({ description: 'the text parts' })),
  subject: Type.Optional(Type.String()),
  attachments: Type.Array(MmsAttachmentSchema),
  receivedAt: Timestamp,
});

/** Payload schema per event: the single source for types, API docs and tests. */
export const PAYLOAD_SCHEMAS = {
  'sms:received': SmsReceived,
  'sms:data-received': SmsDataReceived,
  'sms:sent': Type.Object({
    ...outgoing,
    partsCount: Type.Integer({
      description: 'SMS parts the text took (GSM-7: 160, or 153 each; UCS-2: 70, or 67 each)',
    }),
    sentAt: Timestamp,
  }),
  'sms:delivered': Type.Object({ ...outgoing, deliveredAt: Timestamp }),
  'sms:failed': Type.Object({
    ...outgoing,
    failedAt: Timestamp,
    reason: Type.String({ description: 'Android-style failure reason, e.g. RESULT_ERROR_GENERIC_FAILURE' }),
  }),
  'sms:cancelled': Type.Object({ ...outgoing, cancelledAt: Timestamp }),
  'mms:received': MmsReceived,
  'mms:downloaded': MmsDownloaded,
  'system:ping': Type.Object({ health: HealthSchema }),
  'app:started': Type.Object({ simCards: Type.Array(SimCardSchema, { description: 'the active SIM cards' }) }),
  'sms:batch:received': Type.Object({ messages: Type.Array(SmsReceived) }),
  'sms:batch:data-received': Type.Object({ messages: Type.Array(SmsDataReceived) }),
  'mms:batch:received': Type.Object({ messages: Type.Array(MmsReceived) }),
  'mms:batch:downloaded': Type.Object({ messages: Type.Array(MmsDownloaded) }),
} as const satisfies Record<EventName, TSchema>;

export type EventPayloads = { [E in EventName]: Static<(typeof PAYLOAD_SCHEMAS)[E]> };
export type EventPayload<E extends EventName = EventName> = EventPayloads[E];

/** The keys each payload must carry (extra keys are allowed on the wire). */
export const REQUIRED_PAYLOAD_KEYS: { [E in EventName]: readonly string[] } = Object.fromEntries(
  EVENT_NAMES.map((name) => [name, [...(PAYLOAD_SCHEMAS[name].required ?? [])]]),
) as unknown as { [E in EventName]: readonly string[] };

/** Every key each payload may carry: the required ones and those left out when null. */
export const PAYLOAD_KEYS_ALL: { [E in EventName]: readonly string[] } = Object.fromEntries(
  EVENT_NAMES.map((name) => [name, Object.keys(PAYLOAD_SCHEMAS[name].properties)]),
) as unknown as { [E in EventName]: readonly string[] };

/**
 * The name of an event's payload schema in the OpenAPI documents:
 * `sms:batch:data-received` → `SmsBatchDataReceivedPayload`.
 */
export function payloadSchemaName(event: EventName): string {
  const words = event.split(/[:-]/).map((word) => word[0].toUpperCase() + word.slice(1));
  return `${words.join('')}Payload`;
}

/** The envelope of one event, as JSON Schema, its payload given (inline or as a reference). */
export function envelopeSchema(event: EventName, payload: TSchema | { $ref: string }) {
  return Type.Object({
    deviceId: Type.String({
      description: "the device's id: its own on Local webhooks, the one the server gave it on Cloud webhooks",
    }),
    event: Type.Literal(event),
    id: Type.String({ description: 'the event id: the same on every retry of the event, so a receiver can dedupe' }),
    payload: payload as TSchema,
    webhookId: Type.String({ description: 'the id of the webhook this request delivers to' }),
  });
}

/** The JSON body of every webhook request, keys in the order they are serialised. */
export interface Envelope<E extends EventName = EventName> {
  deviceId: string;
  event: E;
  id: string;
  payload: EventPayload<E>;
  webhookId: string;
}

/**
 * Serialise an envelope. The payload arrives already serialised so that a delivery body is
 * built by concatenation, without re-encoding the payload for every webhook.
 */
export function serializeEnvelope(fields: {
  deviceId: string;
  event: EventName;
  id: string;
  payloadJson: string;
  webhookId: string;
}): string {
  return (
    `{"deviceId":${JSON.stringify(fields.deviceId)},"event":${JSON.stringify(fields.event)},` +
    `"id":${JSON.stringify(fields.id)},"payload":${fields.payloadJson},"webhookId":${JSON.stringify(fields.webhookId)}}`
  );
}
