import type { App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';
import { InvalidInputError, NotFoundError } from '../../shared/errors.ts';
import { inboxRefreshRoutes } from '../../shared/inbox-refresh-routes.ts';

/**
 * `POST /inbox/refresh`: the server asks the user's devices (or one) to announce again what they
 * received in a window (`MessagesExportRequested`); each device does it from its own inbox. The
 * export paths are the deprecated names of the same request, whose default is to send webhooks.
 */
export function inbox3rdPartyRoutes(app: App, ctx: ServerContext): void {
  inboxRefreshRoutes(app, {
    summary:
      'Ask your devices to announce again what they received in [since, until]: webhooks one by one (Individual), in batches (Batch) or none (Disabled)',
    deprecated: [
      { path: '/inbox/export', operationId: 'exportInbox' },
      { path: '/messages/inbox/export', operationId: 'exportMessagesInbox' },
    ],
    deprecatedScope: ['messages:export'],
    successor: '/3rdparty/v1/inbox/refresh',
    refresh: async (asked, request) => {
      const deviceIds = await devicesAsked(ctx, userOf(request).id, asked.deviceId);
      await ctx.hub.publish(deviceIds, {
        type: 'MessagesExportRequested',
        data: {
          since: new Date(asked.since).toISOString(),
          until: new Date(asked.until).toISOString(),
          messageTypes: JSON.stringify(asked.types),
          webhookDelivery: asked.webhookDelivery,
          triggerWebhooks: String(asked.webhookDelivery !== 'Disabled'),
        },
      });
      return { deviceIds };
    },
  });
}

/** The one device the request named (a 400 when the user has no such device), else all of the user's. */
async function devicesAsked(ctx: ServerContext, userId: string, deviceId: string | undefined): Promise<string[]> {
  if (deviceId !== undefined) {
    try {
      return [(await ctx.devices.get(userId, deviceId)).id];
    } catch (error) {
      if (error instanceof NotFoundError) throw new InvalidInputError(error.message);
      throw error;
    }
  }
  const deviceIds = (await ctx.devices.list(userId)).map((device) => device.id);
  if (deviceIds.length === 0) {
    throw new InvalidInputError('you have no devices to refresh; link one first (smsgate device --server …)');
  }
  return deviceIds;
}
