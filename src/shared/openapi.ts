import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { App } from './http.ts';
import { VERSION } from './version.ts';
import { declaredScopes } from './scopes.ts';
import { envelopeSchema, EVENT_NAMES, PAYLOAD_SCHEMAS, payloadSchemaName } from '../protocol/events.ts';

export interface OpenApiOptions {
  title: string;
  description: string;
  /** each tag's description, by its name, in the order the document lists them */
  tags: Record<string, string>;
  securitySchemes: Record<string, Record<string, unknown>>;
}

/** An OpenAPI security requirement, e.g. `{ basicAuth: [] }`; a list of them means "any of". */
export type SecurityRequirement = Record<string, string[]>;

/** How access tokens (JWT, HS256) are sent: `Authorization: Bearer <token>`; each operation lists the scopes it needs. */
export const JWT_SECURITY_SCHEME = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } as const;

/** Where the documents are served; public, like /health: they describe routes, never data or secrets. */
export const DOCS_PREFIX = '/docs';

/**
 * Generate an OpenAPI 3.1 document from the route schemas (@fastify/swagger) and serve it at
 * `/docs/openapi.json`, with Swagger UI at `/docs`. Register it before any route: the routes must be
 * declared in plugins registered after this (`app.register(async (api) => …)`), which is how the
 * generator sees them.
 */
export function registerOpenApi(app: App, options: OpenApiOptions): void {
  // The same hook the generator uses, but added at once: a route declared too early for the
  // generator still shows up here, so the test comparing the two catches it.
  const routes: RegisteredRoute[] = [];
  routeLog.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const schema = route.schema as { hide?: boolean; body?: unknown } | undefined;
      routes.push({ method, url: route.url, hidden: schema?.hide === true, takesBody: schema?.body !== undefined });
    }
  });
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: options.title, description: options.description, version: VERSION },
      tags: Object.entries(options.tags).map(([name, description]) => ({ name, description })),
      components: { securitySchemes: options.securitySchemes as never, schemas: EVENT_PAYLOAD_SCHEMAS as never },
      webhooks: WEBHOOKS,
    } as never,
  });
  // Swagger UI always sets `url` to its own `./json` (the same document, app.swagger()); a `urls`
  // list is what it reads instead, so the page loads the address this project documents.
  app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: {
      urls: [{ url: `${DOCS_PREFIX}/openapi.json`, name: options.title }],
      'urls.primaryName': options.title,
    } as never,
  });
  app.register(async (scope) => {
    scope.get(`${DOCS_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  });
}

/** Every event's payload schema, by its name in the documents (`SmsReceivedPayload`, …). */
const EVENT_PAYLOAD_SCHEMAS = Object.fromEntries(
  EVENT_NAMES.map((event) => [payloadSchemaName(event), PAYLOAD_SCHEMAS[event]]),
);

/**
 * The requests a device sends to registered webhooks, one per event, in the `webhooks` section
 * of OpenAPI 3.1: the signed envelope, its payload referring to the schema above.
 */
const WEBHOOKS = Object.fromEntries(
  EVENT_NAMES.map((event) => [
    event,
    {
      post: {
        operationId: `${payloadSchemaName(event)
          .replace(/Payload$/, '')
          .replace(/^./, (c) => c.toLowerCase())}Event`,
        summary: `The ${event} event`,
        description:
          'Sent by the device to every webhook registered for this event. Verify X-Signature over the raw body ' +
          'followed by X-Timestamp before trusting it.',
        parameters: [
          {
            in: 'header',
            name: 'X-Signature',
            required: true,
            description:
              'HMAC-SHA256 of the raw body followed by X-Timestamp, keyed with webhooks.signing_key, lowercase hex',
            schema: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          },
          {
            in: 'header',
            name: 'X-Timestamp',
            required: true,
            description: 'Unix seconds when the attempt was made',
            schema: { type: 'string', pattern: '^[0-9]+$' },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: envelopeSchema(event, { $ref: `#/components/schemas/${payloadSchemaName(event)}` }),
            },
          },
        },
        responses: {
          '2XX': { description: 'Received; any other answer (or none within 30 s) is retried' },
        },
      },
    },
  ]),
);

