import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { RelayingPushHub, type RelayedPush } from '../../src/server/push/relay.ts';
import { MobileClient, register } from '../../src/device/link/mobile-client.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { openStream } from '../helpers/sse.ts';
import { basic, bearer, call, eventually, tempDir } from './helpers.ts';
import { createTestDatabase, type TestDatabase } from '../postgres/helpers.ts';

const RELAY_PATH = '/upstream/v1/push';

/**
 * The push relay, against a real HTTP receiver on loopback that stands in for it and speaks its
 * contract: `POST {base}/push` with `[{token, event, data}]` (every data value a string) → 202.
 */
for (const store of ['sqlite', 'postgres'] as const) {
  describe(`push relay (${store})`, () => {
    let server: RunningServer;
    let relay: TestReceiver;
    let database: TestDatabase | undefined;
    let dir: ReturnType<typeof tempDir>;

    before(async () => {
      dir = tempDir();
      relay = await new TestReceiver().start();
      relay.responder = () => 202;
      if (store === 'postgres') database = await createTestDatabase();
      server = await createServer({
        dataDir: dir.path,
        port: 0,
        db: database?.url,
        pushRelay: { url: `${relay.url}/upstream/v1/`, retryDelayMs: 100 },
      });
    });
    after(async () => {
      await server.close();
      await relay.stop();
      await database?.drop();
      dir.remove();
    });

    /** The pushes the relay got from request `from` on, in order. */
    const pushes = (from = 0): RelayedPush[] =>
      relay.requests.slice(from).flatMap((r) => JSON.parse(r.rawBody) as RelayedPush[]);

    test('a phone with a push token is woken through the relay within a second; one without is not', async () => {
      const phone = await register(server.url, { privateToken: server.privateToken, pushToken: 'fcm-token-A' });
      const auth = basic(phone.login, phone.password!);
      const other = await register(server.url, { basicAuth: { login: phone.login, password: phone.password! } });
      await new MobileClient(server.url, phone.token).getDevice(); // connected: it may be chosen
      const from = relay.requests.length;

      const started = performance.now();
      const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { textMessage: { text: 'wake up' }, phoneNumbers: ['+15550103000'], deviceId: phone.id },
      });
      assert.equal(sent.status, 202, sent.text);
      await relay.waitFor(from + 1, 1000);
      assert.ok(performance.now() - started < 1000, 'relayed within a second of the POST');

      const request = relay.requests[from];
      assert.equal(request.method, 'POST');
      assert.equal(request.path, RELAY_PATH);
      assert.equal(request.headers['content-type'], 'application/json');
      assert.match(request.headers['user-agent'] ?? '', /^smsgate\//);
      assert.deepEqual(pushes(from), [{ token: 'fcm-token-A', event: 'MessageEnqueued', data: { id: sent.body.id } }]);

      // a user-wide push reaches every token of the user, and only tokens
      const hooked = await call(`${server.thirdPartyUrl}/webhooks`, 'POST', {
        auth,
        body: { url: 'https://example.com/hook', event: 'sms:received' },
      });
      assert.equal(hooked.status, 201, hooked.text);
      await relay.waitFor(from + 2);
      assert.deepEqual(pushes(from + 1), [{ token: 'fcm-token-A', event: 'WebhooksUpdated', data: {} }]);

      // a message to the phone without a token: nothing is relayed
      const quiet = relay.requests.length;
      await new MobileClient(server.url, other.token).getDevice();
      const toOther = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { textMessage: { text: 'no token' }, phoneNumbers: ['+15550103001'], deviceId: other.id },
      });
      assert.equal(toOther.status, 202, toOther.text);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(relay.requests.length, quiet, 'no push for a phone without a push token');

      // a new token (PATCH /mobile/v1/device, as the app sends when its token changes) is used from then on
      const patched = await call(`${server.mobileUrl}/device`, 'PATCH', {
        auth: bearer(phone.token),
        body: { id: phone.id, pushToken: 'fcm-token-B' },
      });
      assert.equal(patched.status, 204, patched.text);
      const again = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { textMessage: { text: 'new token' }, phoneNumbers: ['+15550103002'], deviceId: phone.id },
      });
      await relay.waitFor(quiet + 1);
      assert.deepEqual(pushes(quiet), [
        { token: 'fcm-token-B', event: 'MessageEnqueued', data: { id: again.body.id } },
      ]);
    });

    test('a relay that fails is tried again with a growing delay, and the push gets through', async () => {
      const phone = await register(server.url, { privateToken: server.privateToken, pushToken: 'fcm-retry' });
      await new MobileClient(server.url, phone.token).getDevice();
      const from = relay.requests.length;
      relay.responder = (_request, index) => (index < from + 2 ? 503 : 202);
      try {
        const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
          auth: basic(phone.login, phone.password!),
          body: { textMessage: { text: 'retry' }, phoneNumbers: ['+15550103003'], deviceId: phone.id },
        });
        const relayCheck = async () =>
          (await call(`${server.url}/health`, 'GET')).body.checks['push:relay'] as { status: string };
        await eventually(async () => (await relayCheck()).status === 'warn', 'GET /health warns while it fails');
        await relay.waitFor(from + 3, 5000);
        await eventually(async () => (await relayCheck()).status === 'pass', 'and passes once a request gets through');
        const bodies = relay.requests.slice(from, from + 3).map((r) => JSON.parse(r.rawBody));
        const expected = [{ token: 'fcm-retry', event: 'MessageEnqueued', data: { id: sent.body.id } }];
        assert.deepEqual(bodies, [expected, expected, expected], 'the same push, three times');
        const gaps = [1, 2].map((i) => relay.requests[from + i].receivedAt - relay.requests[from + i - 1].receivedAt);
        assert.ok(gaps[0] >= 90, `first retry after ~100 ms, got ${gaps[0]}`);
        assert.ok(gaps[1] >= 180, `second retry after ~200 ms, got ${gaps[1]}`);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(relay.requests.length, from + 3, 'nothing more once the relay took it');
      } finally {
        relay.responder = () => 202;
      }
    });

    test('gateway.notification_channel SSE_ONLY: the phone learns it by push, then gets the event stream alone', async () => {
      const phone = await register(server.url, { privateToken: server.privateToken, pushToken: 'fcm-sse' });
      const auth = basic(phone.login, phone.password!);
      const stream = await openStream(`${server.mobileUrl}/events`, bearer(phone.token));
      try {
        let from = relay.requests.length;
        const set = await call(`${server.thirdPartyUrl}/settings`, 'PATCH', {
          auth,
          body: { gateway: { notification_channel: 'SSE_ONLY' } },
        });
        assert.equal(set.status, 200, set.text);
        assert.equal(set.body.gateway.notification_channel, 'SSE_ONLY');
        await relay.waitFor(from + 1);
        assert.deepEqual(pushes(from), [{ token: 'fcm-sse', event: 'SettingsUpdated', data: {} }]);
        // what the app reads after that push
        const forPhone = await call(`${server.mobileUrl}/settings`, 'GET', { auth: bearer(phone.token) });
        assert.equal(forPhone.status, 200);
        assert.equal(forPhone.body.gateway.notification_channel, 'SSE_ONLY');

        from = relay.requests.length;
        const started = performance.now();
        const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
          auth,
          body: { textMessage: { text: 'stream only' }, phoneNumbers: ['+15550103004'], deviceId: phone.id },
        });
        assert.equal(sent.status, 202, sent.text);
        await eventually(
          () => stream.frames.some((f) => f.type === 'MessageEnqueued' && f.data.id === sent.body.id),
          'MessageEnqueued on the event stream within a second of the POST',
          1000,
        );
        assert.ok(performance.now() - started < 1000);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(relay.requests.length, from, 'SSE_ONLY: nothing relayed');

        // back to AUTO: relayed again
        await call(`${server.thirdPartyUrl}/settings`, 'PATCH', {
          auth,
          body: { gateway: { notification_channel: 'AUTO' } },
        });
        await relay.waitFor(from + 1);
        const later = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
          auth,
          body: { textMessage: { text: 'push again' }, phoneNumbers: ['+15550103005'], deviceId: phone.id },
        });
        await relay.waitFor(from + 2);
        assert.deepEqual(pushes(from), [
          { token: 'fcm-sse', event: 'SettingsUpdated', data: {} },
          { token: 'fcm-sse', event: 'MessageEnqueued', data: { id: later.body.id } },
        ]);
      } finally {
        stream.close();
      }
    });

    test('every data value is a string (inbox refresh, the richest push)', async () => {
      const phone = await register(server.url, { privateToken: server.privateToken, pushToken: 'fcm-export' });
      await new MobileClient(server.url, phone.token).getDevice();
      const from = relay.requests.length;
      const refresh = await call(`${server.thirdPartyUrl}/inbox/refresh`, 'POST', {
        auth: basic(phone.login, phone.password!),
        body: {
          deviceId: phone.id,
          since: '2026-01-01T00:00:00Z',
          until: '2026-01-02T00:00:00Z',
          messageTypes: ['SMS', 'DATA_SMS'],
          webhookDelivery: 'Batch',
        },
      });
      assert.equal(refresh.status, 202, refresh.text);
      await relay.waitFor(from + 1);
      const [push] = pushes(from);
      assert.equal(push.token, 'fcm-export');
      assert.equal(push.event, 'MessagesExportRequested');
      assert.ok(Object.keys(push.data).length >= 3, JSON.stringify(push.data));
      for (const [key, value] of Object.entries(push.data)) assert.equal(typeof value, 'string', key);
      assert.equal(push.data.webhookDelivery, 'Batch');
    });
  });
}

test('the relay is off unless asked for: no push leaves a default server', async () => {
  const dir = tempDir();
  const server = await createServer({ dataDir: dir.path, port: 0 });
  try {
    assert.ok(!(server.context.hub instanceof RelayingPushHub));
  } finally {
    await server.close();
    dir.remove();
  }
});
