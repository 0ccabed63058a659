import { basic } from '../helpers/http.ts';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver, type ReceivedRequest } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { verifyWebhook } from '../../src/receiver/index.ts';
import { createTestDatabase, type TestDatabase } from '../postgres/helpers.ts';

const REPLAYED = ['sms:received', 'sms:data-received', 'mms:received', 'mms:downloaded'];
const BATCHES = ['sms:batch:received', 'sms:batch:data-received', 'mms:batch:received', 'mms:batch:downloaded'];

type Device = Awaited<ReturnType<typeof startTestDevice>>;

/** Each request checked with the receiver SDK against the device's signing key, then its envelope. */
function verified(device: Device, requests: ReceivedRequest[]) {
  const { signing_key } = device.context.settings.get().webhooks;
  return requests.map((request) => {
    const check = verifyWebhook(signing_key!, request.rawBody, request.headers);
    assert.ok(check.ok, `signature: ${JSON.stringify(check)}`);
    return JSON.parse(request.rawBody) as { id: string; event: string; payload: Record<string, any> };
  });
}

/** Nothing more arrives for a while (the dispatcher is woken at once, so 300 ms is ample). */
async function quiet(receiver: TestReceiver, count: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(receiver.requests.length, count, 'no more requests');
}

async function receiveThree(device: Device): Promise<void> {
  for (const text of ['one', 'two', 'three']) {
    const reply = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550009999', text });
    assert.equal(reply.status, 202);
  }
  const mms = await device.api.call('POST', '/sim/v1/incoming', {
    type: 'MMS',
    from: '+15550008888',
    subject: 'pic',
    attachments: [{ contentType: 'image/png', name: 'a.png', data: Buffer.from('png').toString('base64') }],
  });
  assert.equal(mms.status, 202);
  await eventually(
    async () => (await device.api.call('GET', '/inbox?type=MMS_DOWNLOADED')).body.length === 1,
    'the MMS download',
  );
}

