import { Type } from '@sinclair/typebox';
import { ErrorBodySchema } from '../../protocol/index.ts';
import { operation, type App } from '../../shared/http.ts';
import { IdParams } from '../../shared/route-schemas.ts';
import type { RouteScope } from '../../shared/scopes.ts';
import { userOf } from './auth.ts';

/**
 * The answer of a route that asks a device to act (redeliver, send a test event): the device acts
 * later and reports, so the answer names what was asked of which device, and where the outcome
 * will show.
 */
export const AskedDeviceSchema = Type.Object({ id: Type.String(), deviceId: Type.String(), message: Type.String() });

/** Such a route's answers: 202 once asked, 404 for no such thing, 409 when no device can be asked now. */
export const ASKED_DEVICE_RESPONSES = { 202: AskedDeviceSchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

interface Asked {
  id: string;
  deviceId: string;
}

/**
 * `POST url` (a path with `:id`) asking a device to act on one of the user's things: `ask` finds
 * the thing and asks its device; the answer (202) says where the outcome will show (`outcome`).
 */
export function askDeviceRoute(
  app: App,
  url: string,
  docs: { scope: RouteScope; tags: string[]; operationId: string; summary: string },
  ask: (userId: string, id: string) => Promise<Asked>,
  outcome: (asked: Asked) => string,
): void {
  const { scope, ...schema } = docs;
  app.post(
    url,
    operation(scope, { ...schema, params: IdParams, response: ASKED_DEVICE_RESPONSES }),
    async (request, reply) => {
      const asked = await ask(userOf(request).id, request.params.id);
      return reply.code(202).send({ ...asked, message: outcome(asked) });
    },
  );
}
