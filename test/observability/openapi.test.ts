import { test } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestDevice } from '../helpers/device.ts';
import { startTestServer } from '../server/helpers.ts';
import { registeredRoutes } from '../../src/shared/openapi.ts';
import type { App } from '../../src/shared/http.ts';
import { REFRESH_SCOPE, SCOPES } from '../../src/shared/scopes.ts';
import { EVENT_NAMES, PAYLOAD_KEYS_ALL, REQUIRED_PAYLOAD_KEYS } from '../../src/protocol/index.ts';

const KNOWN_SCOPES = new Set<string>([...SCOPES, REFRESH_SCOPE]);

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
    paths: Record<string, Record<string, { tags?: string[]; security?: unknown[]; operationId?: string }>>;
    webhooks: Record<string, { post: WebhookOperation }>;
    components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
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

  // Every operation of the APIs that take Basic auth also takes an access token, and lists the
  // scopes it needs (device registration, with a user's Basic auth, is no operation of theirs).
  const unscoped = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => !op.tags?.includes('mobile') && op.security?.some((s) => 'basicAuth' in (s as object)))
      .filter(([, op]) => {
        const token = op.security?.find((s) => 'jwtAuth' in (s as object)) as { jwtAuth: string[] } | undefined;
        return !token || token.jwtAuth.length === 0 || token.jwtAuth.some((scope) => !KNOWN_SCOPES.has(scope));
      })
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  );
  assert.deepEqual(unscoped, [], 'every operation with Basic auth lists the scopes of its access tokens');

  checkWebhooks(doc);

  // Generated clients name their methods after operationIds: every operation has one, camelCase and unique.
  const ids = [
    ...Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, id: op.operationId })),
    ),
    ...Object.entries(doc.webhooks).map(([event, item]) => ({ at: `webhook ${event}`, id: item.post.operationId })),
  ];
  assert.deepEqual(
    ids.filter(({ id }) => id === undefined || !/^[a-z][A-Za-z0-9]*$/.test(id)).map(({ at }) => at),
    [],
    'every operation has a camelCase operationId',
  );
  const seen = new Map<string, string>();
  for (const { at, id } of ids) {
    assert.ok(!seen.has(id!), `operationId ${id} of ${at} is also that of ${seen.get(id!)}`);
    seen.set(id!, at);
  }

  const ui = await fetch(`${baseUrl}/docs`);
  assert.equal(ui.status, 200);
  assert.match(await ui.text(), /swagger/i, 'Swagger UI at /docs');
  // The page loads /docs/openapi.json; the plugin's own /docs/json serves the very same document.
  const initializer = await (await fetch(`${baseUrl}/docs/static/swagger-initializer.js`)).text();
  assert.match(initializer, /"urls":\[\{"url":"\/docs\/openapi\.json"/, 'Swagger UI is pointed at /docs/openapi.json');
  assert.deepEqual(await (await fetch(`${baseUrl}/docs/json`)).json(), doc);
  return doc;
}

interface WebhookOperation {
  operationId?: string;
  parameters: { in: string; name: string; required?: boolean }[];
  requestBody: { content: Record<string, { schema: { properties: Record<string, any>; required: string[] } }> };
}

/**
 * Every event is described in the `webhooks` section: the signature headers and the envelope, whose
 * payload refers to a schema holding exactly the keys the code may send, and requiring those it must.
 */
function checkWebhooks(doc: {
  webhooks: Record<string, { post: WebhookOperation }>;
  components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
}): void {
  assert.deepEqual(Object.keys(doc.webhooks ?? {}).sort(), [...EVENT_NAMES].sort(), 'every event is in webhooks');
  for (const event of EVENT_NAMES) {
    const operation = doc.webhooks[event].post;
    assert.deepEqual(
      operation.parameters.filter((p) => p.in === 'header' && p.required).map((p) => p.name),
      ['X-Signature', 'X-Timestamp'],
      `${event}: signed`,
    );
    const envelope = operation.requestBody.content['application/json'].schema;
    assert.deepEqual(Object.keys(envelope.properties), ['deviceId', 'event', 'id', 'payload', 'webhookId']);
    assert.deepEqual(envelope.required, ['deviceId', 'event', 'id', 'payload', 'webhookId']);
    assert.equal(envelope.properties.event.const, event);
    const ref = String(envelope.properties.payload.$ref);
    const payload = doc.components.schemas[ref.replace('#/components/schemas/', '')];
    assert.ok(payload, `${event}: ${ref} is a schema of the document`);
    assert.deepEqual(Object.keys(payload.properties), PAYLOAD_KEYS_ALL[event], `${event}: every payload key`);
    assert.deepEqual(payload.required ?? [], REQUIRED_PAYLOAD_KEYS[event], `${event}: the keys always sent`);
  }
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
    assert.deepEqual(doc.paths['/deliveries'].get.security, [{ basicAuth: [] }, { jwtAuth: ['deliveries:read'] }]);
    assert.deepEqual(doc.paths['/dashboard/overview'].get.security, [
      { basicAuth: [] },
      { jwtAuth: ['devices:list', 'webhooks:list', 'deliveries:read'] },
    ]);
    assert.equal(doc.paths['/health'].get.security, undefined, 'health needs no credentials');
    assert.deepEqual(
      operationIds(doc, (path) => !ALIAS_PATH.test(path) || NOT_ALIASES.has(path)),
      DEVICE_OPERATION_IDS,
      'stable operationIds',
    );
    assertAliasIds(doc, (path) =>
      NOT_ALIASES.has(path)
        ? path
        : path.replace(ALIAS_PATH, (_, base) => (base === 'webhook' ? '/webhooks' : '/message')),
    );
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
    assert.deepEqual(doc.paths['/3rdparty/v1/webhooks'].post.security, [
      { basicAuth: [] },
      { jwtAuth: ['webhooks:write'] },
    ]);
    assert.deepEqual(doc.paths['/api/3rdparty/v1/message'].post.security, [
      { basicAuth: [] },
      { jwtAuth: ['messages:send'] },
    ]);
    assert.ok(doc.paths['/mobile/v1/message'].get.tags?.includes('mobile'));
    assert.deepEqual(doc.paths['/mobile/v1/message'].get.security, [{ bearerAuth: [] }]);
    assert.ok(!doc.paths['/mobile/v1/message'].get.tags?.includes('3rdparty'));
    // registration comes before the device has a token
    assert.deepEqual(doc.paths['/mobile/v1/device'].post.security, [
      { bearerAuth: [] },
      { basicAuth: [] },
      { registrationCode: [] },
    ]);
    // answered without a token too (the caller's address), as the original does
    assert.deepEqual(doc.paths['/mobile/v1/device'].get.security, [{ bearerAuth: [] }, {}]);
    assert.deepEqual(doc.paths['/mobile/v1/user/code'].get.security, [{ basicAuth: [] }]);
    assert.equal(doc.paths['/3rdparty/v1/health'].get.security, undefined, 'health needs no credentials');

    const canonical = (path: string) => !path.startsWith('/api/') && !/^\/3rdparty\/v1\/message(\/|$)/.test(path);
    assert.deepEqual(operationIds(doc, canonical), SERVER_OPERATION_IDS, 'stable operationIds');
    // the alias prefix: the same operationId with `api` in front
    assertAliasIds(doc, (path) => (path.startsWith('/api/') ? path.slice('/api'.length) : undefined), 'api');
    // the path alias /message of /messages: `…Alias`
    assertAliasIds(doc, (path) =>
      /^\/3rdparty\/v1\/message(\/|$)/.test(path) ? path.replace('/message', '/messages') : undefined,
    );
  } finally {
    await server.cleanup();
  }
});