describe('inbox refresh on the device alone', () => {
  let device: Device;
  let receiver: TestReceiver;
  const window = { since: '2000-01-01T00:00:00Z', until: '2100-01-01T00:00:00Z' };
  /** what each incoming event first carried, by event and messageId */
  const originals = new Map<string, Record<string, unknown>>();

  before(async () => {
    receiver = await new TestReceiver().start();
    device = await startTestDevice();
    for (const event of [...REPLAYED, ...BATCHES]) {
      const reply = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event });
      assert.equal(reply.status, 201);
    }
    await receiveThree(device);
    await receiver.waitFor(5); // three SMS, the MMS notification and its download
    for (const envelope of verified(device, receiver.requests))
      originals.set(`${envelope.event} ${envelope.payload.messageId}`, envelope.payload);
    receiver.requests.length = 0;
  });
  after(async () => {
    await device.cleanup();
    await receiver.stop();
  });

  test('Disabled finds the messages and sends nothing; it is the default of /inbox/refresh', async () => {
    for (const body of [{ ...window, webhookDelivery: 'Disabled' }, window, { ...window, triggerWebhooks: false }]) {
      const reply = await device.api.call('POST', '/inbox/refresh', body);
      assert.equal(reply.status, 202);
      assert.deepEqual(
        { ...reply.body, since: undefined, until: undefined },
        {
          since: undefined,
          until: undefined,
          messageTypes: ['SMS'],
          webhookDelivery: 'Disabled',
          messages: 3,
          events: 0,
        },
      );
    }
    await quiet(receiver, 0);
  });

  test('Individual: one signed event per message, the payload it first carried', async () => {
    const reply = await device.api.call('POST', '/inbox/refresh', {
      ...window,
      messageTypes: ['SMS', 'MMS_DOWNLOADED'],
      webhookDelivery: 'Individual',
    });
    assert.equal(reply.status, 202);
    assert.equal(reply.body.messages, 4);
    assert.equal(reply.body.events, 4);
    await receiver.waitFor(4);
    const envelopes = verified(device, receiver.requests);
    assert.deepEqual(envelopes.map((e) => e.event).sort(), [
      'mms:downloaded',
      'sms:received',
      'sms:received',
      'sms:received',
    ]);
    for (const envelope of envelopes) {
      assert.deepEqual(
        envelope.payload,
        originals.get(`${envelope.event} ${envelope.payload.messageId}`),
        envelope.event,
      );
    }
    // new events, not the old ones again: a receiver that dedupes on id takes them
    assert.equal(new Set(envelopes.map((e) => e.id)).size, 4);
    await quiet(receiver, 4);
    receiver.requests.length = 0;
  });

  test('Batch: *:batch:* events carrying the messages', async () => {
    const reply = await device.api.call('POST', '/inbox/refresh', {
      ...window,
      messageTypes: ['SMS', 'MMS'],
      webhookDelivery: 'Batch',
    });
    assert.equal(reply.status, 202);
    assert.deepEqual([reply.body.messages, reply.body.events], [4, 2]);
    await receiver.waitFor(2);
    const byEvent = Object.fromEntries(verified(device, receiver.requests).map((e) => [e.event, e.payload]));
    assert.deepEqual(Object.keys(byEvent).sort(), ['mms:batch:received', 'sms:batch:received']);
    assert.deepEqual(
      byEvent['sms:batch:received'].messages.map((m: { message: string }) => m.message),
      ['one', 'two', 'three'],
    );
    for (const m of byEvent['sms:batch:received'].messages)
      assert.deepEqual(m, originals.get(`sms:received ${m.messageId}`));
    assert.deepEqual(
      byEvent['mms:batch:received'].messages[0],
      originals.get(`mms:received ${byEvent['mms:batch:received'].messages[0].messageId}`),
    );
    await quiet(receiver, 2);
    receiver.requests.length = 0;
  });

  test('the window bounds what is replayed; the deprecated export still works, with a Deprecation header', async () => {
    const future = { since: '2099-01-01T00:00:00Z', until: '2100-01-01T00:00:00Z', webhookDelivery: 'Individual' };
    const none = await device.api.call('POST', '/inbox/refresh', future);
    assert.deepEqual([none.status, none.body.messages, none.body.events], [202, 0, 0]);

    const legacy = await device.api.call('POST', '/messages/inbox/export', window);
    assert.equal(legacy.status, 202);
    assert.equal(legacy.headers.get('deprecation'), 'true');
    assert.equal(legacy.body.webhookDelivery, 'Individual', 'the export always sent webhooks');
    await receiver.waitFor(3);
    assert.deepEqual(
      verified(device, receiver.requests)
        .map((e) => e.payload.message)
        .sort(),
      ['one', 'three', 'two'],
    );
    await quiet(receiver, 3);
    receiver.requests.length = 0;
  });

  test('replayed events are durable deliveries: a receiver that fails is retried, and the log shows it', async () => {
    let calls = 0;
    receiver.responder = () => (++calls === 1 ? 500 : 200);
    try {
      const reply = await device.api.call('POST', '/inbox/refresh', {
        ...window,
        webhookDelivery: 'Batch',
      });
      assert.equal(reply.body.events, 1);
      await receiver.waitFor(2, 15_000);
      const [first, second] = receiver.requests;
      assert.equal(first.rawBody, second.rawBody, 'the same signed body again');
      const { id } = JSON.parse(first.rawBody);
      await eventually(async () => {
        const log = await device.api.call('GET', '/deliveries?event=sms:batch:received&limit=10');
        const delivery = log.body.items.find((d: { id: string }) => d.id === id);
        return delivery?.state === 'succeeded' && delivery.attempts === 2;
      }, 'the delivery log to show two attempts, the second a success');
    } finally {
      receiver.responder = () => 200;
      receiver.requests.length = 0;
    }
  });

  test('bad input is 400 with a message', async () => {
    for (const body of [
      {},
      { since: window.since },
      { since: 'yesterday', until: window.until },
      { since: window.until, until: window.since },
      { ...window, webhookDelivery: 'Sometimes' },
      { ...window, messageTypes: [] },
      { ...window, messageTypes: ['FAX'] },
      { ...window, messageTypes: ['SMS', 'SMS'] },
      { ...window, triggerWebhooks: 'yes' },
      { ...window, deviceId: 'someone-else' },
      { ...window, extra: 1 },
    ]) {
      const reply = await device.api.call('POST', '/inbox/refresh', body);
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(typeof reply.body.message, 'string');
    }
  });
});

