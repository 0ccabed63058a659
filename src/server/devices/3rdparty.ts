import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { ErrorBodySchema, HealthSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';
import { toDeviceView } from './service.ts';

export const DeviceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  lastSeen: Type.String(),
  health: Type.Union([Type.Intersect([HealthSchema, Type.Object({ reportedAt: Type.String() })]), Type.Null()], {
    description: "the device's own health document as it last reported it (PUT /mobile/v1/device/health); the webhooks:queue check is its delivery queue depth",
  }),
});

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const tags = ['devices'];

export function devices3rdPartyRoutes(app: App, ctx: ServerContext): void {
  app.get('/devices', { schema: { tags, summary: 'Your devices, most recently seen first', response: { 200: Type.Array(DeviceSchema) } } }, async (request) =>
    (await ctx.devices.list(userOf(request).id)).map(toDeviceView),
  );

  app.delete(
    '/devices/:id',
    { schema: { tags, summary: 'Remove a device (its token stops working)', params: IdParams, response: { 204: Type.Null(), 404: ErrorBodySchema } } },
    async (request, reply) => {
      await ctx.devices.remove(userOf(request).id, (request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
}