type Doc = Awaited<ReturnType<typeof checkDocument>>;

/** `METHOD /path` → operationId, of the paths `include` keeps. */
function operationIds(doc: Doc, include: (path: string) => boolean): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(doc.paths)
      .filter(([path]) => include(path))
      .flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => [`${m.toUpperCase()} ${path}`, op.operationId])),
  );
}

/**
 * Every path that `canonicalOf` maps to another (an alias) has the other's operationIds, with
 * `prefix` in front, or `Alias` behind when there is no prefix.
 */
function assertAliasIds(doc: Doc, canonicalOf: (path: string) => string | undefined, prefix?: string): void {
  let checked = 0;
  for (const [path, ops] of Object.entries(doc.paths)) {
    const canonicalPath = canonicalOf(path);
    if (canonicalPath === undefined || canonicalPath === path) continue;
    for (const [method, op] of Object.entries(ops)) {
      const original: string | undefined = doc.paths[canonicalPath]?.[method]?.operationId;
      assert.ok(original, `${method.toUpperCase()} ${path} is an alias of ${canonicalPath}, which exists`);
      const expected: string = prefix ? prefix + original[0].toUpperCase() + original.slice(1) : `${original}Alias`;
      assert.equal(op.operationId, expected, `${method.toUpperCase()} ${path}`);
      checked++;
    }
  }
  assert.ok(checked > 0, 'some aliases were checked');
}

const ALIAS_PATH = /^\/(webhook|messages)(?=\/|$)/;
/** Paths under /messages that are the app's own names, not aliases of /message. */
const NOT_ALIASES = new Set(['/messages/inbox/export']);

