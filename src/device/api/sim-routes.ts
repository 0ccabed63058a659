import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import { ErrorBodySchema } from '../../protocol/index.ts';
import type { IncomingMessage } from '../carrier/carrier.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';

const INCOMING_TYPES = ['SMS', 'DATA_SMS', 'MMS'] as const;
const MMS_FIELDS = ['subject', 'body', 'attachments', 'transactionId', 'contentClass'] as const;
const IncomingBody = Type.Object(
  {
    type: Type.Optional(
      Type.Union(
        INCOMING_TYPES.map((t) => Type.Literal(t)),
        { description: 'SMS (default), DATA_SMS (binary, to a port) or MMS (a notification, then the download)' },
      ),
    ),
    from: Type.String({ minLength: 1, maxLength: 32 }),
    simNumber: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 255 }), Type.Null()])),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 65535, description: 'SMS: the text' })),
    data: Type.Optional(Type.String({ minLength: 1, maxLength: 188, description: 'DATA_SMS: the body, base64' })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'DATA_SMS: the destination port' })),
    transactionId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'MMS: the transaction id (default: generated)' }),
    ),
    subject: Type.Optional(Type.String({ maxLength: 256, description: 'MMS' })),
    body: Type.Optional(Type.String({ maxLength: 65535, description: 'MMS: the text part' })),
    contentClass: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'MMS, e.g. IMAGE_BASIC' })),
    attachments: Type.Optional(
      Type.Array(
        Type.Object(
          {
            contentType: Type.String({ pattern: '^[\\w.+-]+/[\\w.+-]+$', maxLength: 128 }),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            data: Type.String({ maxLength: 700_000, description: 'the content, base64' }),
          },
          { additionalProperties: false },
        ),
        { maxItems: 10, description: 'MMS: its parts' },
      ),
    ),
  },
  { additionalProperties: false },
);
type Incoming = Static<typeof IncomingBody>;
const NetworkBody = Type.Object({ online: Type.Boolean() }, { additionalProperties: false });
const IncomingReply = Type.Object({
  inboxId: Type.String({ description: 'the message in the inbox' }),
  eventId: Type.String({ description: 'the event recorded: sms:received, sms:data-received or mms:received' }),
  deliveryIds: Type.Array(Type.String(), { description: 'one delivery per webhook that wants it' }),
});
const NetworkState = Type.Object({ online: Type.Boolean() });

/**
 * The simulation API of the virtual carrier, kept apart from the original API under /sim/v1:
 * it stands in for the radio network (incoming SMS, connectivity).
 */
export function simRoutes(app: App, ctx: DeviceContext): void {
  app.post(
    '/sim/v1/incoming',
    {
      config: { scope: 'simulation:write' },
      schema: {
        tags: ['simulation'],
        summary: 'An SMS, a data SMS or an MMS arrives',
        operationId: 'simulateIncomingSms',
        body: IncomingBody,
        response: { 202: IncomingReply, 400: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const received = await ctx.carrier.receive(incomingMessage(request.body));
      return reply
        .code(202)
        .send({ inboxId: received.inboxId, eventId: received.eventId, deliveryIds: received.deliveryIds });
    },
  );

  app.get(
    '/sim/v1/network',
    {
      config: { scope: 'devices:list' },
      schema: {
        tags: ['simulation'],
        summary: 'Simulated connectivity',
        operationId: 'getSimulatedNetwork',
        response: { 200: NetworkState },
      },
    },
    async () => ({ online: ctx.network.isOnline() }),
  );

  app.post(
    '/sim/v1/network',
    {
      config: { scope: 'simulation:write' },
      schema: {
        tags: ['simulation'],
        summary: 'Switch simulated connectivity',
        operationId: 'setSimulatedNetwork',
        body: NetworkBody,
        response: { 200: NetworkState },
      },
    },
    async (request) => {
      ctx.network.set(request.body.online);
      return { online: ctx.network.isOnline() };
    },
  );
}

/** The fields each type takes: a field of another type is a mistake worth naming. */
function incomingMessage(body: Incoming): IncomingMessage {
  const type = body.type ?? 'SMS';
  const simNumber = body.simNumber ?? 1;
  const foreign = (allowed: readonly string[]) =>
    Object.keys(body).filter((key) => !['type', 'from', 'simNumber', ...allowed].includes(key));
  if (type === 'SMS') {
    const extra = foreign(['text']);
    if (extra.length)
      throw new InvalidInputError(`${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not for type SMS`);
    if (body.text === undefined) throw new InvalidInputError('text is required for type SMS');
    return { type, from: body.from, simNumber, text: body.text };
  }
  if (type === 'DATA_SMS') {
    const extra = foreign(['data', 'port']);
    if (extra.length)
      throw new InvalidInputError(`${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not for type DATA_SMS`);
    if (body.data === undefined || body.port === undefined)
      throw new InvalidInputError('data (base64) and port (0-65535) are required for type DATA_SMS');
    const data = decodeBase64(body.data, 'data');
    if (data.length > 133) throw new InvalidInputError(`data is ${data.length} bytes; a data SMS holds at most 133`);
    return { type, from: body.from, simNumber, data, port: body.port };
  }
  const extra = foreign(MMS_FIELDS);
  if (extra.length)
    throw new InvalidInputError(`${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not for type MMS`);
  const attachments = (body.attachments ?? []).map((part, index) => {
    decodeBase64(part.data, `attachments[${index}].data`);
    return { contentType: part.contentType, name: part.name ?? null, data: part.data };
  });
  if (!body.body && attachments.length === 0)
    throw new InvalidInputError('an MMS needs a body or at least one attachment');
  return {
    type,
    from: body.from,
    simNumber,
    transactionId: body.transactionId ?? newId(),
    contentClass: body.contentClass ?? null,
    content: { subject: body.subject || null, body: body.body || null, attachments },
  };
}

/** Strict base64 (the standard alphabet, padded): anything else is a mistake, not data to guess at. */
function decodeBase64(value: string, field: string): Buffer {
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw new InvalidInputError(`${field} must be base64 (A-Z, a-z, 0-9, +, /, padded with =)`);
  return Buffer.from(value, 'base64');
}