export interface RegisteredRoute {
  method: string;
  url: string;
  /** left out of the document on purpose (the documentation and dashboard files) */
  hidden: boolean;
  /** the route defines a request body (and refuses a request without one) */
  takesBody: boolean;
}

const routeLog = new WeakMap<App, RegisteredRoute[]>();

/** Every route declared on an app since registerOpenApi, as Fastify's onRoute hook saw it. */
export function registeredRoutes(app: App): readonly RegisteredRoute[] {
  return routeLog.get(app) ?? [];
}

/** What a group of routes declares for the document, where the group is registered. */
export interface RouteGroupDocs {
  /** added to the tags of each operation (e.g. the API's audience) */
  tags?: string[];
  /** how each operation of the group authenticates, unless the route declares its own; none: public */
  security?: SecurityRequirement[];
  /**
   * put before each operationId (camelCase): a group mounted twice (an API under an alias prefix)
   * or beside a namesake (the devices' `listWebhooks` beside the integrators') keeps them unique
   */
  operationIdPrefix?: string;
  /**
   * the security scheme of access tokens: each route of the group must declare its scope
   * (`config.scope`), which the document lists under this scheme beside `security`
   */
  tokenScheme?: string;
}

interface RouteDocs {
  /** what the route itself declared */
  own: { tags?: string[]; security?: SecurityRequirement[]; operationId?: string };
  /** the groups it is in, outermost first */
  groups: RouteGroupDocs[];
}

const routeDocs = new WeakMap<object, RouteDocs>();

/**
 * Declare, for the document, what every route registered in `scope` (and in the plugins inside
 * it) has in common: call it first thing in the plugin that declares them. Groups nest: tags add
 * up, the innermost security applies, and operationId prefixes join outermost first
 * (`api` + `thirdParty` + `getHealth` = `apiThirdPartyGetHealth`).
 */
export function documentRouteGroup(scope: App, group: RouteGroupDocs): void {
  scope.addHook('onRoute', (route) => {
    const schema = (route.schema ?? {}) as RouteDocs['own'] & Record<string, unknown>;
    let docs = routeDocs.get(route);
    if (!docs) {
      docs = { own: { tags: schema.tags, security: schema.security, operationId: schema.operationId }, groups: [] };
      routeDocs.set(route, docs);
    }
    docs.groups.push(group);
    const tags = [...(docs.own.tags ?? []), ...docs.groups.flatMap((g) => g.tags ?? [])];
    let security = docs.own.security ?? docs.groups.findLast((g) => g.security !== undefined)?.security;
    const tokenScheme = docs.groups.findLast((g) => g.tokenScheme !== undefined)?.tokenScheme;
    if (tokenScheme !== undefined && schema.hide !== true) {
      const scopes = declaredScopes(route.config);
      if (scopes.length === 0) {
        throw new Error(`${String(route.method)} ${route.url} declares no scope: add config: { scope: '…' }`);
      }
      security = [...(security ?? []), { [tokenScheme]: scopes }];
    }
    const prefixes = docs.groups.map((g) => g.operationIdPrefix ?? '').filter((p) => p !== '');
    // A fresh object: one schema object may be shared by several routes (and mounts).
    route.schema = {
      ...schema,
      ...(tags.length > 0 ? { tags: [...new Set(tags)] } : {}),
      ...(security !== undefined && security.length > 0 ? { security } : {}),
      ...(docs.own.operationId !== undefined ? { operationId: camelJoin([...prefixes, docs.own.operationId]) } : {}),
    };
  });
}

/** `['api', 'thirdParty', 'getHealth']` → `apiThirdPartyGetHealth`. */
function camelJoin(parts: string[]): string {
  return parts.map((part, i) => (i === 0 ? part : part[0].toUpperCase() + part.slice(1))).join('');
}
