import { Type, type Static } from '@sinclair/typebox';
import { IdString } from './ids.ts';

/**
 * A message's states. `Cancelling`: the server was asked to cancel a Pending message and waits for
 * the phone to confirm (`Cancelled`) or to report that it was already on its way (`Processed`, `Sent`…).
 * `Cancelled` is final: the message never left the phone.
 */
export const PROCESS_STATES = [
  'Pending',
  'Cancelling',
  'Processed',
  'Sent',
  'Delivered',
  'Failed',
  'Cancelled',
] as const;
export type ProcessState = (typeof PROCESS_STATES)[number];

/** How far along a state is; a report never moves a message or recipient backwards. */
export const STATE_RANK: Record<ProcessState, number> = {
  Pending: 0,
  // not past Pending: whatever the phone reports next (it had already taken the message, or it
  // confirms the cancel) replaces it
  Cancelling: 0,
  Processed: 1,
  Sent: 2,
  Delivered: 3,
  Failed: 3,
  Cancelled: 3,
};

export const ProcessStateSchema = Type.Union(PROCESS_STATES.map((s) => Type.Literal(s)));

/** Up to 128 characters: an encrypted number is much longer than a plain one. */
const PhoneNumber = Type.String({ minLength: 1, maxLength: 128 });

export const TextMessageSchema = Type.Object({ text: Type.String({ maxLength: 65535 }) });
export const DataMessageSchema = Type.Object({
  data: Type.String({ maxLength: 65535, description: 'the bytes to send, base64' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, description: 'the destination port of the data SMS' }),
});
/** A message's content: a text, or bytes for a port (a data SMS). */
export type MessageContent =
  { textMessage: Static<typeof TextMessageSchema> } | { dataMessage: Static<typeof DataMessageSchema> };

/** The longest `ttl` accepted: ten years is past any SMS worth sending, and far inside what a date can hold. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

// ISO 8601 / RFC 3339: a date, then optionally a time (after T or a space) with optional seconds,
// fraction and offset. A date alone is its midnight UTC.
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/i;

/**
 * An ISO 8601 date-time (e.g. 2030-01-01T00:00:00Z) as Unix milliseconds, or undefined. Stricter
 * than Date.parse, which reads "March 7" or "1" as dates and rolls 30 February over to March.
 */
export function parseIsoDateTime(value: string): number | undefined {
  const parts = ISO_DATE_TIME.exec(value);
  if (!parts) return undefined;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map((part) => Number(part ?? 0));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59)
    return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export const SendMessageSchema = Type.Object(
  {
    id: Type.Optional(
      Type.Union([
        IdString(36, { allowEmpty: true, description: 'absent, null or "" to get a generated id' }),
        Type.Null(),
      ]),
    ),
    message: Type.Optional(
      Type.Union([Type.String({ maxLength: 65535, description: 'deprecated: use textMessage' }), Type.Null()]),
    ),
    textMessage: Type.Optional(Type.Union([TextMessageSchema, Type.Null()])),
    dataMessage: Type.Optional(Type.Union([DataMessageSchema, Type.Null()])),
    phoneNumbers: Type.Array(PhoneNumber, { minItems: 1, maxItems: 100 }),
    simNumber: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 255 }), Type.Null()])),
    withDeliveryReport: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    ttl: Type.Optional(
      Type.Union([
        Type.Integer({
          minimum: 0,
          maximum: MAX_TTL_SECONDS,
          description: 'seconds the message may wait to be sent (at most ten years); not with validUntil',
        }),
        Type.Null(),
      ]),
    ),
    validUntil: Type.Optional(
      Type.Union([Type.String({ description: 'ISO 8601 date-time; not with ttl' }), Type.Null()]),
    ),
    scheduleAt: Type.Optional(
      Type.Union([
        Type.String({ description: 'ISO 8601 date-time: the message is held until then (past or absent: now)' }),
        Type.Null(),
      ]),
    ),
    priority: Type.Optional(
      Type.Union([
        Type.Integer({ minimum: -128, maximum: 127, description: 'higher goes first; 100 and above skip limits' }),
        Type.Null(),
      ]),
    ),
    isEncrypted: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    deviceId: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: true },
);
export type SendMessage = Static<typeof SendMessageSchema>;

/** The refusal of a cancel whose message is past Pending. */
export const notPendingMessage = (id: string, state: ProcessState): string =>
  `message "${id}" is ${state}, not Pending: only a Pending message can be cancelled`;

/** Clients match these words (detail may follow them). */
export const DUPLICATE_MESSAGE_ID = 'message with the same ID already exists';
/**
 * A number named twice: the original server's validator's words, whole, since its own test suite and
 * clients compare the message for equality (it names the field and the rule; no detail may follow).
 */
export const DUPLICATE_PHONE_NUMBERS =
  "failed to validate: Key: 'Message.PhoneNumbers' Error:Field validation for 'PhoneNumbers' failed on the 'unique' tag";

export const RecipientStateSchema = Type.Object({
  phoneNumber: Type.String(),
  state: ProcessStateSchema,
  error: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type RecipientState = Static<typeof RecipientStateSchema>;

export const MessageStateSchema = Type.Object({
  id: Type.String(),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  state: ProcessStateSchema,
  isHashed: Type.Boolean(),
  isEncrypted: Type.Boolean(),
  recipients: Type.Array(RecipientStateSchema),
  states: Type.Record(Type.String(), Type.String()),
  textMessage: Type.Optional(
    Type.Object({ text: Type.String() }, { description: 'the content; in lists only with includeContent=true' }),
  ),
  dataMessage: Type.Optional(
    Type.Object(
      { data: Type.String(), port: Type.Integer() },
      { description: 'the content of a data SMS; in lists only with includeContent=true' },
    ),
  ),
  hashedMessage: Type.Optional(
    Type.Object(
      { hash: Type.String() },
      { description: 'isHashed: the SHA-256 (hex) of the text or data, all the server kept of it' },
    ),
  ),
});
export type MessageState = Static<typeof MessageStateSchema>;

/**
 * A message's overall state from its recipients': Pending until handed over, Sent once every
 * recipient left the device, and final only when every recipient is final (Failed wins; Cancelled
 * only when every recipient was cancelled).
 */
export function aggregateState(recipients: readonly { state: ProcessState }[], processed: boolean): ProcessState {
  if (recipients.every((r) => r.state === 'Delivered' || r.state === 'Failed' || r.state === 'Cancelled')) {
    if (recipients.some((r) => r.state === 'Failed')) return 'Failed';
    return recipients.every((r) => r.state === 'Cancelled') ? 'Cancelled' : 'Delivered';
  }
  if (recipients.every((r) => STATE_RANK[r.state] >= STATE_RANK.Sent)) return 'Sent';
  return processed ? 'Processed' : 'Pending';
}
