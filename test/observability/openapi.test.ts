import { test } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestDevice } from '../helpers/device.ts';
import { startTestServer } from '../server/helpers.ts';
import { registeredRoutes } from '../../src/shared/openapi.ts';
import type { App } from '../../src/shared/http.ts';

/** Fastify's `/a/:id` is OpenAPI's `/a/{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** Routes left out of the documents on purpose: Swagger UI's own files and the dashboard's. */
const isDocsOrDashboard = (url: string) =>
  url === '/' || url.startsWith('/ui/') || url === '/docs' || url.startsWith('/docs/');

async function checkDocument(app: App, baseUrl: string, expectTitle: RegExp) {
  const response = await fetch(`${baseUrl}/docs/openapi.json`);
  assert.equal(response.status, 200, 'served without credentials');
  const doc = (await response.json()) as {
    openapi: string;
    info: { title: string };
    paths: Record<string, Record<string, { tags?: string[]; security?: unknown[] }>>;
  };
  assert.equal(doc.openapi, '3.1.0');
  assert.match(doc.info.title, expectTitle);
  await SwaggerParser.validate(structuredClone(doc) as never);

  const routes = registeredRoutes(app).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
  assert.ok(routes.length > 10, `routes were collected (${routes.length})`);
  const missing = routes.filter((r) => !r.hidden && !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]);
  assert.deepEqual(
    missing.map((r) => `${r.method} ${r.url}`),
    [],
    'every registered route is in the document',
  );
  const hidden = routes.filter((r) => r.hidden && !isDocsOrDashboard(r.url));
  assert.deepEqual(
    hidden.map((r) => `${r.method} ${r.url}`),
    [],
    'only documentation and dashboard files are left out',
  );
  // Every operation says what a success looks like (a 204, or a 2xx with its content), not the
  // generator's empty "Default Response"; the routes this server does not serve document their 501.
  const withoutSuccess = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as Record<string, { tags?: string[]; responses?: Record<string, { content?: unknown }> }>)
      .filter(([, op]) => {
        const responses = Object.entries(op.responses ?? {});
        if (op.tags?.includes('not implemented')) return !responses.some(([code]) => code === '501');
        return !responses.some(
          ([code, response]) => code === '204' || (/^2/.test(code) && response.content !== undefined),
        );
      })
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  );
  assert.deepEqual(withoutSuccess, [], 'every operation documents its 2xx response');
  // and nothing is documented that is not served
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
  const served = new Set(routes.map((r) => `${r.method} ${openApiPath(r.url)}`));
  assert.deepEqual(
    documented.filter((d) => !served.has(d)),
    [],
  );

  const ui = await fetch(`${baseUrl}/docs`);
  assert.equal(ui.status, 200);
  assert.match(await ui.text(), /swagger/i, 'Swagger UI at /docs');
  // The page loads /docs/openapi.json; the plugin's own /docs/json serves the very same document.
  const initializer = await (await fetch(`${baseUrl}/docs/static/swagger-initializer.js`)).text();
  assert.match(initializer, /"urls":\[\{"url":"\/docs\/openapi\.json"/, 'Swagger UI is pointed at /docs/openapi.json');
  assert.deepEqual(await (await fetch(`${baseUrl}/docs/json`)).json(), doc);
  return doc;
}

test('device: the Local API document validates and lists every route', async () => {
  const device = await startTestDevice();
  try {
    const doc = await checkDocument(device.app, device.url, /Local API/);
    for (const path of [
      '/webhooks',
      '/message',
      '/deliveries',
      '/deliveries/{id}/redeliver',
      '/sim/v1/incoming',
      '/events/stream',
      '/metrics',
    ]) {
      assert.ok(doc.paths[path], `${path} documented`);
    }
    assert.deepEqual(doc.paths['/deliveries'].get.security, [{ basicAuth: [] }]);
    assert.equal(doc.paths['/health'].get.security, undefined, 'health needs no credentials');
  } finally {
    await device.cleanup();
  }
});

test('server: one document, 3rdparty and mobile routes tagged by audience', async () => {
  const server = await startTestServer();
  try {
    const doc = await checkDocument(server.app, server.url, /3rdparty and mobile/);
    for (const path of [
      '/3rdparty/v1/webhooks',
      '/api/3rdparty/v1/messages',
      '/mobile/v1/events',
      '/mobile/v1/device',
      '/health/live',
      '/metrics',
    ]) {
      assert.ok(doc.paths[path], `${path} documented`);
    }
    assert.ok(doc.paths['/3rdparty/v1/webhooks'].post.tags?.includes('3rdparty'));
    assert.deepEqual(doc.paths['/3rdparty/v1/webhooks'].post.security, [{ basicAuth: [] }]);
    assert.ok(doc.paths['/mobile/v1/message'].get.tags?.includes('mobile'));
    assert.deepEqual(doc.paths['/mobile/v1/message'].get.security, [{ bearerAuth: [] }]);
    assert.ok(!doc.paths['/mobile/v1/message'].get.tags?.includes('3rdparty'));
  } finally {
    await server.cleanup();
  }
});
