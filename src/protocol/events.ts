import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** Every event the device emits. The order is the order the docs list them in. */
export const EVENT_NAMES = ['sms:received', 'sms:sent', 'sms:delivered', 'sms:failed', 'system:ping'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (EVENT_NAMES as readonly string[]).includes(value);
}

const SimNumber = Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
  description: '1-based SIM slot, or null when the platform does not say',
});
const Timestamp = Type.String({ description: 'ISO 8601 with milliseconds and offset, in the device time zone' });

export const HealthCheckSchema = Type.Object({
  description: Type.String(),
  observedValue: Type.Number(),
  observedUnit: Type.String(),
  status: Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')]),
});
export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')]),
  version: Type.String(),
  releaseId: Type.Integer(),
  checks: Type.Record(Type.String(), HealthCheckSchema),
});
export type Health = Static<typeof HealthSchema>;
export type HealthCheck = Static<typeof HealthCheckSchema>;

/** Payload schema per event: the single source for types, API docs and tests. */
export const PAYLOAD_SCHEMAS = {
  'sms:received': Type.Object({
    messageId: Type.String({ description: 'content digest; identical texts share it, so it is not unique' }),
    message: Type.String(),
    phoneNumber: Type.String({ description: 'sender' }),
    simNumber: SimNumber,
    receivedAt: Timestamp,
  }),
  'sms:sent': Type.Object({
    messageId: Type.String(),
    phoneNumber: Type.String({ description: 'recipient' }),
    simNumber: SimNumber,
    sentAt: Timestamp,
  }),
  'sms:delivered': Type.Object({
    messageId: Type.String(),
    phoneNumber: Type.String(),
    simNumber: SimNumber,
    deliveredAt: Timestamp,
  }),
  'sms:failed': Type.Object({
    messageId: Type.String(),
    phoneNumber: Type.String(),
    simNumber: SimNumber,
    failedAt: Timestamp,
    reason: Type.String({ description: 'Android-style failure reason, e.g. RESULT_ERROR_GENERIC_FAILURE' }),
  }),
  'system:ping': Type.Object({ health: HealthSchema }),
} as const satisfies Record<EventName, TSchema>;

export type EventPayloads = { [E in EventName]: Static<(typeof PAYLOAD_SCHEMAS)[E]> };
export type EventPayload<E extends EventName = EventName> = EventPayloads[E];

/** The keys each payload must carry (extra keys are allowed on the wire). */
export const REQUIRED_PAYLOAD_KEYS: { [E in EventName]: readonly string[] } = Object.fromEntries(
  EVENT_NAMES.map((name) => [name, Object.keys(PAYLOAD_SCHEMAS[name].properties)]),
) as unknown as { [E in EventName]: readonly string[] };

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
