import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const LIMIT_PERIODS = ['Disabled', 'PerMinute', 'Per30Minutes', 'PerHour', 'PerDay'] as const;
export const SIM_SELECTION_MODES = ['OSDefault', 'RoundRobin', 'Random'] as const;
export const PROCESSING_ORDERS = ['LIFO', 'FIFO'] as const;
export type LimitPeriod = (typeof LIMIT_PERIODS)[number];
export type SimSelectionMode = (typeof SIM_SELECTION_MODES)[number];
export type ProcessingOrder = (typeof PROCESSING_ORDERS)[number];
/** The length of each `messages.limit_period`, ms (Disabled: no limit). */
export const LIMIT_PERIOD_MS: Record<LimitPeriod, number> = {
  Disabled: 0,
  PerMinute: 60_000,
  Per30Minutes: 30 * 60_000,
  PerHour: 60 * 60_000,
  PerDay: 24 * 60 * 60_000,
};
/** The most `messages.limit_value` allows in one period: far above what one phone can send. */
export const MAX_LIMIT_VALUE = 100_000;
export const NOTIFICATION_CHANNELS = ['AUTO', 'SSE_ONLY'] as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Enum = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const TimeOfDay = (description: string) =>
  Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: `${description}, HH:MM (24 h)` });

/**
 * The settings document, snake_case as on the wire. Every group and key is optional in a request;
 * an unknown group or key is refused. Which keys act on a virtual device: docs/settings.md.
 */