for (const store of ['sqlite', 'postgres'] as const)
  describe(`inbox refresh through the server (${store})`, () => {
    let server: RunningServer;
    let serverDir: ReturnType<typeof tempDir>;
    let database: TestDatabase | undefined;
    let device: Device;
    let receiver: TestReceiver;
    let auth: string;
    const window = { since: '2000-01-01T00:00:00Z', until: '2100-01-01T00:00:00Z' };
    const thirdParty = (path: string, body: unknown) =>
      fetch(`${server.thirdPartyUrl}${path}`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() }));

    before(async () => {
      serverDir = tempDir();
      if (store === 'postgres') database = await createTestDatabase();
      server = await createServer({ dataDir: serverDir.path, db: database?.url, port: 0, keepAliveMs: 500 });
      receiver = await new TestReceiver().start();
      device = await startTestDevice({
        link: {
          serverUrl: server.url,
          privateToken: server.privateToken,
          reconnect: { minDelayMs: 300, maxDelayMs: 1000 },
          log: () => {},
        },
      });
      auth = basic(device.link!.registration.login, device.link!.createdPassword!);
      for (const event of ['sms:received', 'sms:batch:received']) {
        const reply = await thirdParty('/webhooks', { url: `${receiver.url}/cloud`, event });
        assert.equal(reply.status, 201);
      }
      await eventually(() => device.context.webhooks.list('Cloud').length === 2, 'the Cloud webhooks on the device');
      for (const text of ['alpha', 'beta'])
        await device.api.call('POST', '/sim/v1/incoming', { from: '+15550007777', text });
      await receiver.waitFor(2);
      receiver.requests.length = 0;
    });
    after(async () => {
      await device.cleanup();
      await server.close();
      await receiver.stop();
      await database?.drop();
      serverDir.remove();
    });

    test('202 with a JSON body; the device replays in each mode, signed, with its server id', async () => {
      const cloudId = device.link!.registration.id;
      const disabled = await thirdParty('/inbox/refresh', { ...window, deviceId: cloudId });
      assert.equal(disabled.status, 202);
      assert.deepEqual(disabled.body, {
        since: '2000-01-01T00:00:00.000Z',
        until: '2100-01-01T00:00:00.000Z',
        messageTypes: ['SMS'],
        webhookDelivery: 'Disabled',
        deviceIds: [cloudId],
      });

      const batch = await thirdParty('/inbox/refresh', { ...window, webhookDelivery: 'Batch' });
      assert.equal(batch.status, 202);
      assert.deepEqual(batch.body.deviceIds, [cloudId], 'every device of the user when none is named');
      await receiver.waitFor(1);
      const [envelope] = verified(device, receiver.requests);
      assert.equal(envelope.event, 'sms:batch:received');
      assert.equal((envelope as unknown as { deviceId: string }).deviceId, cloudId);
      assert.deepEqual(
        envelope.payload.messages.map((m: { message: string }) => m.message),
        ['alpha', 'beta'],
      );
      await quiet(receiver, 1);
      receiver.requests.length = 0;

      const individual = await thirdParty('/inbox/refresh', { ...window, triggerWebhooks: true });
      assert.equal(individual.body.webhookDelivery, 'Individual', 'the legacy flag');
      await receiver.waitFor(2);
      assert.deepEqual(
        verified(device, receiver.requests).map((e) => [e.event, e.payload.message]),
        [
          ['sms:received', 'alpha'],
          ['sms:received', 'beta'],
        ],
      );
      await quiet(receiver, 2);
      receiver.requests.length = 0;

      const legacy = await thirdParty('/messages/inbox/export', { ...window, deviceId: cloudId });
      assert.equal(legacy.status, 202);
      assert.equal(legacy.headers.get('deprecation'), 'true');
      await receiver.waitFor(2);
      receiver.requests.length = 0;
    });

    test('bad input is 400 with a message, an unknown device too', async () => {
      for (const body of [
        { ...window, deviceId: 'not-a-device-of-yours' },
        { since: window.until, until: window.since },
        { ...window, webhookDelivery: 'Later' },
        { until: window.until },
      ]) {
        const reply = await thirdParty('/inbox/refresh', body);
        assert.equal(reply.status, 400, JSON.stringify(body));
        assert.equal(typeof reply.body.message, 'string');
      }
    });
  });
