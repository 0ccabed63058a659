import { DEFAULT_SETTINGS, mergeSettings, type EffectiveSettings, type Settings } from '../protocol/index.ts';
import { randomSecret } from '../shared/ids.ts';
import type { MetaStore } from './store/meta.ts';

type Listener = (settings: EffectiveSettings) => void;

/**
 * The device's settings: persisted in the meta table, cached in memory because the dispatcher
 * reads them on every attempt.
 */
export class DeviceSettings {
  private current: EffectiveSettings;
  private readonly listeners: Listener[] = [];

  constructor(private readonly meta: MetaStore) {
    const stored = meta.getJson<Settings>('settings') ?? {};
    this.current = mergeSettings(DEFAULT_SETTINGS, stored);
  }

  get(): EffectiveSettings {
    return this.current;
  }

  /** PATCH: merge the given groups and keys over the current settings. */
  patch(patch: Settings): EffectiveSettings {
    return this.save(mergeSettings(this.current, patch));
  }

  /** PUT: the given document over the defaults. The signing key survives unless a new one is given. */
  replace(document: Settings): EffectiveSettings {
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

  private save(next: EffectiveSettings): EffectiveSettings {
    this.meta.setJson('settings', next);
    this.current = next;
    for (const listener of this.listeners) listener(next);
    return next;
  }
}
