import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { basic, bearer, call, newDevice } from '../server/helpers.ts';
import { systemClock, type Clock } from '../../src/shared/clock.ts';
import { openStream } from '../helpers/sse.ts';

/**
 * A server and a device linked to it: what the device's webhooks do reaches the server's copy
 * (deliveries, attempts, the Local webhook list) and its live stream, and Redeliver on the server
 * makes the device send again.
 */
let server: RunningServer;
let serverDir: ReturnType<typeof tempDir>;
let device: Awaited<ReturnType<typeof startTestDevice>>;
let receiver: TestReceiver;
let auth: string;
/** moves the server's clock forward (a device not seen lately) */
let serverClockOffset = 0;
const clock: Clock = { ...systemClock, now: () => systemClock.now() + serverClockOffset };
const thirdParty = (method: string, path: string, body?: unknown, as = auth) =>
  call(`${server.thirdPartyUrl}${path}`, method, { auth: as, body });
const linkLog: string[] = [];

async function startServer(port = 0) {
  server = await createServer({ dataDir: serverDir.path, port, keepAliveMs: 300, clock });
}

before(async () => {
  serverDir = tempDir();
  await startServer();
  receiver = await new TestReceiver().start();
  device = await startTestDevice({
    link: {
      serverUrl: server.url,
      privateToken: server.privateToken,
      name: 'reporting phone',
      reconnect: { minDelayMs: 100, maxDelayMs: 500 },
      log: (line) => linkLog.push(line),
    },
  });
  auth = basic(device.link!.registration.login, device.link!.createdPassword!);
  // a short retry budget: the first try and two retries
  assert.equal((await device.api.call('PATCH', '/settings', { webhooks: { retry_count: 2 } })).status, 200);
});

after(async () => {
  await device.cleanup();
  await server.close();
  await receiver.stop();
  serverDir.remove();
});

/** The server's copy of a delivery, once `check` accepts it. */
async function onServer(id: string, check: (d: any) => boolean, what: string, timeoutMs = 5000) {
  return eventually(
    async () => {
      const reply = await thirdParty('GET', `/deliveries/${id}`);
      return reply.status === 200 && check(reply.body) ? reply.body : undefined;
    },
    what,
    timeoutMs,
  );
}

