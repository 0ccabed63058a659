import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { registeredRoutes } from '../../src/shared/openapi.ts';
import type { App } from '../../src/shared/http.ts';
import { startTestServer, newDevice, basic, bearer, call } from '../server/helpers.ts';
import { startTestDevice } from '../helpers/device.ts';

// A device's health document is bounded in depth and shape: a deeply nested or oversized one gets
// a 400 that says why, never a 500, and keys outside the schema are not kept. Depth is bounded for
// every JSON body of both runtimes.

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const check = {
  description: 'Failed messages for last hour',
  observedValue: 0,
  observedUnit: 'messages',
  status: 'pass',
};
const health = { status: 'pass', version: '1.0.0', releaseId: 1, checks: { 'messages:failed': check } };

test('PUT /mobile/v1/device/health: bounded depth and shape, 400 with a reason, never 500; unknown keys are not kept', async () => {
  const server = await startTestServer();
  try {
    const { registration } = await newDevice(server);
    const put = (rawBody: string) =>
      call(`${server.mobileUrl}/device/health`, 'PUT', {
        auth: bearer(registration.token),
        rawBody,
        headers: { 'content-type': 'application/json' },
      });
    const json = (value: unknown) => JSON.stringify(value);

    // the finding: an extra key nested 100,000 deep (200 KB) used to overflow the stack
    for (const depth of [100_000, 33]) {
      const reply = await put(`{"status":"pass","version":"1","releaseId":1,"checks":{},"extra":${nested(depth - 1)}}`);
      assert.equal(reply.status, 400, `depth ${depth}: ${reply.text.slice(0, 200)}`);
      assert.match(reply.body.message, /nests objects and arrays more than 32 levels deep/);
    }
    // a quoted bracket is text, not nesting
    assert.equal((await put(json({ ...health, version: '['.repeat(64) }))).status, 204);

    for (const [what, body, mentions] of [
      [
        '65 checks',
        { ...health, checks: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`c${i}`, check])) },
        /checks must NOT have more than 64 properties/,
      ],
      ['a 65-character check name', { ...health, checks: { ['n'.repeat(65)]: check } }, /checks/],
      [
        'a 257-character description',
        { ...health, checks: { c: { ...check, description: 'd'.repeat(257) } } },
        /description must NOT have more than 256 characters/,
      ],
      ['a 65-character unit', { ...health, checks: { c: { ...check, observedUnit: 'u'.repeat(65) } } }, /observedUnit/],
      ['a 65-character version', { ...health, version: 'v'.repeat(65) }, /version/],
      ['a releaseId past 32 bits', { ...health, releaseId: 2 ** 40 }, /releaseId/],
    ] as const) {
      const reply = await put(json(body));
      assert.equal(reply.status, 400, `${what}: ${reply.text.slice(0, 200)}`);
      assert.match(reply.body.message, mentions, what);
    }

    // Keys a newer app may add are taken but not kept: the stored document holds the schema's fields only.
    const withExtras = {
      ...health,
      extra: 'x'.repeat(500_000),
      checks: { 'messages:failed': { ...check, note: 'y'.repeat(1000) } },
    };
    assert.equal((await put(json(withExtras))).status, 204);
    const db = new Database(join(server.dataDir, 'server.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT health FROM devices WHERE id = ?').get(registration.id) as { health: string };
      assert.deepEqual(JSON.parse(row.health), health);
      assert.ok(row.health.length < 300, `stored ${row.health.length} characters`);
    } finally {
      db.close();
    }
  } finally {
    await server.cleanup();
  }
});

/** Every route that takes a body, sent one nested too deep: what did not answer 400. */
async function deepBodyAnswers(
  base: string,
  app: App,
  authFor: (url: string, method: string) => string,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const route of registeredRoutes(app)) {
    if (!['POST', 'PUT', 'PATCH'].includes(route.method)) continue;
    const url = base + route.url.replace(/:[A-Za-z0-9_]+/g, 'some-id').replace(/\*$/, 'x');
    const reply = await call(url, route.method, {
      auth: authFor(route.url, route.method),
      rawBody: `{"a":${nested(5000)}}`,
      headers: { 'content-type': 'application/json' },
    });
    if (reply.status !== 400 || !/more than 32 levels deep/.test(reply.body?.message ?? '')) {
      wrong.push(`${route.method} ${route.url}: ${reply.status} ${reply.text.slice(0, 120)}`);
    }
  }
  return wrong;
}

test('every JSON body of both runtimes is refused past 32 levels of nesting, with a 400 that says so', async () => {
  const server = await startTestServer();
  const device = await startTestDevice();
  try {
    const { registration, login, password } = await newDevice(server);
    // the device's token on its own routes; Basic on the 3rdparty API and for linking a device
    const serverAuth = (url: string, method: string) =>
      /\/mobile\/v1\//.test(url) && !(method === 'POST' && url.endsWith('/mobile/v1/device'))
        ? bearer(registration.token)
        : basic(login, password);
    assert.deepEqual(await deepBodyAnswers(server.url, server.app, serverAuth), []);
    assert.deepEqual(await deepBodyAnswers(device.url, device.app, () => device.api.authorization), []);
    // 32 levels still pass the parser (the route's schema then judges the document)
    const reply = await call(`${device.url}/webhooks`, 'POST', {
      auth: device.api.authorization,
      rawBody: `{"url":"http://127.0.0.1:9/h","event":"sms:received","x":${nested(31)}}`,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(reply.status, 400);
    assert.match(reply.body.message, /unknown key "x"/);
  } finally {
    await device.cleanup();
    await server.cleanup();
  }
});
