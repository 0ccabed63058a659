import { Type } from '@sinclair/typebox';
import { operation, noContent, type App } from '../../shared/http.ts';
import { ErrorBodySchema, HealthSchema, ReportedWebhookSchema, SimCardSchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';
import { toDeviceView } from './service.ts';
import { IdParams } from '../../shared/route-schemas.ts';

export const DeviceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  lastSeen: Type.String(),
  health: Type.Union([Type.Intersect([HealthSchema, Type.Object({ reportedAt: Type.String() })]), Type.Null()], {
    description:
      "the device's own health document as it last reported it (PUT /mobile/v1/device/health); the webhooks:queue check is its delivery queue depth",
  }),
  simCards: Type.Optional(
    Type.Array(SimCardSchema, { description: 'the SIM cards the phone reported; absent when it never said' }),
  ),
});

const LocalWebhooksSchema = Type.Object({
  deviceId: Type.String(),
  reportedAt: Type.Union([Type.String(), Type.Null()], {
    description: 'when the device last reported its list; null: not yet',
  }),
  webhooks: Type.Array(Type.Composite([ReportedWebhookSchema, Type.Object({ source: Type.Literal('Local') })])),
});
const tags = ['devices'];

export function devices3rdPartyRoutes(app: App, ctx: ServerContext): void {
  app.get(
    '/devices',
    operation('devices:list', {
      tags,
      summary: 'Your devices, most recently seen first',
      operationId: 'listDevices',
      response: { 200: Type.Array(DeviceSchema) },
    }),
    async (request) => (await ctx.devices.list(userOf(request).id)).map(toDeviceView),
  );

  app.get(
    '/devices/webhooks',
    operation('webhooks:list', {
      tags,
      summary: "Every device's Local webhook list, as each last reported it (one read for a dashboard of many devices)",
      operationId: 'listDevicesLocalWebhooks',
      response: { 200: Type.Array(LocalWebhooksSchema) },
    }),
    async (request) => ctx.deliveries.allLocalWebhooks(userOf(request).id),
  );

  app.get(
    '/devices/:id/webhooks',
    operation('webhooks:list', {
      tags,
      summary:
        "The device's Local webhook list, as it last reported it (managed on the device through its Local API; read-only here)",
      operationId: 'getDeviceLocalWebhooks',
      params: IdParams,
      response: { 200: LocalWebhooksSchema, 404: ErrorBodySchema },
    }),
    async (request) => ctx.deliveries.localWebhooks(userOf(request).id, request.params.id),
  );

  app.delete(
    '/devices/:id',
    operation('devices:delete', {
      tags,
      summary: 'Remove a device (its token stops working)',
      operationId: 'deleteDevice',
      params: IdParams,
      response: { 204: Type.Null(), 404: ErrorBodySchema },
    }),
    (request, reply) => noContent(reply, ctx.devices.remove(userOf(request).id, request.params.id)),
  );
}
