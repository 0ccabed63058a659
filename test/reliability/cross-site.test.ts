import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registeredRoutes } from '../../src/shared/openapi.ts';
import type { App } from '../../src/shared/http.ts';
import { startTestServer, newDevice, basic, call } from '../server/helpers.ts';
import { startTestDevice } from '../helpers/device.ts';
import { launch, TIMEOUT } from '../dashboard/browser.ts';

// A page of another site (or of another port of the same host) must not be able to use the
// credentials a browser holds for smsgate: every state-changing route of every API refuses a
// browser request that says it comes from elsewhere. Routes are taken from the apps themselves,
// so a route added later is checked too.

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const FOREIGN = 'http://127.0.0.1:1';

/** What a browser sends from a page of another origin, as each browser generation says it. */
const CROSS_SITE_HEADERS: Record<string, Record<string, string>> = {
  'a foreign Origin (no fetch metadata)': { origin: FOREIGN },
  'Origin: null (a sandboxed page)': { origin: 'null' },
  'Sec-Fetch-Site: cross-site': { origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' },
  'Sec-Fetch-Site: same-site (another port of this host)': { origin: FOREIGN, 'sec-fetch-site': 'same-site' },
};

/** Every state-changing route, each way a browser marks a foreign request: what was not refused. */
async function notRefused(base: string, app: App, authorization: string): Promise<{ tried: number; passed: string[] }> {
  const passed: string[] = [];
  let tried = 0;
  for (const route of registeredRoutes(app)) {
    if (SAFE.has(route.method)) continue;
    const path = route.url.replace(/:[A-Za-z0-9_]+/g, 'some-id').replace(/\*$/, 'x');
    for (const [what, headers] of Object.entries(CROSS_SITE_HEADERS)) {
      tried++;
      const reply = await call(base + path, route.method, { auth: authorization, body: {}, headers });
      if (reply.status !== 403 || !/cross-site browser request is refused/.test(reply.body?.message ?? '')) {
        passed.push(`${route.method} ${route.url} with ${what}: ${reply.status} ${reply.text.slice(0, 120)}`);
      }
    }
  }
  return { tried, passed };
}

test('the server refuses cross-site browser requests on every state-changing route, and takes its own origin and programs', async () => {
  const server = await startTestServer();
  try {
    const { login, password } = await newDevice(server);
    const auth = basic(login, password);
    const { tried, passed } = await notRefused(server.url, server.app, auth);
    assert.deepEqual(passed, []);
    assert.ok(tried >= 4 * 20, `state-changing requests tried: ${tried}`);

    // The finding itself: a bodiless POST with cached Basic credentials from another port.
    const devices = async () => (await call(`${server.thirdPartyUrl}/devices`, 'GET', { auth })).body.length;
    const before = await devices();
    const rogue = await call(`${server.url}/mobile/v1/device`, 'POST', {
      auth,
      headers: { origin: FOREIGN, 'sec-fetch-site': 'same-site' },
    });
    assert.equal(rogue.status, 403, rogue.text);
    assert.match(rogue.body.message, /Sec-Fetch-Site: same-site/);
    assert.equal(await devices(), before);

    // The same route from the page's own origin (the dashboard), as older and newer browsers mark it,
    // and from a program that sends neither header.
    const ownWays: Record<string, string>[] = [
      { origin: server.url, 'sec-fetch-site': 'same-origin' },
      { origin: server.url },
      { 'sec-fetch-site': 'none' },
      {},
    ];
    for (const headers of ownWays) {
      const linked = await call(`${server.url}/mobile/v1/device`, 'POST', { auth, body: { name: 'own' }, headers });
      assert.equal(linked.status, 201, `${JSON.stringify(headers)}: ${linked.text}`);
    }
    assert.equal(await devices(), before + 4);
    // reads stay open to any origin (a link, the dashboard's GETs): only changes are refused
    const read = await call(`${server.thirdPartyUrl}/devices`, 'GET', { auth, headers: { origin: FOREIGN } });
    assert.equal(read.status, 200);
  } finally {
    await server.cleanup();
  }
});

test("the device's Local API refuses cross-site browser requests on every state-changing route", async () => {
  const device = await startTestDevice();
  try {
    const { tried, passed } = await notRefused(device.url, device.app, device.api.authorization);
    assert.deepEqual(passed, []);
    assert.ok(tried >= 4 * 10, `state-changing requests tried: ${tried}`);
    const own = await call(`${device.url}/webhooks`, 'POST', {
      auth: device.api.authorization,
      headers: { origin: device.url, 'sec-fetch-site': 'same-origin' },
      body: { url: 'http://127.0.0.1:9/hook', event: 'sms:received' },
    });
    assert.equal(own.status, 201, own.text);
  } finally {
    await device.cleanup();
  }
});

test('in chromium, a page on another port of the host cannot link a device with the Basic credentials the browser holds', async () => {
  const server = await startTestServer();
  const browser = await launch();
  let attacker: Server | undefined;
  try {
    const { login, password } = await newDevice(server);
    const auth = basic(login, password);
    const devices = async () => (await call(`${server.thirdPartyUrl}/devices`, 'GET', { auth })).body.length;
    const before = await devices();

    // The attacker's page: a form post and a no-cors fetch, each to the server's registration route.
    const target = `${server.url}/mobile/v1/device`;
    const page = `<!doctype html><html><body>
      <form id="f" method="POST" action="${target}" enctype="text/plain" target="sink"><input name="x" value="y"></form>
      <iframe name="sink"></iframe>
      <script>
        fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include' })
          .then(() => document.getElementById('f').submit(), () => document.getElementById('f').submit())
          .then(() => { document.title = 'sent'; });
      </script></body></html>`;
    attacker = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    });
    await new Promise<void>((resolve) => attacker!.listen(0, '127.0.0.1', resolve));
    const attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;

    // The browser holds the user's credentials for the server (the user logged in to the dashboard).
    const context = await browser.newContext({ httpCredentials: { username: login, password } });
    const tab = await context.newPage();
    assert.equal((await tab.goto(`${server.url}/`))?.status(), 200);
    const seen: number[] = [];
    tab.on('response', (response) => {
      if (response.url() === target) seen.push(response.status());
    });
    await tab.goto(attackerUrl);
    await tab.waitForFunction(() => document.title === 'sent', undefined, { timeout: TIMEOUT });
    const deadline = Date.now() + TIMEOUT;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, [403, 403], 'both the fetch and the form post were answered 403');
    assert.equal(await devices(), before, 'no device was linked');
    await context.close();
  } finally {
    await browser.close();
    attacker?.close();
    await server.cleanup();
  }
});
