import type { App } from '../../shared/http.ts';
import type { DeviceContext } from '../context.ts';
import {
  DEFAULT_SETTINGS,
  EffectiveSettingsSchema,
  mergeSettings,
  settingsConflict,
  ErrorBodySchema,
  SettingsSchema,
  snakeCaseSettingsKeys,
  visibleSettings,
  type Settings,
  type StoredSettings,
} from '../../protocol/index.ts';
import { InvalidInputError } from '../../shared/errors.ts';

/**
 * Device settings (snake_case; camelCase from the official clients is accepted). The Local API
 * shows the signing key: it is the owner's own device, and receivers need the key. The write-only
 * keys (`encryption.passphrase`, `gateway.private_token`) are never shown.
 */
export function settingsRoutes(app: App, ctx: DeviceContext): void {
  const acceptCamelCase = async (request: { body: unknown }) => {
    request.body = snakeCaseSettingsKeys(request.body);
  };
  const show = () => {
    ctx.settings.signingKey(); // make sure a key exists before anyone reads the settings
    return visibleSettings(ctx.settings.get());
  };

  app.get(
    '/settings',
    {
      config: { scope: 'settings:read' },
      schema: { tags: ['settings'], operationId: 'getSettings', response: { 200: EffectiveSettingsSchema } },
    },
    async () => show(),
  );

  // PATCH merges the body into the current settings, PUT into the defaults; both refuse a conflict
  for (const [method, operationId, base, write] of [
    ['PATCH', 'updateSettings', () => ctx.settings.get(), (body: Settings) => ctx.settings.patch(body)],
    ['PUT', 'replaceSettings', () => DEFAULT_SETTINGS, (body: Settings) => ctx.settings.replace(body)],
  ] as const) {
    app.route({
      method,
      url: '/settings',
      preValidation: acceptCamelCase,
      config: { scope: 'settings:write' },
      schema: {
        tags: ['settings'],
        operationId,
        body: SettingsSchema,
        response: { 200: EffectiveSettingsSchema, 400: ErrorBodySchema },
      },
      handler: async (request) => {
        refuseConflict(mergeSettings(base(), request.body));
        write(request.body);
        return show();
      },
    });
  }
}

function refuseConflict(settings: StoredSettings): void {
  const conflict = settingsConflict(settings);
  if (conflict) throw new InvalidInputError(conflict);
}
