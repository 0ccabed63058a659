import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestServer, newDevice, basic } from '../server/helpers.ts';

/** The value of one sample of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

/**
 * The delivery metrics after the known run both tests make: 5 deliveries answered 200, and one whose
 * two attempts (first try + 1 retry) both got a 500.
 */
function expectKnownRunCounts(text: string): void {
  assert.equal(sample(text, 'smsgate_deliveries_total', { outcome: 'succeeded' }), 5);
  assert.equal(sample(text, 'smsgate_deliveries_total', { outcome: 'failed' }), 1);
  assert.equal(sample(text, 'smsgate_delivery_retries_scheduled_total'), 1);
  assert.equal(sample(text, 'smsgate_delivery_attempt_duration_seconds_count', { outcome: 'succeeded' }), 5);
  assert.equal(sample(text, 'smsgate_delivery_attempt_duration_seconds_count', { outcome: 'retry' }), 1);
  assert.equal(sample(text, 'smsgate_delivery_attempt_duration_seconds_count', { outcome: 'failed' }), 1);
}

/** Open a stream: the gauge `metric` reads 1 while it is open and 0 once it is closed. */
async function expectCountedWhileOpen(
  url: string,
  authorization: string,
  scrape: () => Promise<string>,
  metric: string,
): Promise<void> {
  const controller = new AbortController();
  const stream = await fetch(url, { headers: { authorization }, signal: controller.signal });
  assert.equal(stream.status, 200);
  assert.equal(sample(await scrape(), metric), 1);
  controller.abort();
  await eventually(async () => sample(await scrape(), metric) === 0, `${metric} back to 0 once the stream is closed`);
}

test('device /metrics: counters match a known run of deliveries', async () => {
  const receiver = await new TestReceiver().start();
  const device = await startTestDevice();
  try {
    assert.equal((await device.api.call('PATCH', '/settings', { webhooks: { retry_count: 1 } })).status, 200);
    assert.equal(
      (await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event: 'sms:received' })).status,
      201,
    );
    // 5 SMS answered 200, then one whose two attempts (first try + 1 retry) both get a 500.
    receiver.responder = (_r, index) => (index < 5 ? 200 : 500);
    for (let i = 0; i < 5; i++)
      assert.equal(
        (await device.api.call('POST', '/sim/v1/incoming', { from: '+15551230000', text: `ok ${i}` })).status,
        202,
      );
    await receiver.waitFor(5);
    assert.equal(
      (await device.api.call('POST', '/sim/v1/incoming', { from: '+15551230000', text: 'doomed' })).status,
      202,
    );
    await receiver.waitFor(7);
    const scrape = async () => (await fetch(`${device.url}/metrics`)).text();
    const text = await eventually(async () => {
      const t = await scrape();
      return sample(t, 'smsgate_deliveries_total', { outcome: 'failed' }) === 1 &&
        sample(t, 'smsgate_delivery_queue_depth', { state: 'failed' }) === 1
        ? t
        : undefined;
    }, 'the failed delivery to be counted');

    expectKnownRunCounts(text);
    assert.equal(sample(text, 'smsgate_delivery_queue_depth', { state: 'pending' }), 0);
    assert.equal(sample(text, 'smsgate_events_total', { event: 'sms:received' }), 6);
    assert.equal(
      sample(text, 'smsgate_http_requests_total', { method: 'POST', route: '/sim/v1/incoming', status_code: '202' }),
      6,
    );
    assert.equal(sample(text, 'smsgate_sse_streams'), 0);

    // HEAD of the live stream answers and ends (it is not a stream)
    const head = await device.app.inject({
      method: 'HEAD',
      url: '/events/stream',
      headers: { authorization: device.api.authorization },
    });
    assert.equal(head.statusCode, 200);
    assert.match(String(head.headers['content-type']), /text\/event-stream/);
    assert.equal(sample(await scrape(), 'smsgate_sse_streams'), 0);

    // a live stream is counted while it is open
    await expectCountedWhileOpen(
      `${device.url}/events/stream`,
      device.api.authorization,
      scrape,
      'smsgate_sse_streams',
    );
  } finally {
    await device.cleanup();
    await receiver.stop();
  }
});

test('device /metrics: loopback only, unless authenticated', async () => {
  const device = await startTestDevice();
  try {
    const remote = await device.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.10' });
    assert.equal(remote.statusCode, 403);
    assert.match(JSON.parse(remote.body).message, /loopback/);
    const wrong = await device.app.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: '192.0.2.10',
      headers: { authorization: basic('sms', 'nope') },
    });
    assert.equal(wrong.statusCode, 401);
    const authed = await device.app.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: '192.0.2.10',
      headers: { authorization: device.api.authorization },
    });
    assert.equal(authed.statusCode, 200);
    assert.match(authed.body, /smsgate_deliveries_total/);
    const local = await device.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '::ffff:127.0.0.1' });
    assert.equal(local.statusCode, 200);
  } finally {
    await device.cleanup();
  }
});

