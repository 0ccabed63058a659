import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registeredRoutes, type RegisteredRoute } from '../../src/shared/openapi.ts';
import { startTestServer, newDevice, basic, bearer } from '../server/helpers.ts';
import { startTestDevice } from '../helpers/device.ts';

// Clients such as the official Python one send `Content-Type: application/json` on every request,
// bodiless GETs and DELETEs included. Every route is taken from the app itself, so a route added
// later is covered without touching this file.

const EMPTY_BODY = 'the body is empty; send a JSON document';

/** A concrete path for a route: parameters get an id that exists nowhere, a wildcard a file name. */
const concrete = (url: string) => url.replace(/:[A-Za-z0-9_]+/g, 'no-such-id').replace(/\*$/, 'index.html');

interface Answer {
  status: number;
  message?: string;
}

/** One request with an empty body (Content-Length: 0 where the method may carry a body). */
async function send(base: string, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  const controller = new AbortController();
  const bodyless = method === 'GET' || method === 'HEAD';
  const response = await fetch(base + path, {
    method,
    headers,
    // bytes, not '': fetch would label a string text/plain
    body: bodyless ? undefined : new Uint8Array(0),
    signal: controller.signal,
  });
  // an event stream stays open: its status is all this needs
  if (/event-stream/.test(response.headers.get('content-type') ?? '')) {
    controller.abort();
    return { status: response.status };
  }
  const text = await response.text();
  let message: string | undefined;
  try {
    message = (JSON.parse(text) as { message?: string }).message;
  } catch {
    // not JSON: an HTML page, a script, the metrics text
  }
  return { status: response.status, message };
}

async function checkEveryRoute(
  base: string,
  routes: readonly RegisteredRoute[],
  authFor: (route: RegisteredRoute) => string,
): Promise<{ bodiless: number; withBody: number }> {
  const problems: string[] = [];
  let bodiless = 0;
  let withBody = 0;
  for (const route of routes) {
    if (route.method === 'OPTIONS') continue;
    const path = concrete(route.url);
    // Asked again for each request: a route may use up its credential (a device token rotation).
    const auth = () => ({ authorization: authFor(route) });
    const plain = await send(base, route.method, path, auth());
    const asJson = await send(base, route.method, path, { ...auth(), 'content-type': 'application/json' });
    const asText = await send(base, route.method, path, { ...auth(), 'content-type': 'text/plain' });
    const at = `${route.method} ${route.url}`;
    if (route.takesBody) {
      withBody++;
      for (const [how, answer] of [
        ['without Content-Type', plain],
        ['as JSON', asJson],
      ] as const) {
        if (answer.status !== 400 || answer.message !== EMPTY_BODY) {
          problems.push(`${at} ${how}: an empty body got ${answer.status} ${answer.message ?? ''}`);
        }
      }
      continue;
    }
    bodiless++;
    for (const [how, answer] of [
      ['as JSON', asJson],
      ['as text', asText],
    ] as const) {
      if (answer.status !== plain.status || answer.message !== plain.message) {
        problems.push(
          `${at} ${how}: ${answer.status} ${answer.message ?? ''}, without Content-Type: ${plain.status} ${plain.message ?? ''}`,
        );
      }
    }
    // 501: the routes this server documents but does not serve
    if ((plain.status >= 500 && plain.status !== 501) || plain.status === 415 || plain.message === EMPTY_BODY) {
      problems.push(`${at}: ${plain.status} ${plain.message ?? ''}`);
    }
  }
  assert.deepEqual(problems, []);
  return { bodiless, withBody };
}

test('server: every route without a body answers the same with Content-Type: application/json; the others want one', async () => {
  const server = await startTestServer();
  try {
    const { login, password, registration } = await newDevice(server);
    // A token rotation ends the token it was sent with: each one gets a device of its own.
    const spareTokens = await Promise.all(
      Array.from({ length: 6 }, async () => (await newDevice(server, 'spare', { login, password })).registration.token),
    );
    // the mobile API takes the device's token, registration excepted; the rest a user's login
    const counts = await checkEveryRoute(server.url, registeredRoutes(server.app), (route) =>
      /\/device\/token$/.test(route.url)
        ? bearer(spareTokens.pop()!)
        : /^(\/api)?\/mobile\/v1\//.test(route.url) && !(route.method === 'POST' && /\/device$/.test(route.url))
          ? bearer(registration.token)
          : basic(login, password),
    );
    assert.ok(counts.bodiless > 30, `bodiless routes checked: ${counts.bodiless}`);
    assert.ok(counts.withBody > 10, `routes with a body checked: ${counts.withBody}`);
    // the device token still works: no bodiless call above ended it
    const still = await fetch(`${server.mobileUrl}/device`, { headers: { authorization: bearer(registration.token) } });
    assert.equal(still.status, 200);
  } finally {
    await server.cleanup();
  }
});

test('device: every route without a body answers the same with Content-Type: application/json; the others want one', async () => {
  const device = await startTestDevice();
  try {
    const counts = await checkEveryRoute(device.url, registeredRoutes(device.app), () => device.api.authorization);
    assert.ok(counts.bodiless > 10, `bodiless routes checked: ${counts.bodiless}`);
    assert.ok(counts.withBody > 3, `routes with a body checked: ${counts.withBody}`);
  } finally {
    await device.cleanup();
  }
});

test('a DELETE as the Python client sends it (Content-Type: application/json, Content-Length: 0) deletes', async () => {
  const server = await startTestServer();
  try {
    const { login, password } = await newDevice(server);
    const auth = basic(login, password);
    const created = await fetch(`${server.thirdPartyUrl}/webhooks`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://example.com/hook', event: 'sms:received' }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const deleted = await fetch(`${server.thirdPartyUrl}/webhooks/${id}`, {
      method: 'DELETE',
      headers: { authorization: auth, 'content-type': 'application/json', 'content-length': '0' },
    });
    assert.equal(deleted.status, 204);
    const list = await fetch(`${server.thirdPartyUrl}/webhooks`, {
      headers: { authorization: auth, 'content-type': 'application/json' },
    });
    assert.deepEqual(await list.json(), []);
  } finally {
    await server.cleanup();
  }
});
