import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, newDevice, call, basic, bearer, eventually, type TestServer } from './helpers.ts';
import { MobileClient, MobileApiError, register, type MobileEvent } from '../../src/device/link/mobile-client.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ keepAliveMs: 200 });
});
after(async () => {
  await server.cleanup();
});

test('a device registers with the private token, and only with it', async () => {
  const registration = await register(server.url, { privateToken: server.privateToken, name: 'Phone A' });
  assert.match(registration.id, /^[A-Za-z0-9_-]{21}$/);
  assert.ok(Buffer.from(registration.token, 'base64url').length >= 16, 'at least 128 random bits');
  assert.match(registration.login, /^[A-Z0-9]{6}$/);
  assert.match(registration.password!, /^[a-z0-9]{14}$/);

  const mobile = new MobileClient(server.url, registration.token);
  const { device, externalIp } = await mobile.getDevice();
  assert.equal(device.id, registration.id);
  assert.equal(device.name, 'Phone A');
  assert.equal(externalIp, '127.0.0.1');

  await assert.rejects(
    register(server.url, { name: 'no token' }),
    (e: MobileApiError) => e.status === 401 && /private token/.test(e.message),
  );
  await assert.rejects(register(server.url, { privateToken: 'wrong' }), (e: MobileApiError) => e.status === 401);
  await assert.rejects(
    new MobileClient(server.url, 'not-a-token').getDevice(),
    (e: MobileApiError) => e.status === 401,
  );
});

test("a second device attaches to an existing user with that user's Basic auth", async () => {
  const first = await newDevice(server, 'first');
  const second = await register(server.url, {
    basicAuth: { login: first.login, password: first.password },
    name: 'second',
  });
  assert.equal(second.login, first.login);
  assert.equal(second.password, undefined, 'an existing user keeps its password');
  const devices = await call(server.thirdPartyUrl + '/devices', 'GET', { auth: basic(first.login, first.password) });
  assert.deepEqual(devices.body.map((d: { name: string }) => d.name).sort(), ['first', 'second']);

  await assert.rejects(
    register(server.url, { basicAuth: { login: first.login, password: 'wrong-password' } }),
    (e: MobileApiError) => e.status === 401,
  );
});

test('SSE: WebhooksUpdated arrives within 1 s of a 3rdparty POST, then MessageEnqueued and SettingsUpdated', async () => {
  const { registration, mobile, login, password } = await newDevice(server);
  const events: { event: MobileEvent; at: number }[] = [];
  let opened = 0;
  const stream = mobile.openEvents((event) => events.push({ event, at: performance.now() }), {
    onOpen: () => void opened++,
  });
  try {
    await eventually(() => stream.connected && opened === 1, 'the stream to open');
    const auth = basic(login, password);

    const posted = performance.now();
    const hook = await call(server.thirdPartyUrl + '/webhooks', 'POST', {
      auth,
      body: { url: 'https://example.com/h', event: 'sms:received' },
    });
    assert.equal(hook.status, 201);
    const got = await eventually(() => events.find((e) => e.event.type === 'WebhooksUpdated'), 'WebhooksUpdated', 1000);
    assert.ok(got.at - posted < 1000, `WebhooksUpdated after ${got.at - posted} ms`);
    assert.deepEqual(await mobile.getWebhooks(), [
      { id: hook.body.id, url: 'https://example.com/h', event: 'sms:received', deviceId: null },
    ]);

    const sent = await call(server.thirdPartyUrl + '/messages', 'POST', {
      auth,
      body: { textMessage: { text: 'hi' }, phoneNumbers: ['+15551230000'] },
    });
    assert.equal(sent.status, 202);
    assert.equal(sent.headers.get('location'), `/3rdparty/v1/messages/${sent.body.id}`);
    const enqueued = await eventually(
      () => events.find((e) => e.event.type === 'MessageEnqueued'),
      'MessageEnqueued',
      1000,
    );
    // the push carries the message as a pull hands it out, so the device need not pull
    assert.deepEqual(enqueued.event.data, { id: sent.body.id, message: (await mobile.pullMessages())[0] });
    assert.equal((enqueued.event.data as { message: { message: string } }).message.message, 'hi');
    assert.equal(sent.body.deviceId, registration.id);

    await call(server.thirdPartyUrl + '/settings', 'PATCH', { auth, body: { ping: { interval_seconds: 30 } } });
    await eventually(() => events.find((e) => e.event.type === 'SettingsUpdated'), 'SettingsUpdated', 1000);
    assert.deepEqual(await mobile.getSettings(), { ping: { interval_seconds: 30 } });
  } finally {
    await stream.close();
  }
  assert.equal(stream.connected, false);
});