test('deliveries and every attempt reach the server: a failing receiver, then success; Local and Cloud alike', async () => {
  const live = await openStream(`${server.thirdPartyUrl}/events/stream`, auth);
  try {
    let failuresLeft = 2;
    receiver.responder = (request) => (request.path === '/flaky' && failuresLeft-- > 0 ? 503 : 200);
    const local = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/flaky`, event: 'sms:received' });
    const cloud = await thirdParty('POST', '/webhooks', { url: `${receiver.url}/cloud`, event: 'sms:received' });
    assert.equal(cloud.status, 201);
    await eventually(
      () => device.context.webhooks.list('Cloud').some((h) => h.id === cloud.body.id),
      'the Cloud webhook on the device',
    );

    const injected = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550123', text: 'report me' });
    assert.equal(injected.status, 202);
    assert.equal(injected.body.deliveryIds.length, 2);
    const onDevice = async (webhookId: string) =>
      (await device.api.call('GET', `/deliveries?webhookId=${webhookId}`)).body.items[0];
    const flakyId = (await onDevice(local.body.id)).id;
    const cloudId = (await onDevice(cloud.body.id)).id;

    const flaky = await onServer(flakyId, (d) => d.state === 'succeeded', 'the flaky delivery succeeded on the server');
    assert.equal(flaky.deviceId, device.link!.registration.id);
    assert.deepEqual(
      [flaky.source, flaky.webhookId, flaky.url, flaky.event, flaky.attempts, flaky.lastStatus],
      ['Local', local.body.id, `${receiver.url}/flaky`, 'sms:received', 3, 200],
    );
    assert.deepEqual(
      flaky.attemptLog.map((a: any) => [a.number, a.status, a.error, a.outcome, a.responsePreview]),
      [
        [1, 503, 'HTTP 503', 'retry', 'nope'],
        [2, 503, 'HTTP 503', 'retry', 'nope'],
        [3, 200, null, 'succeeded', 'ok'],
      ],
    );
    for (const a of flaky.attemptLog)
      assert.ok(Number.isInteger(a.durationMs) && Date.parse(a.startedAt) > 0, 'duration and start time');
    // the copy says what the device says
    const deviceView = (await device.api.call('GET', `/deliveries/${flakyId}`)).body;
    assert.deepEqual(
      flaky.attemptLog.map((a: any) => [a.number, a.status, a.durationMs, Date.parse(a.startedAt)]),
      deviceView.attemptLog.map((a: any) => [a.number, a.status, a.durationMs, Date.parse(a.startedAt)]),
    );
    assert.equal(Date.parse(flaky.createdAt), Date.parse(deviceView.createdAt));

    const viaCloud = await onServer(cloudId, (d) => d.state === 'succeeded', 'the Cloud delivery on the server');
    assert.deepEqual([viaCloud.source, viaCloud.attempts, viaCloud.attemptLog.length], ['Cloud', 1, 1]);

    // the list, its filters and its pages
    const list = async (query: string) => (await thirdParty('GET', `/deliveries?${query}`)).body;
    assert.deepEqual(
      (await list(`webhookId=${local.body.id}`)).items.map((d: any) => d.id),
      [flakyId],
    );
    assert.deepEqual(
      (await list(`deviceId=${device.link!.registration.id}&event=sms:received&state=succeeded`)).items
        .map((d: any) => d.id)
        .sort(),
      [flakyId, cloudId].sort(),
    );
    assert.deepEqual((await list('state=failed')).items, []);
    const page1 = await list('limit=1');
    assert.equal(page1.items.length, 1);
    assert.ok(Number.isInteger(page1.nextCursor));
    const page2 = await list(`limit=1&before=${page1.nextCursor}`);
    assert.notEqual(page2.items[0].id, page1.items[0].id);

    // the live stream saw the event and each attempt as it was reported
    await eventually(
      () => live.frames.filter((f) => f.type === 'attempt' && f.data.deliveryId === flakyId).length === 3,
      'three attempt frames',
    );
    const event = live.frames.find((f) => f.type === 'event' && f.data.eventId === injected.body.eventId);
    assert.ok(event, 'the event frame');
    assert.deepEqual(
      [
        event.data.event,
        event.data.deviceId,
        event.data.deliveries,
        event.data.payload.phoneNumber,
        event.data.payload.message,
      ],
      ['sms:received', device.link!.registration.id, 2, '+15550123', 'report me'],
    );
    const attempts = live.frames
      .filter((f) => f.type === 'attempt' && f.data.deliveryId === flakyId)
      .map((f) => [f.data.attempt, f.data.status, f.data.outcome]);
    assert.deepEqual(
      attempts,
      [
        [1, 503, 'retry'],
        [2, 503, 'retry'],
        [3, 200, 'succeeded'],
      ],
      'each attempt once, in order',
    );
    assert.ok(live.frames.some((f) => f.type === 'delivery' && f.data.id === flakyId && f.data.state === 'succeeded'));
    await thirdParty('DELETE', `/webhooks/${cloud.body.id}`);
    await device.api.call('DELETE', `/webhooks/${local.body.id}`);
  } finally {
    live.close();
    receiver.responder = () => 200;
  }
});

test('Redeliver on the server: the device sends again, and the new attempt comes back to the server', async () => {
  const hook = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/again`, event: 'sms:received' });
  const injected = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550124', text: 'once more' });
  const [id] = injected.body.deliveryIds;
  await onServer(id, (d) => d.state === 'succeeded' && d.attempts === 1, 'the first attempt on the server');
  const before = receiver.requests.filter((r) => r.path === '/again').length;
  receiver.responder = (request) => (request.path === '/again' ? 202 : 200);

  const asked = await thirdParty('POST', `/deliveries/${id}/redeliver`);
  assert.equal(asked.status, 202);
  assert.deepEqual([asked.body.id, asked.body.deviceId], [id, device.link!.registration.id]);
  assert.match(asked.body.message, /asked device/);

  const after = await onServer(
    id,
    (d) => d.attempts === 2 && d.state === 'succeeded',
    'the redelivered attempt on the server',
  );
  assert.deepEqual(
    after.attemptLog.map((a: any) => [a.number, a.status, a.outcome]),
    [
      [1, 200, 'succeeded'],
      [2, 202, 'succeeded'],
    ],
  );
  assert.equal(receiver.requests.filter((r) => r.path === '/again').length, before + 1, 'the receiver got it again');
  assert.equal((await device.api.call('GET', `/deliveries/${id}`)).body.attempts, 2, 'made by the device');
  receiver.responder = () => 200;
  await device.api.call('DELETE', `/webhooks/${hook.body.id}`);
});

