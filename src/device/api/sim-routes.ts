import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import { ErrorBodySchema } from '../../protocol/index.ts';

const IncomingBody = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 32 }),
    text: Type.String({ minLength: 1, maxLength: 65535 }),
    simNumber: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 255 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const NetworkBody = Type.Object({ online: Type.Boolean() }, { additionalProperties: false });
const IncomingReply = Type.Object({
  eventId: Type.String({ description: 'the sms:received event recorded' }),
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
        summary: 'An SMS arrives',
        operationId: 'simulateIncomingSms',
        body: IncomingBody,
        response: { 202: IncomingReply, 400: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const received = ctx.carrier.receive({ from: body.from, text: body.text, simNumber: body.simNumber ?? 1 });
      return reply.code(202).send({ eventId: received.eventId, deliveryIds: received.deliveryIds });
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
