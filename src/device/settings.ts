import { DEFAULT_SETTINGS, mergeSettings, type Settings, type StoredSettings } from '../protocol/index.ts';
import { randomSecret } from '../shared/ids.ts';
import type { MetaStore } from './store/meta.ts';

type Listener = (settings: StoredSettings) => void;

/**
 * The device's settings: persisted in the meta table, cached in memory because the dispatcher
 * reads them on every attempt. They include the write-only keys (`encryption.passphrase`,
 * `gateway.private_token`); the routes show `visibleSettings` of them.
 */
export class DeviceSettings {
  private current: StoredSettings;
  private readonly listeners: Listener[] = [];

  constructor(private readonly meta: MetaStore) {
    const stored = meta.getJson<Settings>('settings') ?? {};
    this.current = mergeSettings(DEFAULT_SETTINGS, stored);
  }

  get(): StoredSettings {
    return this.current;
  }

  /** PATCH: merge the given groups and keys over the current settings. */
  patch(patch: Settings): StoredSettings {
    return this.save(mergeSettings(this.current, patch));
  }

  /** PUT: the given document over the defaults. The signing key survives unless a new one is given. */
  replace(document: Settings): StoredSettings {
    const next = mergeSettings(DEFAULT_SETTINGS, document);
    if (document.webhooks?.signing_key === undefined) next.webhooks.signing_key = this.current.webhooks.signing_key;
    return this.save(next);
  }

  /** The webhook signing key, generated randomly the first time anything needs it. */
  signingKey(): string {
    const existing = this.current.webhooks.signing_key;
    if (existing) return existing;
    return this.patch({ webhooks: { signing_key: randomSecret(24) } }).webhooks.signing_key!;
  }

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  private save(next: StoredSettings): StoredSettings {
    this.meta.setJson('settings', next);
    this.current = next;
    for (const listener of this.listeners) listener(next);
    return next;
  }
}
