import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { basic, call, startTestServer } from '../server/helpers.ts';
import { InProcessPushHub } from '../../src/server/push/hub.ts';
import { withoutContent, type PushEvent } from '../../src/protocol/index.ts';

/** A hub that loses every MessageEnqueued push: the device learns of messages only by pulling. */
class NoEnqueuedPushes extends InProcessPushHub {
  override async publish(deviceIds: readonly string[], event: PushEvent): Promise<void> {
    if (event.type !== 'MessageEnqueued') await super.publish(deviceIds, event);
  }
}

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/** Send `count` messages through the 3rdparty API at once, each accepted (202); their ids. */
async function sendAtOnce(
  server: TestServer,
  auth: string,
  count: number,
  body: (i: number) => object,
): Promise<string[]> {
  const sent = await Promise.all(
    Array.from({ length: count }, (_, i) => call(`${server.thirdPartyUrl}/messages`, 'POST', { auth, body: body(i) })),
  );
  for (const reply of sent) assert.equal(reply.status, 202, reply.text);
  return sent.map((reply) => reply.body.id as string);
}

/** Wait until the server shows every one of these messages Delivered. */
async function allDelivered(server: TestServer, auth: string, ids: readonly string[]): Promise<void> {
  await eventually(
    async () =>
      (await Promise.all(ids.map((id) => call(`${server.thirdPartyUrl}/messages/${id}`, 'GET', { auth })))).every(
        (reply) => reply.body.state === 'Delivered',
      ),
    'every message Delivered on the server',
    15_000,
  );
}

test('a full pull of 100 is followed by another at once: 230 queued messages all reach the device after one reconnect, with no push', async () => {
  const server = await startTestServer({ hub: new NoEnqueuedPushes(), keepAliveMs: 500 });
  const device = await startTestDevice({
    link: {
      serverUrl: server.url,
      privateToken: server.privateToken,
      reconnect: { minDelayMs: 100, maxDelayMs: 300 },
      log: () => {},
    },
  });
  try {
    const link = device.link!;
    const auth = basic(link.registration.login, link.createdPassword!);
    await eventually(() => link.connected, 'the push stream to open');
    const ids: string[] = [];
    for (let i = 0; i < 230; i++) {
      const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { textMessage: { text: `queued ${i}` }, phoneNumbers: ['+15550102000'] },
      });
      assert.equal(sent.status, 202, sent.text);
      ids.push(sent.body.id);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ids.filter((id) => device.context.sms.get(id)).length, 0, 'no push reached the device');

    link.dropConnection(); // the reconnect pulls once; the rest must follow without a push
    await eventually(() => ids.every((id) => device.context.sms.get(id)), 'all 230 messages on the device', 15_000);
    await eventually(
      async () =>
        (await call(`${server.thirdPartyUrl}/messages/${ids[229]}`, 'GET', { auth })).body.state === 'Delivered',
      'the last message Delivered on the server',
      15_000,
    );
  } finally {
    await device.cleanup();
    await server.cleanup();
  }
});

/** A hub that pushes only hints, as the original's server does: the device pulls every message. */
class HintOnlyPushes extends InProcessPushHub {
  override async publish(deviceIds: readonly string[], event: PushEvent): Promise<void> {
    await super.publish(deviceIds, withoutContent(event));
  }
}

test('pushes that come while a pull is on its way get one more pull after it, not one each: 40 messages sent at once, a handful of pulls', async () => {
  const server = await startTestServer({ hub: new HintOnlyPushes(), keepAliveMs: 500 });
  let pulls = 0;
  // Every pull goes out 200 ms late, so the pushes of the messages sent meanwhile arrive during one.
  const agent = new Agent();
  const slowPulls = agent.compose((dispatch) => (options, handler) => {
    if (options.method !== 'GET' || !options.path.startsWith('/mobile/v1/message')) return dispatch(options, handler);
    pulls++;
    setTimeout(() => dispatch(options, handler), 200);
    return true;
  });
  const device = await startTestDevice({
    link: {
      serverUrl: server.url,
      privateToken: server.privateToken,
      reconnect: { minDelayMs: 100, maxDelayMs: 300 },
      dispatcher: slowPulls,
      log: () => {},
    },
  });
  try {
    const link = device.link!;
    const auth = basic(link.registration.login, link.createdPassword!);
    await eventually(() => link.connected, 'the push stream to open');
    await new Promise((r) => setTimeout(r, 500)); // the pull on connect is over
    const pullsBefore = pulls;
    const ids = await sendAtOnce(server, auth, 40, (i) => ({
      textMessage: { text: `burst ${i}` },
      phoneNumbers: ['+15550102000'],
    }));
    await eventually(() => ids.every((id) => device.context.sms.get(id)), 'all 40 messages on the device', 15_000);
    const burstPulls = pulls - pullsBefore;
    assert.ok(burstPulls >= 1, 'the pushes made the device pull');
    assert.ok(
      burstPulls <= 10,
      `40 pushes made ${burstPulls} pulls; one at a time, and one after it, would be far fewer`,
    );
    await allDelivered(server, auth, ids);
  } finally {
    await device.cleanup();
    await server.cleanup();
    await agent.close();
  }
});

test('a message pushed with its content is taken from the push: 40 messages sent at once reach the device and are Delivered with no pull', async () => {
  const server = await startTestServer({ keepAliveMs: 500 });
  let pulls = 0;
  const agent = new Agent();
  const countPulls = agent.compose((dispatch) => (options, handler) => {
    if (options.method === 'GET' && options.path.startsWith('/mobile/v1/message')) pulls++;
    return dispatch(options, handler);
  });
  const device = await startTestDevice({
    link: { serverUrl: server.url, privateToken: server.privateToken, dispatcher: countPulls, log: () => {} },
  });
  try {
    const link = device.link!;
    const auth = basic(link.registration.login, link.createdPassword!);
    await eventually(() => link.connected, 'the push stream to open');
    await eventually(() => pulls >= 1, 'the pull on connect');
    await new Promise((r) => setTimeout(r, 200)); // the pull on connect is over
    const pullsBefore = pulls;
    const ids = await sendAtOnce(server, auth, 40, (i) => ({
      textMessage: { text: `pushed ${i}` },
      phoneNumbers: ['+15550102000'],
      priority: i % 2 ? 100 : 0,
    }));
    await eventually(() => ids.every((id) => device.context.sms.get(id)), 'all 40 messages on the device', 15_000);
    // taken as a pull would have taken them
    const first = device.context.sms.get(ids[1])!;
    assert.equal(first.source, 'Cloud');
    assert.equal(first.priority, 100);
    await allDelivered(server, auth, ids);
    assert.equal(pulls - pullsBefore, 0, 'no pull was needed');
  } finally {
    await device.cleanup();
    await server.cleanup();
    await agent.close();
  }
});
