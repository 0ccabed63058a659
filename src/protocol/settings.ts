import { Type, type Static } from '@sinclair/typebox';

const Nullable = <T extends ReturnType<typeof Type.Integer>>(schema: T) => Type.Union([schema, Type.Null()]);

/** The settings document, snake_case as on the wire. Every group and key is optional in a request. */
export const SettingsSchema = Type.Object(
  {
    messages: Type.Optional(
      Type.Object(
        {
          send_interval_min: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 3600 }))),
          send_interval_max: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 3600 }))),
          limit_period: Type.Optional(
            Type.Union(['Disabled', 'PerMinute', 'PerHour', 'PerDay'].map((v) => Type.Literal(v))),
          ),
          limit_value: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
          sim_selection_mode: Type.Optional(
            Type.Union(['OSDefault', 'RoundRobin', 'Random'].map((v) => Type.Literal(v))),
          ),
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

/** A complete settings document: every key present. */
export interface EffectiveSettings {
  messages: {
    send_interval_min: number | null;
    send_interval_max: number | null;
    limit_period: 'Disabled' | 'PerMinute' | 'PerHour' | 'PerDay';
    limit_value: number | null;
    sim_selection_mode: 'OSDefault' | 'RoundRobin' | 'Random';
    log_lifetime_days: number | null;
  };
  webhooks: { internet_required: boolean; retry_count: number; signing_key: string | null };
  logs: { lifetime_days: number };
  ping: { interval_seconds: number | null };
}

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
