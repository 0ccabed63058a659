import { Type, type Static, type TSchema } from '@sinclair/typebox';

const LIMIT_PERIODS = ['Disabled', 'PerMinute', 'PerHour', 'PerDay'] as const;
const SIM_SELECTION_MODES = ['OSDefault', 'RoundRobin', 'Random'] as const;
const Nullable = <T extends ReturnType<typeof Type.Integer>>(schema: T) => Type.Union([schema, Type.Null()]);

/** The settings document, snake_case as on the wire. Every group and key is optional in a request. */
export const SettingsSchema = Type.Object(
  {
    messages: Type.Optional(
      Type.Object(
        {
          send_interval_min: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 3600 }))),
          send_interval_max: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 3600 }))),
          limit_period: Type.Optional(Type.Union(LIMIT_PERIODS.map((v) => Type.Literal(v)))),
          limit_value: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
          sim_selection_mode: Type.Optional(Type.Union(SIM_SELECTION_MODES.map((v) => Type.Literal(v)))),
          log_lifetime_days: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 3650 }))),
        },
        { additionalProperties: false },
      ),
    ),
    webhooks: Type.Optional(
      Type.Object(
        {
          internet_required: Type.Optional(Type.Boolean()),
          retry_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 })),
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
  },
  { additionalProperties: false },
);
export type Settings = Static<typeof SettingsSchema>;

const NullableInteger = () => Type.Union([Type.Integer(), Type.Null()]);
const EffectiveWebhookSettings = {
  internet_required: Type.Boolean(),
  retry_count: Type.Integer(),
};
const effectiveSettingsWith = <W extends Record<string, TSchema>>(webhooks: W) =>
  Type.Object({
    messages: Type.Object({
      send_interval_min: NullableInteger(),
      send_interval_max: NullableInteger(),
      limit_period: Type.Union(LIMIT_PERIODS.map((v) => Type.Literal(v))),
      limit_value: NullableInteger(),
      sim_selection_mode: Type.Union(SIM_SELECTION_MODES.map((v) => Type.Literal(v))),
      log_lifetime_days: NullableInteger(),
    }),
    webhooks: Type.Object(webhooks),
    logs: Type.Object({ lifetime_days: Type.Integer() }),
    ping: Type.Object({ interval_seconds: NullableInteger() }),
  });

/** A complete settings document: every key present (what GET, PATCH and PUT /settings answer on a device). */
export const EffectiveSettingsSchema = effectiveSettingsWith({
  ...EffectiveWebhookSettings,
  signing_key: Type.Union([Type.String(), Type.Null()], { description: 'the key webhooks are signed with' }),
});
export type EffectiveSettings = Static<typeof EffectiveSettingsSchema>;

/** The server's settings answer: every key but the signing key, which the server never shows. */
export const PublicSettingsSchema = effectiveSettingsWith(EffectiveWebhookSettings);
export type PublicSettings = Static<typeof PublicSettingsSchema>;

export const DEFAULT_SETTINGS: EffectiveSettings = {
  messages: {
    send_interval_min: null,
    send_interval_max: null,
    limit_period: 'Disabled',
    limit_value: null,
    sim_selection_mode: 'OSDefault',
    log_lifetime_days: null,
  },
  webhooks: { internet_required: true, retry_count: 14, signing_key: null },
  logs: { lifetime_days: 30 },
  ping: { interval_seconds: null },
};

/** Merge a partial document over a complete one (PATCH semantics). */
export function mergeSettings(base: EffectiveSettings, patch: Settings): EffectiveSettings {
  const merged = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [group, values] of Object.entries(patch)) {
    if (values && typeof values === 'object') Object.assign(merged[group], values);
  }
  return merged as unknown as EffectiveSettings;
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
