import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import type { InboxMessage as StoredInboxMessage } from '../store/inbox.ts';
import {
  ErrorBodySchema,
  IncomingMessageTypeSchema,
  InboxMessageSchema,
  type InboxMessage,
} from '../../protocol/index.ts';
import { InvalidInputError, NotFoundError } from '../../shared/errors.ts';
import { requireTimeRange } from '../../shared/iso-dates.ts';
import { inboxRefreshRoutes } from '../../shared/inbox-refresh-routes.ts';
import { IdParams, ListOffset, PageLimit } from '../../shared/route-schemas.ts';
import { formatInZone } from '../time-format.ts';

const tags = ['inbox'];

const InboxQuery = Type.Object({
  type: Type.Optional(IncomingMessageTypeSchema),
  sender: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'exactly as received' })),
  from: Type.Optional(Type.String({ description: 'ISO 8601; received at or after' })),
  to: Type.Optional(Type.String({ description: 'ISO 8601; received before' })),
  // the app's inbox pages go up to 500
  limit: Type.Optional(PageLimit),
  offset: Type.Optional(ListOffset),
  deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  includeAttachments: Type.Optional(
    Type.Boolean({ default: false, description: "add each MMS's parts, with the address of their bytes" }),
  ),
});

const AttachmentParams = Type.Object({
  id: IdParams.properties.id,
  partId: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
});

/** The text a list shows for a received message, as the app's `contentPreview`. */
function contentPreview(message: StoredInboxMessage): string {
  switch (message.type) {
    case 'SMS':
      return message.text ?? '';
    case 'DATA_SMS':
      return message.data?.toString('base64') ?? '';
    default:
      return message.subject ?? message.text ?? '';
  }
}

/** A part without a name is named after its number, so every part has a file name. */
const partName = (part: { partId: number; name: string | null }): string => part.name ?? `part-${part.partId}`;

/** A header-safe file name: what is not plain ASCII goes in `filename*` (RFC 6266), never raw. */
function contentDisposition(name: string): string {
  const plain = name.replace(/[^\w.\- ]/g, '_').slice(0, 200) || 'attachment';
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(name.slice(0, 200))}`;
}

/** `GET /inbox`, one message, and the bytes of an MMS part. */
export function inboxRoutes(app: App, ctx: DeviceContext): void {
  const toWire = (message: StoredInboxMessage, withParts: boolean): InboxMessage => ({
    id: message.id,
    type: message.type,
    sender: message.sender,
    ...(message.recipient !== null ? { recipient: message.recipient } : {}),
    ...(message.simNumber !== null ? { simNumber: message.simNumber } : {}),
    contentPreview: contentPreview(message),
    createdAt: formatInZone(message.receivedAt, ctx.timeZone),
    ...(withParts
      ? {
          attachments: ctx.inbox.parts(message).map((part) => ({
            ...part,
            name: partName(part),
            url: `/inbox/${encodeURIComponent(message.id)}/attachments/${part.partId}`,
          })),
        }
      : {}),
  });

  app.get(
    '/inbox',
    {
      config: { scope: 'inbox:list' },
      schema: {
        tags,
        summary: 'What this phone received (SMS, data SMS, MMS), newest first; X-Total-Count has the number of matches',
        operationId: 'listInbox',
        querystring: InboxQuery,
        response: { 200: Type.Array(InboxMessageSchema), 400: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (q.deviceId !== undefined && q.deviceId !== ctx.deviceId) {
        throw new InvalidInputError(
          `deviceId "${q.deviceId}" is not this device (${ctx.deviceId}); omit it or use that id`,
        );
      }
      const { items, total } = ctx.inbox.list(
        { type: q.type, sender: q.sender, ...requireTimeRange(q.from, q.to) },
        { limit: q.limit ?? 50, offset: q.offset ?? 0 },
      );
      return reply
        .header('x-total-count', String(total))
        .send(items.map((entry) => toWire(entry, q.includeAttachments === true)));
    },
  );

  app.get(
    '/inbox/:id',
    {
      config: { scope: 'inbox:list' },
      schema: {
        tags,
        summary: 'One received message, with its parts',
        operationId: 'getInboxMessage',
        params: IdParams,
        response: { 200: InboxMessageSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => {
      const entry = ctx.inbox.get(request.params.id);
      if (!entry) throw new NotFoundError(`no received message with id "${request.params.id}" on this device`);
      return toWire(entry, true);
    },
  );

  app.get(
    '/inbox/:id/attachments/:partId',
    {
      config: { scope: 'inbox:list' },
      schema: {
        tags,
        summary: 'The bytes of one part of a received MMS, with its content type',
        operationId: 'getInboxAttachment',
        params: AttachmentParams,
        produces: ['application/octet-stream'],
        response: {
          200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'the part, as received' }),
          404: ErrorBodySchema,
        },
      },
    },
    async (request, reply) => {
      const { id, partId } = request.params;
      const part = ctx.inbox.part(id, partId);
      if (!part) throw new NotFoundError(`no part ${partId} of a received message "${id}" on this device`);
      return reply
        .header('content-type', part.contentType)
        .header('content-disposition', contentDisposition(partName(part)))
        .header('x-content-type-options', 'nosniff')
        .send(part.data);
    },
  );

  // POST /inbox/refresh, and the path the app had for it first (deprecated, same body)
  inboxRefreshRoutes(app, {
    summary: 'Announce again what was received in [since, until], as webhooks (Individual or Batch) or not at all',
    deprecated: [{ path: '/messages/inbox/export', operationId: 'exportInbox' }],
    deprecatedScope: 'inbox:refresh',
    successor: '/inbox/refresh',
    refresh: async ({ deviceId, ...asked }) => {
      if (deviceId !== undefined && deviceId !== ctx.deviceId) {
        throw new InvalidInputError(
          `deviceId "${deviceId}" is not this device (${ctx.deviceId}); omit it or use that id`,
        );
      }
      return ctx.inboxReplay.refresh(asked);
    },
  });
}
