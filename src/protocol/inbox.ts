import { Type, type Static } from '@sinclair/typebox';

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
