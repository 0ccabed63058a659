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

  app.patch(
    '/settings',
    {
      preValidation: acceptCamelCase,
      config: { scope: 'settings:write' },
      schema: {
        tags: ['settings'],
        operationId: 'updateSettings',
        body: SettingsSchema,
        response: { 200: EffectiveSettingsSchema, 400: ErrorBodySchema },
      },
    },
    async (request) => {
      refuseConflict(mergeSettings(ctx.settings.get(), request.body));
      ctx.settings.patch(request.body);
      return show();
    },
  );

  app.put(
    '/settings',
    {
      preValidation: acceptCamelCase,
      config: { scope: 'settings:write' },
      schema: {
        tags: ['settings'],
        operationId: 'replaceSettings',
        body: SettingsSchema,
        response: { 200: EffectiveSettingsSchema, 400: ErrorBodySchema },
      },
    },
    async (request) => {
      refuseConflict(mergeSettings(DEFAULT_SETTINGS, request.body));
      ctx.settings.replace(request.body);
      return show();
    },
  );
}

function refuseConflict(settings: StoredSettings): void {
  const conflict = settingsConflict(settings);
  if (conflict) throw new InvalidInputError(conflict);
}
