import { Value } from '@sinclair/typebox/value';
import { DEFAULT_SETTINGS, isEventName, SettingsSchema, type Settings } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { DeviceSettings } from '../settings.ts';
import type { WebhookStore } from '../store/webhooks.ts';
import type { MobileClient, MobileSettings } from './mobile-client.ts';

/**
 * What the user configured on the server, applied on the device: the Cloud webhook list
 * (`WebhooksUpdated`) and the settings (`SettingsUpdated`). Each pull takes the whole thing, so a
 * missed push is made good by the next pull.
 */
export class ConfigSync {
  constructor(
    private readonly deps: {
      client: Pick<MobileClient, 'getWebhooks' | 'getSettings'>;
      webhooks: Pick<WebhookStore, 'replaceCloud'>;
      settings: Pick<DeviceSettings, 'patch'>;
      clock: Clock;
      log: (line: string) => void;
    },
  ) {}

  /** Replace the whole Cloud list with the server's, in one transaction (webhooks for events this device does not know are skipped). */
  async syncWebhooks(): Promise<void> {
    const { client, webhooks, clock } = this.deps;
    const hooks = await client.getWebhooks();
    const known = hooks.filter((h) => isEventName(h.event));
    webhooks.replaceCloud(
      known.map((h) => ({ id: h.id, url: h.url, event: h.event as never, deviceId: h.deviceId })),
      clock.now(),
    );
  }

  /** Apply what the user set on the server; null there means "back to the default". */
  async syncSettings(): Promise<void> {
    const remote = await this.deps.client.getSettings();
    const patch = settingsPatchFrom(remote);
    if (!Value.Check(SettingsSchema, patch)) {
      this.deps.log('the server sent settings this device does not understand; ignored');
      return;
    }
    if (Object.keys(patch).length > 0) this.deps.settings.patch(patch);
  }
}

/** Turn the server's settings (nulls meaning "default") into a patch for the device. */
export function settingsPatchFrom(remote: MobileSettings): Settings {
  const patch: Record<string, Record<string, unknown>> = {};
  const defaults = DEFAULT_SETTINGS as unknown as Record<string, Record<string, unknown>>;
  for (const [group, values] of Object.entries(remote ?? {})) {
    if (!values || typeof values !== 'object' || !(group in defaults)) continue;
    for (const [key, value] of Object.entries(values)) {
      if (!(key in defaults[group])) continue;
      const resolved = value === null ? defaults[group][key] : value;
      // A key whose default is "none" (null) is left out rather than sent as null where null is not allowed.
      if (resolved === null && group === 'webhooks') continue;
      (patch[group] ??= {})[key] = resolved;
    }
  }
  return patch as Settings;
}