test("the device's Local webhook list reaches the server and follows its changes", async () => {
  const deviceId = device.link!.registration.id;
  const localList = async () => (await thirdParty('GET', `/devices/${deviceId}/webhooks`)).body;
  const added = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/listed`, event: 'sms:sent' });
  const listed = await eventually(async () => {
    const body = await localList();
    return body.webhooks.some((h: any) => h.id === added.body.id) ? body : undefined;
  }, 'the new Local webhook on the server');
  assert.deepEqual(
    listed.webhooks.find((h: any) => h.id === added.body.id),
    { id: added.body.id, url: `${receiver.url}/listed`, event: 'sms:sent', deviceId: null, source: 'Local' },
  );
  assert.ok(Date.parse(listed.reportedAt) > 0);
  const all = (await thirdParty('GET', '/devices/webhooks')).body;
  assert.deepEqual(
    all.find((list: any) => list.deviceId === deviceId),
    listed,
    "the same list among all the user's devices' lists",
  );
  assert.deepEqual((await thirdParty('GET', '/webhooks')).body, [], 'GET /webhooks stays the Cloud list, unchanged');
  await device.api.call('DELETE', `/webhooks/${added.body.id}`);
  await eventually(
    async () => !(await localList()).webhooks.some((h: any) => h.id === added.body.id),
    'the removal on the server',
  );
});

test('another user sees none of it: not the deliveries, not the Local list, not the live stream, and cannot redeliver', async () => {
  const stranger = await newDevice(server, 'stranger phone');
  const strangerAuth = basic(stranger.login, stranger.password);
  const strangerLive = await openStream(`${server.thirdPartyUrl}/events/stream`, strangerAuth);
  // a second phone of the owner, holding its own push stream: activity is never pushed to devices
  const ownerLogin = device.link!.registration.login;
  const second = await newDevice(server, 'second phone', {
    login: ownerLogin,
    password: device.link!.createdPassword!,
  });
  const pushed = await openStream(`${server.mobileUrl}/events`, bearer(second.registration.token));
  const ownerLive = await openStream(`${server.thirdPartyUrl}/events/stream`, auth);
  try {
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/private`, event: 'sms:received' });
    const injected = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550125', text: 'private' });
    const [id] = injected.body.deliveryIds;
    await onServer(id, (d) => d.state === 'succeeded', 'the delivery on the owner’s server copy');
    await eventually(
      () => ownerLive.frames.some((f) => f.type === 'attempt' && f.data.deliveryId === id),
      "the owner's stream got the attempt",
    );

    const asStranger = (method: string, path: string) => thirdParty(method, path, undefined, strangerAuth);
    assert.deepEqual((await asStranger('GET', '/deliveries')).body, { items: [], nextCursor: null });
    for (const [method, path] of [
      ['GET', `/deliveries/${id}`],
      ['POST', `/deliveries/${id}/redeliver`],
      ['GET', `/devices/${device.link!.registration.id}/webhooks`],
    ]) {
      const reply = await asStranger(method, path);
      assert.equal(reply.status, 404, `${method} ${path}`);
      assert.match(reply.body.message, /you have no (delivery|device)/);
    }
    assert.deepEqual((await asStranger('GET', `/deliveries?deviceId=${device.link!.registration.id}`)).body.items, []);
    assert.deepEqual(
      (await asStranger('GET', '/devices/webhooks')).body.map((list: any) => list.deviceId),
      [stranger.registration.id],
      'only their own device',
    );
    assert.deepEqual(strangerLive.frames, [], "the stranger's stream stayed silent");
    assert.ok(
      !pushed.frames.some((f) => ['event', 'attempt', 'delivery'].includes(f.type)),
      "a device's push stream gets no activity",
    );
  } finally {
    strangerLive.close();
    pushed.close();
    ownerLive.close();
  }
});