export const SettingsSchema = Type.Object(
  {
    messages: Type.Optional(
      Type.Object(
        {
          send_interval_min: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 3600 }))),
          send_interval_max: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 3600 }))),
          limit_period: Type.Optional(Enum(LIMIT_PERIODS)),
          limit_value: Type.Optional(
            Nullable(
              Type.Integer({
                minimum: 0,
                maximum: MAX_LIMIT_VALUE,
                description: 'messages per limit_period; 0 or null: no limit',
              }),
            ),
          ),
          sim_selection_mode: Type.Optional(Enum(SIM_SELECTION_MODES)),
          log_lifetime_days: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 3650 }))),
          processing_order: Type.Optional(Enum(PROCESSING_ORDERS)),
          work_hours_enabled: Type.Optional(Type.Boolean()),
          work_hours_start: Type.Optional(TimeOfDay('start of the work hours')),
          work_hours_end: Type.Optional(TimeOfDay('end of the work hours')),
        },
        { additionalProperties: false },
      ),
    ),
    webhooks: Type.Optional(
      Type.Object(
        {
          internet_required: Type.Optional(Type.Boolean()),
          retry_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 })),
          log_lifetime_days: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 3650,
              description: 'days a finished delivery and its attempts are kept in the delivery log (default 7)',
            }),
          ),
          signing_key: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
        },
        { additionalProperties: false },
      ),
    ),
    logs: Type.Optional(
      Type.Object(
        { lifetime_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) },
        { additionalProperties: false },
      ),
    ),
    ping: Type.Optional(
      Type.Object(
        { interval_seconds: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 86400 }))) },
        { additionalProperties: false },
      ),
    ),
    encryption: Type.Optional(
      Type.Object(
        {
          passphrase: Type.Optional(
            Nullable(
              Type.String({
                minLength: 1,
                maxLength: 256,
                description: 'end-to-end encryption passphrase; write-only: never shown',
              }),
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    gateway: Type.Optional(
      Type.Object(
        {
          cloud_url: Type.Optional(
            Nullable(Type.String({ pattern: '^https://', maxLength: 2048, description: 'https:// only' })),
          ),
          private_token: Type.Optional(
            Nullable(Type.String({ minLength: 1, maxLength: 256, description: 'write-only: never shown' })),
          ),
          notification_channel: Type.Optional(Enum(NOTIFICATION_CHANNELS)),
        },
        { additionalProperties: false },
      ),
    ),
    receiver: Type.Optional(
      Type.Object({ content_provider_enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type Settings = Static<typeof SettingsSchema>;

const NullableInteger = () => Type.Union([Type.Integer(), Type.Null()]);
const EffectiveWebhookSettings = {
  internet_required: Type.Boolean(),
  retry_count: Type.Integer(),
  log_lifetime_days: Type.Integer(),
};
const effectiveSettingsWith = <W extends Record<string, TSchema>>(webhooks: W) =>
  Type.Object({
    messages: Type.Object({
      send_interval_min: NullableInteger(),
      send_interval_max: NullableInteger(),
      limit_period: Enum(LIMIT_PERIODS),
      limit_value: NullableInteger(),
      sim_selection_mode: Enum(SIM_SELECTION_MODES),
      log_lifetime_days: NullableInteger(),
      processing_order: Enum(PROCESSING_ORDERS),
      work_hours_enabled: Type.Boolean(),
      work_hours_start: Type.String(),
      work_hours_end: Type.String(),
    }),
    webhooks: Type.Object(webhooks),
    logs: Type.Object({ lifetime_days: Type.Integer() }),
    ping: Type.Object({ interval_seconds: NullableInteger() }),
    gateway: Type.Object({
      cloud_url: Type.Union([Type.String(), Type.Null()], { description: 'null: the server given at start' }),
      notification_channel: Enum(NOTIFICATION_CHANNELS),
    }),
    receiver: Type.Object({ content_provider_enabled: Type.Boolean() }),
  });

/**
 * A complete settings document as the device shows it (GET, PATCH and PUT /settings): every key but
 * the write-only ones (`encryption.passphrase`, `gateway.private_token`), which are never shown.
 */
export const EffectiveSettingsSchema = effectiveSettingsWith({
  ...EffectiveWebhookSettings,
  signing_key: Type.Union([Type.String(), Type.Null()], { description: 'the key webhooks are signed with' }),
});
export type EffectiveSettings = Static<typeof EffectiveSettingsSchema>;

/** The server's settings answer: also without the signing key, which the server never shows. */
export const PublicSettingsSchema = effectiveSettingsWith(EffectiveWebhookSettings);
export type PublicSettings = Static<typeof PublicSettingsSchema>;

/** Everything the device keeps: what it shows, and the write-only keys. */
export type StoredSettings = EffectiveSettings & {
  encryption: { passphrase: string | null };
  gateway: { private_token: string | null };
};

export const DEFAULT_SETTINGS: StoredSettings = {
  messages: {
    send_interval_min: null,
    send_interval_max: null,
    limit_period: 'Disabled',
    limit_value: null,
    sim_selection_mode: 'OSDefault',
    log_lifetime_days: null,
    processing_order: 'LIFO',
    work_hours_enabled: false,
    work_hours_start: '09:00',
    work_hours_end: '19:00',
  },
  webhooks: { internet_required: true, retry_count: 14, log_lifetime_days: 7, signing_key: null },
  logs: { lifetime_days: 30 },
  ping: { interval_seconds: null },
  encryption: { passphrase: null },
  gateway: { cloud_url: null, private_token: null, notification_channel: 'AUTO' },
  receiver: { content_provider_enabled: true },
};

/** Merge a partial document over a complete one (PATCH semantics). */
export function mergeSettings(base: StoredSettings, patch: Settings): StoredSettings {
  const merged = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [group, values] of Object.entries(patch)) {
    if (values && typeof values === 'object') Object.assign(merged[group], values);
  }
  return merged as unknown as StoredSettings;
}

/**
 * A rule that spans keys, checked on the settings a change would produce (PATCH may set one key of
 * the pair): the message that refuses it, or undefined.
 */
export function settingsConflict(settings: Pick<StoredSettings, 'messages'>): string | undefined {
  const { send_interval_min: min, send_interval_max: max } = settings.messages;
  if (min != null && max != null && min > max) {
    return `messages.send_interval_min (${min}) is greater than messages.send_interval_max (${max}); set the minimum at most the maximum`;
  }
  return undefined;
}

/** The settings that can be set but are never shown (`visibleSettings` leaves them out). */
export const WRITE_ONLY_SETTINGS = ['encryption.passphrase', 'gateway.private_token'] as const;

/** What the device shows: the stored settings without the write-only keys. */
export function visibleSettings(stored: StoredSettings): EffectiveSettings {
  const { encryption: _secret, gateway, ...rest } = stored;
  const { private_token: _token, ...visibleGateway } = gateway;
  return { ...rest, gateway: visibleGateway };
}

/**
 * The official clients send camelCase keys (retryCount); the wire format is snake_case
 * (retry_count). Accept both by rewriting keys before validation.
 */
export function snakeCaseSettingsKeys(input: unknown): unknown {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return input;
  const toSnake = (key: string) => key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
  return Object.fromEntries(
    Object.entries(input).map(([group, values]) => [
      toSnake(group),
      values && typeof values === 'object' && !Array.isArray(values)
        ? Object.fromEntries(Object.entries(values).map(([k, v]) => [toSnake(k), v]))
        : values,
    ]),
  );
}
