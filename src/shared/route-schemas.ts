import { Type } from '@sinclair/typebox';
import { IdString, ProcessStateSchema } from '../protocol/index.ts';

/**
 * Schemas that routes of both runtimes use and that are not part of the wire contract
 * (`src/protocol`): the shape of a path or a query, not of a document.
 */

/** `/…/:id`: the id of a webhook, message, delivery or device. */
export const IdParams = Type.Object({ id: IdString(64) });

/** `?limit=`: a page of at most 500, 50 when not given. */
export const PageLimit = Type.Integer({ minimum: 1, maximum: 500, default: 50 });

/** `?limit=` of the message and inbox lists: at most 100, 50 when not given. */
export const ListLimit = Type.Integer({ minimum: 1, maximum: 100, default: 50 });

/** `?offset=`: bounded, since a larger number is not an integer to the database. */
export const ListOffset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 });

/** `?sort=` of the message lists: by creation time, newest first unless `created_at`. */
export const MessageSortSchema = Type.Union([Type.Literal('created_at'), Type.Literal('-created_at')], {
  default: '-created_at',
});

/** `GET /messages` on the device and `GET /3rdparty/v1/messages` on the server take the same query. */
export const MessageListQuery = Type.Object({
  from: Type.Optional(Type.String({ description: 'ISO 8601; messages created at or after' })),
  to: Type.Optional(Type.String({ description: 'ISO 8601; messages created before' })),
  state: Type.Optional(ProcessStateSchema),
  deviceId: Type.Optional(IdString(64)),
  limit: Type.Optional(ListLimit),
  offset: Type.Optional(ListOffset),
  includeContent: Type.Optional(
    Type.Boolean({ default: false, description: "add each message's textMessage or dataMessage" }),
  ),
  sort: Type.Optional(MessageSortSchema),
});

/** The query of `POST /messages` on both runtimes. */
export const SendQuery = Type.Object({
  skipPhoneValidation: Type.Optional(
    Type.Boolean({ description: 'send to the numbers as given, without checking that they are phone numbers' }),
  ),
});
