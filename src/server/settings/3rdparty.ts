import { operation, type App } from '../../shared/http.ts';
import { ErrorBodySchema, PublicSettingsSchema, SettingsSchema, snakeCaseSettingsKeys } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { userOf } from '../api/auth.ts';

const tags = ['settings'];
// The official TS client sends camelCase (retryCount); the wire format is snake_case.
const acceptCamelCase = async (request: { body: unknown }) => {
  request.body = snakeCaseSettingsKeys(request.body);
};

/** Settings for all of the user's devices; every change is pushed as SettingsUpdated. */
export function settings3rdPartyRoutes(app: App, ctx: ServerContext): void {
  app.get(
    '/settings',
    operation('settings:read', {
      tags,
      summary: 'Your settings (the signing key is never shown)',
      operationId: 'getSettings',
      response: { 200: PublicSettingsSchema },
    }),
    async (request) => ctx.settings.get(userOf(request).id),
  );

  // PATCH and PUT take the same body and answer alike; they differ in what they keep.
  const write = (operationId: string, summary: string) => ({
    preValidation: acceptCamelCase,
    ...operation('settings:write', {
      tags,
      summary,
      operationId,
      body: SettingsSchema,
      response: { 200: PublicSettingsSchema, 400: ErrorBodySchema },
    }),
  });
  app.patch('/settings', write('updateSettings', 'Change some settings'), async (request) =>
    ctx.settings.patch(userOf(request).id, request.body),
  );
  app.put(
    '/settings',
    write('replaceSettings', 'Replace all settings (a signing key set earlier is kept unless given)'),
    async (request) => ctx.settings.replace(userOf(request).id, request.body),
  );
}