test('the device pulls, reports states, and the 3rdparty state follows; states never go backwards', async () => {
  const { registration, mobile, login, password } = await newDevice(server);
  const auth = basic(login, password);
  const sent = await call(server.thirdPartyUrl + '/message', 'POST', {
    auth,
    body: {
      id: 'msg-1',
      message: 'Hello',
      phoneNumbers: ['+15551230001', '+15551230002'],
      simNumber: 2,
      withDeliveryReport: false,
      ttl: 3600,
    },
  });
  assert.equal(sent.status, 202);

  const [pending] = await mobile.pullMessages();
  assert.equal(pending.id, 'msg-1');
  assert.equal(pending.message, 'Hello');
  assert.deepEqual(pending.textMessage, { text: 'Hello' });
  assert.deepEqual(pending.phoneNumbers, ['+15551230001', '+15551230002']);
  assert.equal(pending.simNumber, 2);
  assert.equal(pending.withDeliveryReport, false);
  const validFor = Date.parse(pending.validUntil!) - Date.parse(pending.createdAt);
  assert.equal(validFor, 3600_000, 'ttl becomes an absolute validUntil');

  const recipients = (state: 'Sent' | 'Delivered' | 'Processed') =>
    pending.phoneNumbers.map((phoneNumber) => ({ phoneNumber, state }));
  const now = Date.now();
  const reports = [
    {
      id: 'msg-1',
      state: 'Processed' as const,
      recipients: recipients('Processed'),
      states: { Processed: new Date(now).toISOString() },
    },
    {
      id: 'msg-1',
      state: 'Sent' as const,
      recipients: recipients('Sent'),
      states: { Sent: new Date(now + 1).toISOString() },
    },
    {
      id: 'msg-1',
      state: 'Delivered' as const,
      recipients: recipients('Delivered'),
      states: { Delivered: new Date(now + 2).toISOString() },
    },
  ];
  // The final report first, then every earlier one many times at once: nothing may undo Delivered.
  await mobile.reportMessages([reports[2]]);
  await Promise.all(Array.from({ length: 30 }, (_, i) => mobile.reportMessages([reports[i % 2]])));

  const state = await call(server.thirdPartyUrl + '/messages/msg-1', 'GET', { auth });
  assert.equal(state.status, 200);
  assert.equal(state.body.state, 'Delivered');
  assert.equal(state.body.deviceId, registration.id);
  assert.deepEqual(
    state.body.recipients.map((r: { state: string }) => r.state),
    ['Delivered', 'Delivered'],
  );
  assert.deepEqual(Object.keys(state.body.states), ['Pending', 'Processed', 'Sent', 'Delivered']);
  assert.equal(state.body.states.Delivered, new Date(now + 2).toISOString());

  assert.deepEqual(await mobile.pullMessages(), [], 'a processed message is not pending any more');

  // concurrent reports in random order over real HTTP, many messages: each ends at its highest state
  const ids = Array.from({ length: 10 }, (_, i) => `race-${i}`);
  for (const id of ids)
    await call(server.thirdPartyUrl + '/messages', 'POST', {
      auth,
      body: { id, message: 'x', phoneNumbers: ['+15551230003'] },
    });
  const order = ['Processed', 'Sent', 'Delivered', 'Sent', 'Processed'] as const;
  await Promise.all(
    ids.flatMap((id) =>
      order.map((s) =>
        mobile.reportMessages([{ id, state: s, recipients: [{ phoneNumber: '+15551230003', state: s }] }]),
      ),
    ),
  );
  for (const id of ids) {
    const s = await call(server.thirdPartyUrl + `/messages/${id}`, 'GET', { auth });
    assert.equal(s.body.state, 'Delivered', id);
    assert.equal(s.body.recipients[0].state, 'Delivered', id);
  }
});

test('the list of messages pages, newest first, with X-Total-Count', async () => {
  const { login, password } = await newDevice(server);
  const auth = basic(login, password);
  for (let i = 0; i < 5; i++)
    await call(server.thirdPartyUrl + '/messages', 'POST', {
      auth,
      body: { id: `page-${i}`, message: 'x', phoneNumbers: ['+15551230004'] },
    });
  const first = await call(server.thirdPartyUrl + '/messages?limit=2', 'GET', { auth });
  assert.equal(first.headers.get('x-total-count'), '5');
  assert.deepEqual(
    first.body.map((m: { id: string }) => m.id),
    ['page-4', 'page-3'],
  );
  const all = await call(server.thirdPartyUrl + '/messages?limit=2&offset=4', 'GET', { auth });
  assert.equal(all.body.length, 1);
  const byState = await call(server.thirdPartyUrl + '/messages?state=Delivered', 'GET', { auth });
  assert.deepEqual(byState.body, []);
});

