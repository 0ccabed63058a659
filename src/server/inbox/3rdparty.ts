import type { App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';
import {
  ErrorBodySchema,
  InboxRefreshAcceptedSchema,
  InboxRefreshRequestSchema,
  refreshDelivery,
} from '../../protocol/index.ts';
import { InvalidInputError, NotFoundError } from '../../shared/errors.ts';
import { requireRefreshWindow } from '../../shared/iso-dates.ts';

const tags = ['inbox'];

/**
 * `POST /inbox/refresh`: the server asks the user's devices (or one) to announce again what they
 * received in a window (`MessagesExportRequested`); each device does it from its own inbox. The
 * export paths are the deprecated names of the same request, whose default is to send webhooks.
 */
export function inbox3rdPartyRoutes(app: App, ctx: ServerContext): void {
  for (const [path, operationId, fallback] of [
    ['/inbox/refresh', 'refreshInbox', 'Disabled'],
    ['/inbox/export', 'exportInbox', 'Individual'],
    ['/messages/inbox/export', 'exportMessagesInbox', 'Individual'],
  ] as const) {
    const deprecated = path !== '/inbox/refresh';
    app.post(
      path,
      {
        config: { scope: deprecated ? ['messages:export'] : 'inbox:refresh' },
        schema: {
          tags,
          summary: deprecated
            ? 'Deprecated: POST /inbox/refresh (webhookDelivery defaults to Individual here)'
            : 'Ask your devices to announce again what they received in [since, until]: webhooks one by one (Individual), in batches (Batch) or none (Disabled)',
          operationId,
          ...(deprecated ? { deprecated: true } : {}),
          body: InboxRefreshRequestSchema,
          response: { 202: InboxRefreshAcceptedSchema, 400: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const { body } = request;
        const userId = userOf(request).id;
        const window = requireRefreshWindow(body.since, body.until);
        let deviceIds: string[];
        if (body.deviceId !== undefined) {
          try {
            deviceIds = [(await ctx.devices.get(userId, body.deviceId)).id];
          } catch (error) {
            if (error instanceof NotFoundError) throw new InvalidInputError(error.message);
            throw error;
          }
        } else {
          deviceIds = (await ctx.devices.list(userId)).map((device) => device.id);
          if (deviceIds.length === 0) {
            throw new InvalidInputError('you have no devices to refresh; link one first (smsgate device --server …)');
          }
        }
        const messageTypes = body.messageTypes ?? ['SMS'];
        const webhookDelivery = refreshDelivery(body, fallback);
        const since = new Date(window.since).toISOString();
        const until = new Date(window.until).toISOString();
        await ctx.hub.publish(deviceIds, {
          type: 'MessagesExportRequested',
          data: {
            since,
            until,
            messageTypes: JSON.stringify(messageTypes),
            webhookDelivery,
            triggerWebhooks: String(webhookDelivery !== 'Disabled'),
          },
        });
        if (deprecated)
          reply.header('deprecation', 'true').header('link', '</3rdparty/v1/inbox/refresh>; rel="successor-version"');
        return reply.code(202).send({ since, until, messageTypes: [...messageTypes], webhookDelivery, deviceIds });
      },
    );
  }
}
