import type { Settings } from '../../protocol/index.ts';

/**
 * A user's settings, stored as the keys the user set through the server (a partial document,
 * explicit nulls included); defaults fill in the rest when read.
 */
export interface SettingsRepository {
  /** {} when the user never set anything */
  getUserSettings(userId: string): Promise<Settings>;
  /** Merge `patch` into the stored document (group by group) atomically; returns the result. */
  patchUserSettings(userId: string, patch: Settings, now: number): Promise<Settings>;
  /**
   * Replace the stored document atomically. `webhooks.signing_key` is kept when the new
   * document lacks it: the key is never shown, so a GET-modify-PUT would otherwise erase it.
   */
  replaceUserSettings(userId: string, document: Settings, now: number): Promise<Settings>;
  /** Every user ({} for one who set nothing), by id, `limit` at a time after the id `after` ('' first). */
  usersPage(after: string, limit: number): Promise<{ userId: string; settings: Settings }[]>;
}

/** PATCH semantics shared by the implementations: groups merge key by key, nulls are kept. */
export function mergeSettingsDocument(base: Settings, patch: Settings): Settings {
  const merged: Record<string, Record<string, unknown>> = structuredClone(base) as Record<
    string,
    Record<string, unknown>
  >;
  for (const [group, values] of Object.entries(patch)) {
    if (values && typeof values === 'object') merged[group] = { ...(merged[group] ?? {}), ...values };
  }
  return merged as Settings;
}

/** PUT semantics: the new document, keeping a signing key the new one does not mention. */
export function replaceSettingsDocument(base: Settings, next: Settings): Settings {
  const keptKey = base.webhooks?.signing_key;
  if (keptKey === undefined || next.webhooks?.signing_key !== undefined) return next;
  return { ...next, webhooks: { ...(next.webhooks ?? {}), signing_key: keptKey } };
}
