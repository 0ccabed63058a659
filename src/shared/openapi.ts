import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { App } from './http.ts';
import { VERSION } from './version.ts';

export interface OpenApiOptions {
  title: string;
  description: string;
  tags: { name: string; description: string }[];
  securitySchemes: Record<string, Record<string, unknown>>;
  /** the security requirement of a route (by its full URL), or undefined for none */
  securityOf: (url: string) => Record<string, string[]>[] | undefined;
  /** extra tags for a route by its URL (e.g. its audience) */
  extraTagsOf?: (url: string) => string[];
}

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
      routes.push({ method, url: route.url, hidden: (route.schema as { hide?: boolean } | undefined)?.hide === true });
    }
  });
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: options.title, description: options.description, version: VERSION },
      tags: options.tags,
      components: { securitySchemes: options.securitySchemes as never },
    },
    transform: ({ schema, url }) => {
      const given = (schema ?? {}) as Record<string, unknown>;
      const tags = [...((given.tags as string[] | undefined) ?? []), ...(options.extraTagsOf?.(url) ?? [])];
      const security = options.securityOf(url);
      return {
        schema: {
          ...given,
          ...(tags.length ? { tags: [...new Set(tags)] } : {}),
          ...(security ? { security } : {}),
        } as never,
        url,
      };
    },
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

export interface RegisteredRoute {
  method: string;
  url: string;
  /** left out of the document on purpose (the documentation and dashboard files) */
  hidden: boolean;
}

const routeLog = new WeakMap<App, RegisteredRoute[]>();

/** Every route declared on an app since registerOpenApi, as Fastify's onRoute hook saw it. */
export function registeredRoutes(app: App): readonly RegisteredRoute[] {
  return routeLog.get(app) ?? [];
}

/** Whether a request URL is one of the documentation routes (served without credentials). */
export function isDocsUrl(url: string | undefined): boolean {
  return url !== undefined && (url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`));
}