const DEVICE_OPERATION_IDS = {
  'POST /auth/token': 'issueToken',
  'GET /auth/token': 'listTokens',
  'POST /auth/token/refresh': 'refreshToken',
  'DELETE /auth/token/{jti}': 'revokeToken',
  'GET /health': 'getHealth',
  'GET /metrics': 'getMetrics',
  'GET /device': 'getDevice',
  'GET /webhooks': 'listWebhooks',
  'POST /webhooks': 'registerWebhook',
  'DELETE /webhooks/{id}': 'deleteWebhook',
  'POST /webhooks/{id}/test': 'testWebhook',
  'POST /message': 'sendMessage',
  'GET /message': 'listMessages',
  'GET /message/{id}': 'getMessage',
  'DELETE /message/{id}': 'cancelMessage',
  'GET /inbox': 'listInbox',
  'POST /inbox/refresh': 'refreshInbox',
  'POST /messages/inbox/export': 'exportInbox',
  'GET /inbox/{id}': 'getInboxMessage',
  'GET /inbox/{id}/attachments/{partId}': 'getInboxAttachment',
  'GET /logs': 'getLogs',
  'GET /settings': 'getSettings',
  'PATCH /settings': 'updateSettings',
  'PUT /settings': 'replaceSettings',
  'GET /deliveries': 'listDeliveries',
  'GET /deliveries/{id}': 'getDelivery',
  'POST /deliveries/{id}/redeliver': 'redeliver',
  'POST /sim/v1/incoming': 'simulateIncomingSms',
  'GET /sim/v1/network': 'getSimulatedNetwork',
  'POST /sim/v1/network': 'setSimulatedNetwork',
  'GET /dashboard/overview': 'getDashboardOverview',
  'GET /stats': 'getActivityStats',
  'GET /events/stream': 'streamEvents',
};

const SERVER_OPERATION_IDS = {
  'POST /3rdparty/v1/auth/token': 'issueToken',
  'GET /3rdparty/v1/auth/token': 'listTokens',
  'POST /3rdparty/v1/auth/token/refresh': 'refreshToken',
  'DELETE /3rdparty/v1/auth/token/{jti}': 'revokeToken',
  'GET /metrics': 'getMetrics',
  'GET /health': 'getHealth',
  'GET /health/ready': 'getReadiness',
  'GET /health/live': 'getLiveness',
  'GET /health/startup': 'getStartup',
  'GET /3rdparty/v1/health': 'thirdPartyGetHealth',
  'GET /3rdparty/v1/health/ready': 'thirdPartyGetReadiness',
  'GET /3rdparty/v1/health/live': 'thirdPartyGetLiveness',
  'GET /3rdparty/v1/health/startup': 'thirdPartyGetStartup',
  'GET /3rdparty/v1/webhooks': 'listWebhooks',
  'POST /3rdparty/v1/webhooks': 'registerWebhook',
  'DELETE /3rdparty/v1/webhooks/{id}': 'deleteWebhook',
  'POST /3rdparty/v1/webhooks/{id}/test': 'testWebhook',
  'POST /3rdparty/v1/messages': 'sendMessage',
  'GET /3rdparty/v1/messages': 'listMessages',
  'GET /3rdparty/v1/messages/{id}': 'getMessage',
  'DELETE /3rdparty/v1/messages/{id}': 'cancelMessage',
  'GET /3rdparty/v1/devices': 'listDevices',
  'GET /3rdparty/v1/devices/webhooks': 'listDevicesLocalWebhooks',
  'GET /3rdparty/v1/devices/{id}/webhooks': 'getDeviceLocalWebhooks',
  'DELETE /3rdparty/v1/devices/{id}': 'deleteDevice',
  'GET /3rdparty/v1/settings': 'getSettings',
  'PATCH /3rdparty/v1/settings': 'updateSettings',
  'PUT /3rdparty/v1/settings': 'replaceSettings',
  'GET /3rdparty/v1/deliveries': 'listDeliveries',
  'GET /3rdparty/v1/stats': 'getActivityStats',
  'GET /3rdparty/v1/deliveries/{id}': 'getDelivery',
  'POST /3rdparty/v1/deliveries/{id}/redeliver': 'redeliver',
  'GET /3rdparty/v1/events/stream': 'streamEvents',
  'GET /3rdparty/v1/logs': 'getLogs',
  'POST /3rdparty/v1/inbox/refresh': 'refreshInbox',
  'POST /3rdparty/v1/inbox/export': 'exportInbox',
  'POST /3rdparty/v1/messages/inbox/export': 'exportMessagesInbox',
  'POST /mobile/v1/device': 'mobileRegisterDevice',
  'GET /mobile/v1/device': 'mobileGetDevice',
  'PATCH /mobile/v1/device': 'mobileUpdateDevice',
  'POST /mobile/v1/device/token': 'mobileRotateDeviceToken',
  'POST /mobile/v1/device/ping': 'mobilePing',
  'PUT /mobile/v1/device/health': 'mobileReportHealth',
  'POST /mobile/v1/device/activity': 'mobileReportActivity',
  'GET /mobile/v1/message': 'mobilePullMessages',
  'PATCH /mobile/v1/message': 'mobileReportMessageStates',
  'GET /mobile/v1/webhooks': 'mobileListWebhooks',
  'GET /mobile/v1/settings': 'mobileGetSettings',
  'PATCH /mobile/v1/user/password': 'mobileChangePassword',
  'GET /mobile/v1/user/code': 'mobileGetRegistrationCode',
  'GET /mobile/v1/events': 'mobileStreamEvents',
};