test('bad input gets a 4xx with a message', async () => {
  const deviceToken = bearer(
    (
      await newDevice(server, 'hand-driven phone', {
        login: device.link!.registration.login,
        password: device.link!.createdPassword!,
      })
    ).registration.token,
  );
  for (const [path, status] of [
    ['/deliveries?state=sending', 400],
    ['/deliveries?limit=0', 400],
    ['/deliveries?limit=501', 400],
    ['/deliveries?before=abc', 400],
    ['/deliveries?before=1e23', 400],
    ['/deliveries?color=red', 400],
    ['/deliveries/no-such-delivery', 404],
    ['/devices/no-such-device/webhooks', 404],
  ] as const) {
    const reply = await thirdParty('GET', path);
    assert.equal(reply.status, status, path);
    assert.equal(typeof reply.body.message, 'string', path);
  }
  assert.equal((await thirdParty('POST', '/deliveries/no-such-delivery/redeliver')).status, 404);
  assert.equal((await call(`${server.thirdPartyUrl}/deliveries`, 'GET')).status, 401);
  assert.equal((await call(`${server.thirdPartyUrl}/events/stream`, 'GET')).status, 401);

  const good = {
    id: 'hand-1',
    eventId: 'hand-event',
    event: 'sms:received',
    webhookId: 'w',
    source: 'Local',
    url: 'https://e.com/h',
    state: 'pending',
    attempts: 0,
    nextAttemptAt: 1,
    lastStatus: null,
    lastError: null,
    createdAt: 1,
    updatedAt: 1,
    attemptLog: [],
  };
  const activity = (body: unknown, authorization: string | null = deviceToken) =>
    call(`${server.mobileUrl}/device/activity`, 'POST', { auth: authorization ?? undefined, body });
  assert.equal((await activity({ deliveries: [good] })).status, 204);
  // An item that does not fit is left out and named (200); the rest of its report is taken.
  for (const [list, item, mentions] of [
    ['deliveries', { ...good, id: 'bad-state', state: 'sending' }, /state/],
    [
      'deliveries',
      {
        ...good,
        id: 'bad-log',
        attemptLog: Array.from({ length: 11 }, (_, i) => ({
          number: i + 1,
          startedAt: 1,
          durationMs: 1,
          status: 200,
          error: null,
          responsePreview: null,
          outcome: 'succeeded',
        })),
      },
      /attemptLog/,
    ],
    ['deliveries', { ...good, id: 'bad-attempts', attempts: '1' }, /attempts/],
    // past what a date or a database integer holds: refused by the schema, not by a crash later
    ['deliveries', { ...good, id: 'bad-date', createdAt: 1e300 }, /createdAt/],
    ['deliveries', { ...good, id: 'bad-int', attempts: 2 ** 31 }, /attempts/],
    ['deliveries', { ...good, id: 'nul\u0000byte' }, /id must not contain control characters/],
    ['events', { id: 'e1', event: 'sms:received', createdAt: 9e15, deliveries: 1, summary: {} }, /createdAt/],
    ['webhooks', { id: 'x', url: 'https://e.com', event: 'sms:nope', deviceId: null }, /event/],
  ] as const) {
    const companion = { ...good, id: `with-${item.id}`.replaceAll('\u0000', '') };
    const body =
      list === 'deliveries' ? { deliveries: [item, companion] } : { [list]: [item], deliveries: [companion] };
    const reply = await activity(body);
    assert.equal(reply.status, 200, JSON.stringify(body).slice(0, 80));
    assert.equal(reply.body.refused.length, 1, JSON.stringify(reply.body));
    const [refused] = reply.body.refused;
    assert.equal(refused.list, list);
    assert.equal(refused.index, 0);
    assert.match(refused.message, mentions);
    assert.equal(
      (await thirdParty('GET', `/deliveries/${companion.id}`)).status,
      200,
      'the rest of the report is taken',
    );
    if (list === 'deliveries' && !item.id.includes('\u0000')) {
      assert.equal((await thirdParty('GET', `/deliveries/${item.id}`)).status, 404, 'the bad item is not');
    }
  }
  // What is wrong with the report as a whole refuses it.
  for (const [body, mentions] of [
    [{ deliveries: Array.from({ length: 201 }, (_, i) => ({ ...good, id: `d${i}` })) }, /deliveries/],
    [{ surprise: true }, /surprise/],
    ['not json', /JSON|body/],
  ] as const) {
    const reply =
      typeof body === 'string'
        ? await call(`${server.mobileUrl}/device/activity`, 'POST', {
            auth: deviceToken,
            rawBody: body,
            headers: { 'content-type': 'application/json' },
          })
        : await activity(body);
    assert.equal(reply.status, 400, JSON.stringify(body).slice(0, 80));
    assert.match(reply.body.message, mentions);
  }
  assert.equal((await activity({ deliveries: [good] }, null)).status, 401);

  // a device away for a while cannot be asked to redeliver: a 409 that says why, not a request that vanishes
  serverClockOffset = 120_000;
  try {
    const stale = await thirdParty('POST', '/deliveries/hand-1/redeliver');
    assert.equal(stale.status, 409);
    assert.match(stale.body.message, /last seen \d+ s ago.*try again when it is online/);
  } finally {
    serverClockOffset = 0;
  }
});

