import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from './errors.ts';

/**
 * What an access token may do, by name. The first names are those of SMS Gateway for Android's
 * server and Local API, so clients written for it ask for the same ones; `deliveries:*` and
 * `simulation:write` name what only smsgate serves (the delivery log, redelivery, the virtual carrier).
 */
export const SCOPES = [
  'messages:send',
  'messages:read',
  'messages:list',
  'messages:cancel',
  'messages:export',
  'webhooks:list',
  'webhooks:write',
  'webhooks:delete',
  'devices:list',
  'devices:delete',
  'settings:read',
  'settings:write',
  'inbox:list',
  'inbox:refresh',
  'logs:read',
  'tokens:manage',
  'deliveries:read',
  'deliveries:redeliver',
  'simulation:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Grants every scope above (never `tokens:refresh`). */
export const ALL_SCOPE = 'all:any';
/** The one scope of a refresh token; it grants nothing else and nothing else grants it. */
export const REFRESH_SCOPE = 'tokens:refresh';

/** What a route may declare it needs (all of them, when a list). */
export type RouteScope = Scope | typeof REFRESH_SCOPE;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The scope(s) an access token needs for this route; Basic auth passes every one. Declared
     * beside the route; the OpenAPI document lists them as the route's bearer security.
     */
    scope?: RouteScope | readonly RouteScope[];
  }
}

/** The scopes a route declared, as a list (empty: none declared). */
export function declaredScopes(config: { scope?: RouteScope | readonly RouteScope[] } | undefined): RouteScope[] {
  const scope = config?.scope;
  if (scope === undefined) return [];
  return typeof scope === 'string' ? [scope] : [...scope];
}

/** Whether a token holding `granted` may use a route that needs `needed`. */
export function grants(granted: readonly string[], needed: RouteScope): boolean {
  if (needed === REFRESH_SCOPE) return granted.includes(REFRESH_SCOPE);
  return granted.includes(needed) || granted.includes(ALL_SCOPE);
}

/**
 * 403 unless a token holding `granted` may use the route of this request. A route that declares
 * no scope is for Basic auth only.
 */
export function checkScopes(request: FastifyRequest, granted: readonly string[]): void {
  const needed = declaredScopes(request.routeOptions.config);
  if (needed.length === 0) {
    throw new ForbiddenError('this route takes Basic auth (login and password), not an access token');
  }
  const missing = needed.filter((scope) => !grants(granted, scope));
  if (missing.length > 0) throw new ForbiddenError(`scope required: ${missing.join(', ')}`);
}

/** The scopes a client may ask for in a new access token. */
export const GRANTABLE_SCOPES: readonly string[] = [...SCOPES, ALL_SCOPE];
