import type { FastifyRequest } from 'fastify';
import type { App } from './http.ts';
import {
  ErrorBodySchema,
  InboxRefreshAcceptedSchema,
  InboxRefreshRequestSchema,
  refreshDelivery,
  type IncomingMessageType,
  type WebhookDelivery,
} from '../protocol/index.ts';
import { requireRefreshWindow } from './iso-dates.ts';
import type { RouteScope } from './scopes.ts';

/** A refresh as understood: the window (epoch ms, both ends included), the types and how to announce them. */
export interface InboxRefreshAsked {
  since: number;
  until: number;
  types: readonly IncomingMessageType[];
  webhookDelivery: WebhookDelivery;
  /** the one device asked for, if the request named one */
  deviceId?: string;
}

export interface InboxRefreshRoutesOptions<Outcome extends object> {
  /** what `POST /inbox/refresh` does on this runtime */
  summary: string;
  /** the older paths of the same request, deprecated; their webhookDelivery defaults to Individual */
  deprecated: readonly { path: string; operationId: string }[];
  /** the scope the deprecated paths need */
  deprecatedScope: RouteScope | readonly RouteScope[];
  /** the address of `/inbox/refresh` a deprecated path names as its successor */
  successor: string;
  /** carry it out; what it returns is added to the 202 */
  refresh(asked: InboxRefreshAsked, request: FastifyRequest): Promise<Outcome>;
}

/**
 * `POST /inbox/refresh` and its deprecated paths, alike on the device's Local API and the server's
 * 3rdparty API: the body, its window and defaults are read here, the runtime does the refresh.
 */
export function inboxRefreshRoutes<Outcome extends object>(
  app: App,
  options: InboxRefreshRoutesOptions<Outcome>,
): void {
  for (const { path, operationId, deprecated } of [
    { path: '/inbox/refresh', operationId: 'refreshInbox', deprecated: false },
    ...options.deprecated.map((alias) => ({ ...alias, deprecated: true })),
  ]) {
    app.post(
      path,
      {
        config: { scope: deprecated ? options.deprecatedScope : 'inbox:refresh' },
        schema: {
          tags: ['inbox'],
          summary: deprecated
            ? 'Deprecated: POST /inbox/refresh (webhookDelivery defaults to Individual here)'
            : options.summary,
          operationId,
          ...(deprecated ? { deprecated: true } : {}),
          body: InboxRefreshRequestSchema,
          response: { 202: InboxRefreshAcceptedSchema, 400: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const { body } = request;
        const window = requireRefreshWindow(body.since, body.until);
        const types = body.messageTypes ?? ['SMS'];
        // a refresh defaults to Disabled, as the app and its server do; the export always sent webhooks
        const webhookDelivery = refreshDelivery(body, deprecated ? 'Individual' : 'Disabled');
        const outcome = await options.refresh({ ...window, types, webhookDelivery, deviceId: body.deviceId }, request);
        if (deprecated)
          reply.header('deprecation', 'true').header('link', `<${options.successor}>; rel="successor-version"`);
        return reply.code(202).send({
          since: new Date(window.since).toISOString(),
          until: new Date(window.until).toISOString(),
          messageTypes: [...types],
          webhookDelivery,
          ...outcome,
        });
      },
    );
  }
}
