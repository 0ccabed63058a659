import {
  DEFAULT_SETTINGS,
  mergeSettings,
  settingsConflict,
  visibleSettings,
  type PublicSettings,
  type Settings,
  type StoredSettings,
} from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { PushHub } from '../push/hub.ts';
import type { SettingsRepository } from './repository.ts';
import { InvalidInputError } from '../../shared/errors.ts';

/**
 * Settings a user applies to all of their devices. On a private server the user may set the
 * webhook signing key for the devices; on a public one each device keeps its own.
 */
export class SettingsService {
  constructor(
    private readonly repo: SettingsRepository,
    private readonly hub: PushHub,
    private readonly clock: Clock,
    private readonly options: { publicMode: boolean },
  ) {}

  async get(userId: string): Promise<PublicSettings> {
    return publicView(mergeSettings(DEFAULT_SETTINGS, await this.repo.getUserSettings(userId)));
  }

  async patch(userId: string, patch: Settings): Promise<PublicSettings> {
    this.refuseSigningKeyInPublicMode(patch);
    refuseConflict(mergeSettings(mergeSettings(DEFAULT_SETTINGS, await this.repo.getUserSettings(userId)), patch));
    const stored = await this.repo.patchUserSettings(userId, patch, this.clock.now());
    await this.announce(userId);
    return publicView(mergeSettings(DEFAULT_SETTINGS, stored));
  }

  async replace(userId: string, document: Settings): Promise<PublicSettings> {
    this.refuseSigningKeyInPublicMode(document);
    refuseConflict(mergeSettings(DEFAULT_SETTINGS, document));
    const stored = await this.repo.replaceUserSettings(userId, document, this.clock.now());
    await this.announce(userId);
    return publicView(mergeSettings(DEFAULT_SETTINGS, stored));
  }

  /**
   * What a device applies: only the keys set through the server (explicit nulls included),
   * so the device keeps its own values for the rest. The signing key is included: the device
   * signs with it.
   */
  forDevice(userId: string): Promise<Settings> {
    return this.repo.getUserSettings(userId);
  }

  private refuseSigningKeyInPublicMode(settings: Settings): void {
    if (this.options.publicMode && settings.webhooks?.signing_key !== undefined) {
      throw new InvalidInputError(
        'webhooks.signing_key cannot be set on a public server: each device keeps its own key (set it in the device settings instead)',
      );
    }
  }

  private async announce(userId: string): Promise<void> {
    await this.hub.publishToUser(userId, { type: 'SettingsUpdated', data: {} });
  }
}

function refuseConflict(settings: StoredSettings): void {
  const conflict = settingsConflict(settings);
  if (conflict) throw new InvalidInputError(conflict);
}

/** What the server shows: neither the write-only keys nor the signing key. */
function publicView(settings: StoredSettings): PublicSettings {
  const visible = visibleSettings(settings);
  const { signing_key: _hidden, ...webhooks } = visible.webhooks;
  return { ...visible, webhooks };
}