test('reports that cannot get through never hold up deliveries; once the server is back its copy catches up', async () => {
  const hook = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/meanwhile`, event: 'sms:received' });
  await eventually(
    async () =>
      (await thirdParty('GET', `/devices/${device.link!.registration.id}/webhooks`)).body.webhooks.some(
        (h: any) => h.id === hook.body.id,
      ),
    'the webhook listed on the server',
  );
  const port = Number(new URL(server.url).port);
  await server.close();
  const before = receiver.requests.length;
  const injected = await device.api.call('POST', '/sim/v1/incoming', {
    from: '+15550126',
    text: 'while the server is away',
  });
  const [id] = injected.body.deliveryIds;
  await receiver.waitFor(before + 1);
  await eventually(
    async () => (await device.api.call('GET', `/deliveries/${id}`)).body.state === 'succeeded',
    'delivered by the device meanwhile',
  );
  await eventually(() => linkLog.some((line) => /activity report failed/.test(line)), 'a failed report, logged');

  await startServer(port);
  const caughtUp = await onServer(id, (d) => d.state === 'succeeded', 'the server copy caught up', 10_000);
  assert.deepEqual(
    caughtUp.attemptLog.map((a: any) => a.status),
    [200],
  );
  await device.api.call('DELETE', `/webhooks/${hook.body.id}`);
});
