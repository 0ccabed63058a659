import { Type, type Static } from '@sinclair/typebox';
import { IdString } from './ids.ts';
import { DataMessageSchema, ProcessStateSchema, TextMessageSchema, type ProcessState } from './messages.ts';

/**
 * The mobile API's message exchange (server ↔ device), one definition for the server's route
 * schemas and types and for the device's client.
 */

/**
 * A SIM card as a phone reports it on register and `PATCH /mobile/v1/device`: the `SimCard` of
 * the events, bounded, and with `null` for what the phone does not know (the server keeps only
 * the values, so devices are listed with the events' shape).
 */
export const ReportedSimCardSchema = Type.Object(
  {
    slotIndex: Type.Integer({ minimum: 0, maximum: 255 }),
    simNumber: Type.Integer({ minimum: 1, maximum: 255 }),
    phoneNumber: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    carrierName: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    iccid: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  },
  { additionalProperties: true },
);
export type ReportedSimCard = Static<typeof ReportedSimCardSchema>;
export const ReportedSimCardsSchema = Type.Array(ReportedSimCardSchema, { maxItems: 8 });

/** One message of `GET /mobile/v1/message` (the original's MobileMessage shape). */
export const MobileMessageSchema = Type.Object({
  id: Type.String(),
  message: Type.Optional(Type.String({ description: 'deprecated: the text again (absent for a data SMS)' })),
  textMessage: Type.Optional(TextMessageSchema),
  dataMessage: Type.Optional(DataMessageSchema),
  phoneNumbers: Type.Array(Type.String()),
  simNumber: Type.Union([Type.Integer(), Type.Null()]),
  withDeliveryReport: Type.Boolean(),
  isEncrypted: Type.Boolean(),
  priority: Type.Integer(),
  validUntil: Type.Union([Type.String(), Type.Null()]),
  scheduleAt: Type.Union([Type.String(), Type.Null()], { description: 'the device holds the message until then' }),
  state: ProcessStateSchema,
  createdAt: Type.String(),
});

/** How many messages one `GET /mobile/v1/message` hands out at most; a device pulls again after reporting them. */
export const PULL_LIMIT = 100;

/**
 * The `order` of `GET /mobile/v1/message`: after priority (highest first), oldest first (fifo) or
 * newest first (lifo, the default, as in the original's server).
 */
export const PULL_ORDERS = ['lifo', 'fifo'] as const;
export type PullOrder = (typeof PULL_ORDERS)[number];
export const PullQuerySchema = Type.Object({
  order: Type.Optional(
    Type.Union(
      PULL_ORDERS.map((o) => Type.Literal(o)),
      { default: 'lifo', description: 'after priority: lifo (newest first, the default) or fifo (oldest first)' },
    ),
  ),
});

/** The body of `PATCH /mobile/v1/message`: the device's state reports. */
export const StateReportSchema = Type.Array(
  Type.Object(
    {
      id: IdString(36),
      state: ProcessStateSchema,
      recipients: Type.Array(
        Type.Object({
          phoneNumber: Type.String({ minLength: 1, maxLength: 512 }),
          state: ProcessStateSchema,
          error: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
        }),
        { maxItems: 100 },
      ),
      states: Type.Optional(Type.Record(Type.String(), Type.String())),
    },
    // devices also send deviceId, isHashed, isEncrypted: accepted and ignored
    { additionalProperties: true },
  ),
  { maxItems: 1000 },
);

export type MobileMessage = Static<typeof MobileMessageSchema>;
/**
 * One item of `PATCH /mobile/v1/message`. The server never moves a state backwards. The schema
 * accepts any key in `states`; devices send state names, which the type says.
 */
export type MessageReport = Omit<Static<typeof StateReportSchema>[number], 'states'> & {
  states?: Partial<Record<ProcessState, string>>;
};
