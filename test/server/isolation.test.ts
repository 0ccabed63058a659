import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, newDevice, call, basic, bearer, type TestServer } from './helpers.ts';

let server: TestServer;
let a: Awaited<ReturnType<typeof newDevice>>;
let b: Awaited<ReturnType<typeof newDevice>>;
let authA: string;
let authB: string;

before(async () => {
  // This file sends wrong credentials on purpose, many times from 127.0.0.1: a high login
  // throttle keeps those answers 401 (the throttle itself is tested in test/reliability/server-auth.test.ts).
  server = await startTestServer({ loginThrottle: { maxFailures: 10_000 } });
  a = await newDevice(server, 'A phone');
  b = await newDevice(server, 'B phone');
  authA = basic(a.login, a.password);
  authB = basic(b.login, b.password);
});
after(async () => {
  await server.cleanup();
});

const api = (path: string) => server.thirdPartyUrl + path;
/** B's secrets must never appear in anything A gets back. */
const assertNoLeak = (reply: { text: string }, ...secrets: string[]) => {
  for (const secret of secrets) assert.ok(!reply.text.includes(secret), `leaked "${secret}" in ${reply.text}`);
};

test("user A cannot list, replace or delete B's webhooks", async () => {
  const hookB = await call(api('/webhooks'), 'POST', {
    auth: authB,
    body: { id: 'shared-id', url: 'https://b.example.com/secret', event: 'sms:received' },
  });
  assert.equal(hookB.status, 201);

  const listA = await call(api('/webhooks'), 'GET', { auth: authA });
  assert.deepEqual(listA.body, []);

  // the same id from A is A's own webhook; B's stays as it was
  const hookA = await call(api('/webhooks'), 'POST', {
    auth: authA,
    body: { id: 'shared-id', url: 'https://a.example.com/', event: 'sms:sent' },
  });
  assert.equal(hookA.status, 201);
  assertNoLeak(hookA, 'b.example.com');
  assert.equal((await call(api('/webhooks/shared-id'), 'DELETE', { auth: authA })).status, 204);

  const listB = await call(api('/webhooks'), 'GET', { auth: authB });
  assert.deepEqual(listB.body, [
    { id: 'shared-id', url: 'https://b.example.com/secret', event: 'sms:received', deviceId: null },
  ]);
});

test("user A cannot register a webhook on B's device", async () => {
  const reply = await call(api('/webhooks'), 'POST', {
    auth: authA,
    body: { url: 'https://a.example.com/', event: 'sms:sent', deviceId: b.registration.id },
  });
  assert.equal(reply.status, 400);
  assert.match(reply.body.message, /not one of your devices/);
  assert.deepEqual(
    (await call(api('/webhooks'), 'GET', { auth: authA })).body.filter((h: { deviceId: string }) => h.deviceId),
    [],
  );
});

test("user A cannot read B's messages or devices, send through B's device, or delete it", async () => {
  const sent = await call(api('/messages'), 'POST', {
    auth: authB,
    body: { id: 'b-private', message: 'B secret text', phoneNumbers: ['+15559990000'] },
  });
  assert.equal(sent.status, 202);

  const read = await call(api('/messages/b-private'), 'GET', { auth: authA });
  assert.equal(read.status, 404);
  assertNoLeak(read, 'B secret text', '+15559990000', b.registration.id);

  const list = await call(api('/messages'), 'GET', { auth: authA });
  assertNoLeak(list, 'b-private');

  const listByDevice = await call(api(`/messages?deviceId=${b.registration.id}`), 'GET', { auth: authA });
  assert.deepEqual(listByDevice.body, []);

  const devices = await call(api('/devices'), 'GET', { auth: authA });
  assert.deepEqual(
    devices.body.map((d: { id: string }) => d.id),
    [a.registration.id],
  );

  const via = await call(api('/messages'), 'POST', {
    auth: authA,
    body: { message: 'x', phoneNumbers: ['+15551112222'], deviceId: b.registration.id },
  });
  assert.equal(via.status, 400);
  assert.equal((await b.mobile.pullMessages()).length, 1, "nothing was queued on B's device");

  const del = await call(api(`/devices/${b.registration.id}`), 'DELETE', { auth: authA });
  assert.equal(del.status, 404);
  assert.equal((await b.mobile.getDevice()).device.id, b.registration.id, "B's device still works");

  // the same message id is A's own, separate message
  const mine = await call(api('/messages'), 'POST', {
    auth: authA,
    body: { id: 'b-private', message: 'A text', phoneNumbers: ['+15551112222'] },
  });
  assert.equal(mine.status, 202);
  assert.equal(
    (await call(api('/messages/b-private'), 'GET', { auth: authB })).body.recipients[0].phoneNumber,
    '+15559990000',
  );
});

test("user A's settings are A's: B's signing key and values stay apart", async () => {
  await call(api('/settings'), 'PATCH', {
    auth: authB,
    body: { webhooks: { signing_key: 'b-signing-key', retry_count: 3 } },
  });
  const settingsA = await call(api('/settings'), 'GET', { auth: authA });
  assert.equal(settingsA.body.webhooks.retry_count, 14);
  assertNoLeak(settingsA, 'b-signing-key');
  assert.deepEqual(await a.mobile.getSettings(), {});
  assert.deepEqual(await b.mobile.getSettings(), { webhooks: { signing_key: 'b-signing-key', retry_count: 3 } });
});