test('server /metrics: SSE streams held and HTTP requests, loopback only unless authenticated', async () => {
  const server = await startTestServer();
  try {
    const { registration, login, password } = await newDevice(server);
    const controller = new AbortController();
    const stream = await fetch(`${server.mobileUrl}/events`, {
      headers: { authorization: `Bearer ${registration.token}` },
      signal: controller.signal,
    });
    assert.equal(stream.status, 200);
    const scrape = async () => (await fetch(`${server.url}/metrics`)).text();
    const text = await scrape();
    assert.equal(sample(text, 'smsgate_sse_streams'), 1);
    assert.equal(
      sample(text, 'smsgate_http_requests_total', { method: 'POST', route: '/mobile/v1/device', status_code: '201' }),
      1,
    );
    controller.abort();
    await eventually(async () => sample(await scrape(), 'smsgate_sse_streams') === 0, 'the stream to be released');

    const remote = await server.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.10' });
    assert.equal(remote.statusCode, 403);
    const authed = await server.app.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: '192.0.2.10',
      headers: { authorization: basic(login, password) },
    });
    assert.equal(authed.statusCode, 200);
  } finally {
    await server.cleanup();
  }
});

test('server /metrics: the deliveries a linked device reports are counted, each attempt once; queue depth per device', async () => {
  const receiver = await new TestReceiver().start();
  const server = await startTestServer({ keepAliveMs: 300 });
  const device = await startTestDevice({
    link: {
      serverUrl: server.url,
      privateToken: server.privateToken,
      healthIntervalMs: 200,
      reconnect: { minDelayMs: 100, maxDelayMs: 500 },
      log: () => {},
    },
  });
  try {
    const deviceId = device.link!.registration.id;
    const scrape = async () => (await fetch(`${server.url}/metrics`)).text();
    assert.equal(
      sample(await scrape(), 'smsgate_deliveries_total', { outcome: 'succeeded' }),
      0,
      'nothing reported yet',
    );
    assert.equal((await device.api.call('PATCH', '/settings', { webhooks: { retry_count: 1 } })).status, 200);
    assert.equal(
      (await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event: 'sms:received' })).status,
      201,
    );
    // as on the device above: 5 answered 200, then one whose two attempts both get a 500
    receiver.responder = (_r, index) => (index < 5 ? 200 : 500);
    for (let i = 0; i < 5; i++)
      await device.api.call('POST', '/sim/v1/incoming', { from: '+15551230000', text: `ok ${i}` });
    await receiver.waitFor(5);
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15551230000', text: 'doomed' });
    await receiver.waitFor(7);

    const reported = await eventually(async () => {
      const t = await scrape();
      return sample(t, 'smsgate_deliveries_total', { outcome: 'failed' }) === 1 &&
        sample(t, 'smsgate_deliveries_total', { outcome: 'succeeded' }) === 5
        ? t
        : undefined;
    }, 'the reported outcomes on the server');
    expectKnownRunCounts(reported);
    // the same numbers as the device's own
    const onDevice = await (await fetch(`${device.url}/metrics`)).text();
    for (const outcome of ['succeeded', 'failed'])
      assert.equal(
        sample(onDevice, 'smsgate_deliveries_total', { outcome }),
        sample(reported, 'smsgate_deliveries_total', { outcome }),
      );

    // every delivery reported again (as after a reconnect): nothing is counted twice
    const activityReports = (text: string) =>
      sample(text, 'smsgate_http_requests_total', {
        method: 'POST',
        route: '/mobile/v1/device/activity',
        status_code: '204',
      }) ?? 0;
    const reportsBefore = activityReports(reported);
    (device.link as unknown as { activity: { resync(): void } }).activity.resync();
    const again = await eventually(async () => {
      const t = await scrape();
      return activityReports(t) > reportsBefore ? t : undefined;
    }, 'the deliveries reported again');
    expectKnownRunCounts(again);

    // queue depth from the devices' health reports: totals only (device ids belong to their users);
    // the health report sent while the last delivery was in flight may still count it, the next one not
    await eventually(async () => {
      const t = await scrape();
      return sample(t, 'smsgate_delivery_queue_depth', { stat: 'sum' }) === 0 ? t : undefined;
    }, 'a health report with an empty queue');
    assert.ok(!again.includes(deviceId), 'no device id in the server metrics');
    device.context.network.set(false);
    try {
      for (let i = 0; i < 2; i++)
        await device.api.call('POST', '/sim/v1/incoming', { from: '+15551230000', text: `queued ${i}` });
      const queued = await eventually(async () => {
        const t = await scrape();
        return sample(t, 'smsgate_delivery_queue_depth', { stat: 'sum' }) === 2 ? t : undefined;
      }, 'queue depth 2 on the server');
      assert.equal(sample(queued, 'smsgate_delivery_queue_depth', { stat: 'max' }), 2);
    } finally {
      device.context.network.set(true);
    }

    // a dashboard's live stream is counted while it is open
    await expectCountedWhileOpen(
      `${server.thirdPartyUrl}/events/stream`,
      basic(device.link!.registration.login, device.link!.createdPassword!),
      scrape,
      'smsgate_live_streams',
    );
  } finally {
    await device.cleanup();
    await server.cleanup();
    await receiver.stop();
  }
});
