import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../runtime.ts';
import { HttpError } from '../../protocol/index.ts';

const IncomingBody = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 32 }),
    text: Type.String({ minLength: 1, maxLength: 65535 }),
    simNumber: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 255 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const NetworkBody = Type.Object({ online: Type.Boolean() }, { additionalProperties: false });

/**
 * The simulation API of the virtual carrier, kept apart from the original API under /sim/v1:
 * it stands in for the radio network (incoming SMS, connectivity).
 */
export function simRoutes(app: App, ctx: DeviceContext): void {
  app.post('/sim/v1/incoming', { schema: { tags: ['simulation'], body: IncomingBody } }, async (request, reply) => {
    const body = request.body as typeof IncomingBody.static;
    const simNumber = body.simNumber ?? 1;
    if (simNumber > ctx.carrier.simCount) {
      throw new HttpError(400, `simNumber ${simNumber} does not exist: this device has ${ctx.carrier.simCount} SIM(s)`);
    }
    const emitted = ctx.messages.receive(body.from, body.text, simNumber);
    return reply.code(202).send({ eventId: emitted.eventId, deliveryIds: emitted.deliveryIds });
  });

  app.get('/sim/v1/network', { schema: { tags: ['simulation'] } }, async () => ({ online: ctx.network.isOnline() }));

  app.post('/sim/v1/network', { schema: { tags: ['simulation'], body: NetworkBody } }, async (request) => {
    ctx.network.set((request.body as typeof NetworkBody.static).online);
    return { online: ctx.network.isOnline() };
  });
}