test('a device token sees only its own messages and webhooks, and cannot report on other messages', async () => {
  // a second device of A: messages and webhooks bound to it are not the first device's business
  const a2 = await newDevice(server, 'A second phone', { login: a.login, password: a.password });
  await call(api('/webhooks'), 'POST', {
    auth: authA,
    body: { id: 'for-a2', url: 'https://a.example.com/2', event: 'sms:sent', deviceId: a2.registration.id },
  });
  await call(api('/webhooks'), 'POST', {
    auth: authA,
    body: { id: 'for-a1', url: 'https://a.example.com/1', event: 'sms:sent', deviceId: a.registration.id },
  });
  await call(api('/webhooks'), 'POST', {
    auth: authA,
    body: { id: 'for-all', url: 'https://a.example.com/all', event: 'sms:received' },
  });
  await call(api('/messages'), 'POST', {
    auth: authA,
    body: { id: 'to-a2', message: 'x', phoneNumbers: ['+15551113333'], deviceId: a2.registration.id },
  });

  assert.deepEqual((await a.mobile.getWebhooks()).map((h) => h.id).sort(), ['for-a1', 'for-all']);
  assert.deepEqual((await a2.mobile.getWebhooks()).map((h) => h.id).sort(), ['for-a2', 'for-all']);
  assert.deepEqual(
    (await b.mobile.getWebhooks()).map((h) => h.id),
    ['shared-id'],
  );

  assert.ok(!(await a.mobile.pullMessages()).some((m) => m.id === 'to-a2'));
  assert.deepEqual(
    (await a2.mobile.pullMessages()).map((m) => m.id),
    ['to-a2'],
  );

  // A's first device and B's device report on a message that is not theirs: ignored
  for (const intruder of [a.mobile, b.mobile]) {
    await intruder.reportMessages([
      { id: 'to-a2', state: 'Failed', recipients: [{ phoneNumber: '+15551113333', state: 'Failed', error: 'x' }] },
    ]);
  }
  const state = await call(api('/messages/to-a2'), 'GET', { auth: authA });
  assert.equal(state.body.state, 'Pending');
  assert.equal(state.body.recipients[0].state, 'Pending');

  // and a device's stream carries only its own pushes: B's stream hears nothing of A's changes
  const seen: string[] = [];
  const stream = b.mobile.openEvents((e) => seen.push(e.type));
  try {
    await new Promise((r) => setTimeout(r, 100));
    await call(api('/webhooks'), 'POST', { auth: authA, body: { url: 'https://a.example.com/3', event: 'sms:sent' } });
    await call(api('/messages'), 'POST', { auth: authA, body: { message: 'x', phoneNumbers: ['+15551113333'] } });
    await call(api('/webhooks'), 'POST', { auth: authB, body: { url: 'https://b.example.com/3', event: 'sms:sent' } });
    const deadline = Date.now() + 2000;
    while (!seen.includes('WebhooksUpdated') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ['WebhooksUpdated'], 'only the push of B’s own change');
  } finally {
    await stream.close();
  }
});

test('wrong or missing credentials are 401 everywhere, with a JSON message', async () => {
  const routes: [string, string][] = [
    ['GET', '/webhooks'],
    ['POST', '/webhooks'],
    ['DELETE', '/webhooks/x'],
    ['GET', '/messages'],
    ['POST', '/messages'],
    ['POST', '/message'],
    ['GET', '/messages/x'],
    ['GET', '/message/x'],
    ['GET', '/devices'],
    ['DELETE', '/devices/x'],
    ['GET', '/settings'],
    ['PATCH', '/settings'],
    ['PUT', '/settings'],
    ['GET', '/logs'],
  ];
  for (const auth of [
    undefined,
    basic(a.login, 'wrong-password'),
    basic('nobody', 'whatever'),
    'Basic !!!',
    bearer(a.registration.token),
  ]) {
    for (const [method, path] of routes) {
      for (const base of [server.thirdPartyUrl, `${server.url}/api/3rdparty/v1`]) {
        const reply = await call(base + path, method, {
          auth,
          body: method === 'GET' || method === 'DELETE' ? undefined : {},
        });
        assert.equal(reply.status, 401, `${method} ${base}${path} with ${auth}`);
        assert.equal(typeof reply.body.message, 'string');
      }
    }
  }
  const mobileRoutes: [string, string][] = [
    ['PATCH', '/device'],
    ['POST', '/device/ping'],
    ['GET', '/message'],
    ['PATCH', '/message'],
    ['GET', '/webhooks'],
    ['GET', '/settings'],
    ['GET', '/events'],
    ['PATCH', '/user/password'],
  ];
  for (const auth of [undefined, bearer('wrong'), basic(a.login, a.password), `Bearer ${server.privateToken}`]) {
    for (const [method, path] of mobileRoutes) {
      for (const base of [server.mobileUrl, `${server.url}/api/mobile/v1`]) {
        const reply = await call(base + path, method, { auth });
        assert.equal(reply.status, 401, `${method} ${base}${path} with ${auth}`);
        assert.equal(typeof reply.body.message, 'string');
      }
    }
    // GET /device answers anyone, as the original: the caller's address, and no device
    const reply = await call(`${server.mobileUrl}/device`, 'GET', { auth });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { externalIp: '127.0.0.1' }, `GET /device with ${auth}`);
  }
});
