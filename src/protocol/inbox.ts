import { Type, type Static } from '@sinclair/typebox';
import { IdString } from './ids.ts';

/** What kind of message the phone received, as the app and its clients name them. */
export const INCOMING_MESSAGE_TYPES = ['SMS', 'DATA_SMS', 'MMS', 'MMS_DOWNLOADED'] as const;
export type IncomingMessageType = (typeof INCOMING_MESSAGE_TYPES)[number];
export const IncomingMessageTypeSchema = Type.Union(INCOMING_MESSAGE_TYPES.map((t) => Type.Literal(t)));

/** One part of a received MMS, as `GET /inbox` lists it; `url` serves its bytes. */
export const InboxAttachmentRefSchema = Type.Object({
  partId: Type.Integer(),
  name: Type.String(),
  size: Type.Integer({ minimum: 0, description: 'bytes' }),
  contentType: Type.String(),
  url: Type.String({ description: 'the path of GET /inbox/{id}/attachments/{partId}' }),
});
export type InboxAttachmentRef = Static<typeof InboxAttachmentRefSchema>;

/** A received message in `GET /inbox` (the app's `IncomingMessage`; null fields left out). */
export const InboxMessageSchema = Type.Object({
  id: Type.String(),
  type: IncomingMessageTypeSchema,
  sender: Type.String(),
  recipient: Type.Optional(Type.String({ description: "the receiving SIM's own number, when known" })),
  simNumber: Type.Optional(Type.Integer({ minimum: 1 })),
  contentPreview: Type.String({ description: 'the text; base64 for a data SMS; the subject or text of an MMS' }),
  createdAt: Type.String({ description: 'when it was received, ISO 8601 with offset' }),
  attachments: Type.Optional(Type.Array(InboxAttachmentRefSchema, { description: 'with includeAttachments=true' })),
});
export type InboxMessage = Static<typeof InboxMessageSchema>;

/** How an inbox refresh announces what it finds again. */
export const WEBHOOK_DELIVERY_MODES = ['Individual', 'Batch', 'Disabled'] as const;
export type WebhookDelivery = (typeof WEBHOOK_DELIVERY_MODES)[number];
export const WebhookDeliverySchema = Type.Union(
  WEBHOOK_DELIVERY_MODES.map((m) => Type.Literal(m)),
  {
    description:
      'Individual: one event per message (sms:received, …); Batch: *:batch:* events of up to 100 messages; Disabled: none',
  },
);

/** `POST /inbox/refresh` (device and server): replay what was received in [since, until]. */
export const InboxRefreshRequestSchema = Type.Object(
  {
    deviceId: Type.Optional(IdString(64, { description: 'server: one device (default: all of yours)' })),
    since: Type.String({ description: 'ISO 8601; received at or after' }),
    until: Type.String({ description: 'ISO 8601; received at or before' }),
    messageTypes: Type.Optional(
      Type.Array(IncomingMessageTypeSchema, {
        minItems: 1,
        maxItems: 4,
        uniqueItems: true,
        description: 'default SMS',
      }),
    ),
    webhookDelivery: Type.Optional(WebhookDeliverySchema),
    triggerWebhooks: Type.Optional(
      Type.Boolean({ deprecated: true, description: 'use webhookDelivery: true is Individual, false Disabled' }),
    ),
  },
  { additionalProperties: false },
);
export type InboxRefreshRequest = Static<typeof InboxRefreshRequestSchema>;

/** The 202 of an inbox refresh: what was asked for, as understood. */
export const InboxRefreshAcceptedSchema = Type.Object({
  since: Type.String(),
  until: Type.String(),
  messageTypes: Type.Array(IncomingMessageTypeSchema),
  webhookDelivery: WebhookDeliverySchema,
  deviceIds: Type.Optional(Type.Array(Type.String(), { description: 'server: the devices asked' })),
  messages: Type.Optional(Type.Integer({ description: 'device: messages found in the window' })),
  events: Type.Optional(Type.Integer({ description: 'device: events recorded for them' })),
});
export type InboxRefreshAccepted = Static<typeof InboxRefreshAcceptedSchema>;

/**
 * The delivery a refresh asked for: `webhookDelivery`, else the legacy `triggerWebhooks` (true:
 * Individual), else `fallback` (Disabled for a refresh, as the app and its server default
 * `triggerWebhooks` to false; Individual for the deprecated export, which always sent them).
 */
export function refreshDelivery(
  request: { webhookDelivery?: WebhookDelivery; triggerWebhooks?: boolean },
  fallback: WebhookDelivery,
): WebhookDelivery {
  if (request.webhookDelivery !== undefined) return request.webhookDelivery;
  if (request.triggerWebhooks !== undefined) return request.triggerWebhooks ? 'Individual' : 'Disabled';
  return fallback;
}