test('SSE reconnects after a dropped connection and calls onOpen again; a push missed meanwhile is pulled', async () => {
  const { mobile, login, password } = await newDevice(server);
  let opens = 0;
  const errors: Error[] = [];
  const stream = mobile.openEvents(() => {}, {
    onOpen: () => void opens++,
    onError: (e) => errors.push(e),
    minDelayMs: 20,
    maxDelayMs: 100,
  });
  try {
    await eventually(() => opens === 1, 'the first open');
    stream.dropConnection();
    await eventually(() => !stream.connected || opens === 2, 'the drop to be noticed');
    // registered while (possibly) disconnected: the next onOpen's pull must see it
    await call(server.thirdPartyUrl + '/webhooks', 'POST', {
      auth: basic(login, password),
      body: { id: 'while-away', url: 'https://example.com/x', event: 'sms:sent' },
    });
    await eventually(() => opens === 2 && stream.connected, 'the reconnect');
    assert.equal(stream.opens, 2);
    assert.ok(
      errors.some((e) => /dropped/.test(e.message)),
      errors.map((e) => e.message).join('; '),
    );
    assert.deepEqual(
      (await mobile.getWebhooks()).map((h) => h.id),
      ['while-away'],
    );
  } finally {
    await stream.close();
  }
});

test('SSE keep-alive comments arrive at the configured interval', async () => {
  const { registration } = await newDevice(server);
  const controller = new AbortController();
  const response = await fetch(server.mobileUrl + '/events', {
    headers: { authorization: bearer(registration.token) },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const started = performance.now();
  const stamps: number[] = [];
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk);
      for (const _ of text.matchAll(/^: keep-alive$/gm)) stamps.push(performance.now() - started);
      if (stamps.length >= 3) break;
    }
  } finally {
    controller.abort();
  }
  // keepAliveMs is 200: three comments take about 600 ms, and none comes much later than 200 ms after the previous
  const gaps = stamps.map((t, i) => t - (i === 0 ? 0 : stamps[i - 1]));
  assert.ok(
    gaps.every((g) => g > 100 && g < 600),
    `gaps ${gaps.map(Math.round).join(', ')} ms`,
  );
});

test('lastSeen moves with a ping; PATCH /device updates the push token and refuses another id', async () => {
  const { registration, mobile, login, password } = await newDevice(server);
  const before = (await mobile.getDevice()).device.lastSeen;
  await new Promise((r) => setTimeout(r, 5));
  await mobile.ping();
  const after = (await mobile.getDevice()).device.lastSeen;
  assert.ok(Date.parse(after) > Date.parse(before), `${after} > ${before}`);
  const listed = await call(server.thirdPartyUrl + '/devices', 'GET', { auth: basic(login, password) });
  assert.equal(listed.body[0].lastSeen, after);

  await mobile.updatePushToken('push-123');
  const wrong = await call(server.mobileUrl + '/device', 'PATCH', {
    auth: bearer(registration.token),
    body: { id: 'someone-else', pushToken: 'x' },
  });
  assert.equal(wrong.status, 403);
  assert.match(wrong.body.message, /not the device/);
});

test('the device changes its user password; the old one stops working', async () => {
  const { registration, login, password } = await newDevice(server);
  const change = (currentPassword: string, newPassword: string) =>
    call(server.mobileUrl + '/user/password', 'PATCH', {
      auth: bearer(registration.token),
      body: { currentPassword, newPassword },
    });
  assert.equal((await change('wrong-current', 'new-password-123')).status, 401);
  assert.equal((await change(password, 'short')).status, 400);
  assert.equal((await change(password, 'new-password-123')).status, 204);
  assert.equal((await call(server.thirdPartyUrl + '/devices', 'GET', { auth: basic(login, password) })).status, 401);
  assert.equal(
    (await call(server.thirdPartyUrl + '/devices', 'GET', { auth: basic(login, 'new-password-123') })).status,
    200,
  );
});

test('a deleted device loses its token and its webhooks', async () => {
  const { registration, mobile, login, password } = await newDevice(server);
  const auth = basic(login, password);
  await call(server.thirdPartyUrl + '/webhooks', 'POST', {
    auth,
    body: { id: 'bound', url: 'https://example.com/b', event: 'sms:sent', deviceId: registration.id },
  });
  assert.equal((await call(server.thirdPartyUrl + `/devices/${registration.id}`, 'DELETE', { auth })).status, 204);
  await assert.rejects(mobile.getDevice(), (e: MobileApiError) => e.status === 401);
  assert.deepEqual((await call(server.thirdPartyUrl + '/webhooks', 'GET', { auth })).body, []);
  assert.equal((await call(server.thirdPartyUrl + `/devices/${registration.id}`, 'DELETE', { auth })).status, 404);
  const noDevice = await call(server.thirdPartyUrl + '/messages', 'POST', {
    auth,
    body: { message: 'x', phoneNumbers: ['+15551230005'] },
  });
  assert.equal(noDevice.status, 400);
  assert.match(noDevice.body.message, /no device/);
});
