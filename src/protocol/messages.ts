import { Type, type Static } from '@sinclair/typebox';

export const PROCESS_STATES = ['Pending', 'Processed', 'Sent', 'Delivered', 'Failed'] as const;
export type ProcessState = (typeof PROCESS_STATES)[number];

/** How far along a state is; a report never moves a message or recipient backwards. */
export const STATE_RANK: Record<ProcessState, number> = { Pending: 0, Processed: 1, Sent: 2, Delivered: 3, Failed: 3 };

export const ProcessStateSchema = Type.Union(PROCESS_STATES.map((s) => Type.Literal(s)));

const PhoneNumber = Type.String({ minLength: 1, maxLength: 32 });

export const SendMessageSchema = Type.Object(
  {
    id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 36 }), Type.Null()])),
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 65535 })),
    textMessage: Type.Optional(Type.Object({ text: Type.String({ minLength: 1, maxLength: 65535 }) })),
    phoneNumbers: Type.Array(PhoneNumber, { minItems: 1, maxItems: 100 }),
    simNumber: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 255 }), Type.Null()])),
    withDeliveryReport: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    ttl: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    validUntil: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    priority: Type.Optional(Type.Union([Type.Integer({ minimum: -128, maximum: 127 }), Type.Null()])),
    isEncrypted: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    deviceId: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: true },
);
export type SendMessage = Static<typeof SendMessageSchema>;

/** The text of a send request: `message` or `textMessage.text`, exactly one of them. */
export function messageText(request: SendMessage): { text: string } | { error: string } {
  const plain = request.message;
  const nested = request.textMessage?.text;
  if (plain !== undefined && nested !== undefined) return { error: 'give either message or textMessage, not both' };
  const text = plain ?? nested;
  if (text === undefined) return { error: 'message (or textMessage.text) is required' };
  return { text };
}

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
});
export type MessageState = Static<typeof MessageStateSchema>;

/**
 * A message's overall state from its recipients': Pending until handed over, Sent once every
 * recipient left the device, and final only when every recipient is final (Failed wins).
 */
export function aggregateState(recipients: readonly { state: ProcessState }[], processed: boolean): ProcessState {
  if (recipients.every((r) => r.state === 'Delivered' || r.state === 'Failed')) {
    return recipients.some((r) => r.state === 'Failed') ? 'Failed' : 'Delivered';
  }
  if (recipients.every((r) => STATE_RANK[r.state] >= STATE_RANK.Sent)) return 'Sent';
  return processed ? 'Processed' : 'Pending';
}
