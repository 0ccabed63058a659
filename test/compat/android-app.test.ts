import { basic } from '../helpers/http.ts';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { tempDir, eventually } from '../helpers/common.ts';
import { openStream, type OpenStream } from '../helpers/sse.ts';
import { createTestDatabase, type TestDatabase } from '../postgres/helpers.ts';

/**
 * The Android app (capcom6/android-sms-gateway, modules/gateway) against smsgate's mobile API,
 * request by request, from its first start to one delivered message, with the notification
 * channel SSE_ONLY: what it sends (paths, headers, JSON names and types, its date format) and what
 * it reads from the answers. Each step names the app's file that makes the request and the Go
 * server's handler (android-sms-gateway/server) whose answer it expects.
 *
 * App files, under app/src/main/java/me/capcom/smsgateway/modules/gateway/:
 *   GatewayApi.kt (the requests and their JSON), GatewayService.kt (when it makes them),
 *   services/SSEForegroundService.kt and helpers/SSEManager.kt (the event stream).
 * Server files, under internal/sms-gateway/: handlers/mobile.go, handlers/messages/mobile.go,
 *   handlers/settings/mobile.go, handlers/webhooks/mobile.go, modules/sse/service.go,
 *   modules/events/events.go; the JSON shapes are client-go's smsgateway/requests_mobile.go and
 *   responses_mobile.go.
 */

const PRIVATE_TOKEN = 'compat-private-token-0123456789';
/** Ktor's UserAgent plugin in GatewayApi.kt */
const USER_AGENT = 'me.capcom.smsgateway/1.40.0';
/** the app's Gson writes dates ISO 8601 with the phone's offset */
const phoneTime = (ms: number) => {
  const d = new Date(ms + 3 * 3_600_000);
  return d.toISOString().replace('Z', '+03:00');
};
const SIM_CARDS = [
  { slotIndex: 0, simNumber: 1, phoneNumber: '+15550100001', carrierName: 'Test Mobile', iccid: '8901260000000000001' },
  { slotIndex: 1, simNumber: 2, phoneNumber: null, carrierName: null, iccid: null },
];

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

for (const store of ['sqlite', 'postgres'] as const) {
  describe(`the Android app's exchange (${store})`, () => {
    let server: RunningServer;
    let database: TestDatabase | undefined;
    let dir: ReturnType<typeof tempDir>;

    before(async () => {
      dir = tempDir();
      if (store === 'postgres') database = await createTestDatabase();
      server = await createServer({
        dataDir: dir.path,
        port: 0,
        host: '127.0.0.1',
        db: database?.url,
        privateToken: PRIVATE_TOKEN,
        keepAliveMs: 500,
      });
    });
    after(async () => {
      await server.close();
      await database?.drop();
      dir.remove();
    });

    /** One request as the app's Ktor client (OkHttp engine, Gson) makes it. */
    const app = async (
      method: string,
      path: string,
      options: { auth?: string; body?: unknown } = {},
    ): Promise<Reply> => {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-charset': 'UTF-8', accept: '*/*' };
      if (options.auth) headers.authorization = options.auth;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${server.url}/mobile/v1${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
    };
    const user = (login: string, password: string) => async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}/3rdparty/v1${path}`, {
        method,
        headers: {
          authorization: basic(login, password),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined };
    };

    test('first start to one delivered message, then a second phone by one-time code and a password change', async () => {
      // 1. GatewayService.getPublicIP → GatewayApi.getDevice(null): before registering, no token.
      //    Server: handlers/mobile.go getDevice answers {externalIp} and no device.
      let reply = await app('GET', '/device');
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(reply.json, { externalIp: '127.0.0.1' });

      // 2. GatewayService.registerDevice (RegistrationMode.Anonymous on a private server) →
      //    GatewayApi.deviceRegister: Bearer <private token>, DeviceRegisterRequest {name, pushToken,
      //    simCards}; SSE_ONLY means no push token. Server: handlers/mobile.go postDevice → 201
      //    MobileRegisterResponse {id, token, login, password}.
      reply = await app('POST', '/device', {
        auth: `Bearer ${PRIVATE_TOKEN}`,
        body: { name: 'Google/sdk_gphone64_x86_64', pushToken: null, simCards: SIM_CARDS },
      });
      assert.equal(reply.status, 201, reply.text);
      assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
      const { id: deviceId, token, login, password } = reply.json;
      assert.match(deviceId, /^[A-Za-z0-9_-]{21}$/);
      assert.equal(typeof token, 'string');
      assert.match(login, /^[A-Z0-9]{6}$/);
      assert.match(password, /^[a-z0-9]{14}$/);
      const bearer = `Bearer ${token}`;

      // 3. SSEForegroundService.ensureSseConnected → SSEManager: GET <server>/events with the token
      //    (OkHttp's EventSources adds Accept: text/event-stream). Server: modules/sse/service.go.
      let stream: OpenStream | undefined;
      try {
        stream = await openStream(`${server.url}/mobile/v1/events`, bearer);

        // 4. On connect, syncNow → GatewayService.getNewMessages → GatewayApi.getMessages(token,
        //    processing order; LIFO by default): GET /message?order=lifo. Server:
        //    handlers/messages/mobile.go list → [].
        reply = await app('GET', '/message?order=lifo', { auth: bearer });
        assert.equal(reply.status, 200, reply.text);
        assert.deepEqual(reply.json, []);

        // 5. SettingsUpdateWorker → GatewayService.getSettings → GET /settings: a map the app hands to
        //    its SettingsService. Server: handlers/settings/mobile.go.
        reply = await app('GET', '/settings', { auth: bearer });
        assert.equal(reply.status, 200, reply.text);
        assert.equal(typeof reply.json, 'object');
        assert.ok(!Array.isArray(reply.json));

        // 6. WebhooksUpdateWorker → GatewayService.getWebHooks → GET /webhooks: [{id, url, event}].
        //    Server: handlers/webhooks/mobile.go.
        reply = await app('GET', '/webhooks', { auth: bearer });
        assert.equal(reply.status, 200, reply.text);
        assert.deepEqual(reply.json, []);

        // 7. GatewayService.updateDevice (at the next start, or when the SIMs change) →
        //    GatewayApi.devicePatch: DevicePatchRequest {id, pushToken, simCards}. Server:
        //    handlers/mobile.go patchDevice → 204; another device's id → 403.
        reply = await app('PATCH', '/device', {
          auth: bearer,
          body: { id: deviceId, pushToken: null, simCards: SIM_CARDS.slice(0, 1) },
        });
        assert.equal(reply.status, 204, reply.text);
        reply = await app('PATCH', '/device', { auth: bearer, body: { id: 'someone-else', pushToken: null } });
        assert.equal(reply.status, 403);
        assert.equal(typeof reply.json.message, 'string');

        // 8. GatewayService.getPublicIP again, now registered: {device, externalIp}.
        reply = await app('GET', '/device', { auth: bearer });
        assert.equal(reply.status, 200, reply.text);
        assert.equal(reply.json.externalIp, '127.0.0.1');
        assert.equal(reply.json.device.id, deviceId);
        assert.deepEqual(reply.json.device.simCards, [SIM_CARDS[0]]);

        // The user sees the phone with its SIM cards (client-go domain_devices.go Device.simCards).
        const owner = user(login, password);
        const devices = await owner('GET', '/devices');
        assert.equal(devices.status, 200);
        assert.deepEqual(
          devices.json.map((d: { id: string; simCards?: unknown }) => [d.id, d.simCards]),
          [[deviceId, [SIM_CARDS[0]]]],
        );

        // 9. The user sends a message; the phone hears MessageEnqueued on its stream.
        //    Server: modules/events/events.go NewMessageEnqueuedEvent, written as
        //    "event: MessageEnqueued" by modules/sse/service.go.
        const posted = performance.now();
        const sent = await owner('POST', '/messages', {
          textMessage: { text: 'Hello from the compat test' },
          phoneNumbers: ['+15550109999'],
        });
        assert.equal(sent.status, 202);
        const messageId = sent.json.id as string;
        await eventually(() => stream!.frames.some((f) => f.type === 'MessageEnqueued'), 'MessageEnqueued', 1000);
        assert.ok(performance.now() - posted < 1000, 'pushed within a second');

        // 10. SSEForegroundService.processEvent → syncNow → getMessages: the message, as
        //     GatewayApi.Message reads it (client-go MobileMessage): id, textMessage.text (or message),
        //     phoneNumbers, simNumber, withDeliveryReport, isEncrypted, validUntil, priority, createdAt.
        reply = await app('GET', '/message?order=lifo', { auth: bearer });
        assert.equal(reply.status, 200, reply.text);
        assert.equal(reply.json.length, 1);
        const message = reply.json[0];
        assert.equal(message.id, messageId);
        assert.deepEqual(message.textMessage, { text: 'Hello from the compat test' });
        assert.deepEqual(message.phoneNumbers, ['+15550109999']);
        assert.equal(message.simNumber, null);
        assert.equal(message.withDeliveryReport, true);
        assert.equal(message.isEncrypted, false);
        assert.equal(message.validUntil, null);
        assert.equal(message.priority, 0);
        assert.ok(!Number.isNaN(Date.parse(message.createdAt)), 'createdAt is a date Gson reads');

        // 11. SendStateWorker → GatewayService.sendState → buildMessagePatchRequest: each state change,
        //     the states map keyed by state name with the phone's dates, error only when Failed.
        //     Server: handlers/messages/mobile.go patch → 204.
        const t0 = Date.now();
        for (const [state, states] of [
          ['Processed', { Processed: phoneTime(t0) }],
          ['Sent', { Sent: phoneTime(t0 + 1000) }],
          ['Delivered', { Sent: phoneTime(t0 + 1000), Delivered: phoneTime(t0 + 2000) }],
        ] as const) {
          reply = await app('PATCH', '/message', {
            auth: bearer,
            body: [
              {
                id: messageId,
                state,
                recipients: [{ phoneNumber: '+15550109999', state, error: null }],
                states,
              },
            ],
          });
          assert.equal(reply.status, 204, `${state}: ${reply.text}`);
        }
        reply = await app('GET', '/message?order=lifo', { auth: bearer });
        assert.deepEqual(reply.json, [], 'reported: no longer handed out');

        // The user reads the delivered message.
        const state = await owner('GET', `/messages/${messageId}`);
        assert.equal(state.json.state, 'Delivered');
        assert.equal(state.json.deviceId, deviceId);
        assert.deepEqual(Object.keys(state.json.states).sort(), ['Delivered', 'Pending', 'Processed', 'Sent']);
        assert.equal(Date.parse(state.json.states.Delivered), t0 + 2000);
      } finally {
        stream?.close();
      }

      // 12. Settings → "Login code": GatewayService.getLoginCode → GatewayApi.getUserCode, the
      //     user's Basic auth. Server: handlers/mobile.go getUserCode → {code, validUntil}.
      reply = await app('GET', '/user/code', { auth: basic(login, password) });
      assert.equal(reply.status, 200, reply.text);
      assert.match(reply.json.code, /^\d{6}$/);
      const validFor = Date.parse(reply.json.validUntil) - Date.now();
      assert.ok(validFor > 60_000 && validFor <= 5 * 60_000 + 1000, `valid for ${validFor} ms`);

      // 13. A second phone signs in with that code: GatewayApi.deviceRegister(request, code) sends
      //     Authorization: Code <code>. Server: userauth.NewCode → postDevice for that user, no password.
      const second = await app('POST', '/device', {
        auth: `Code ${reply.json.code}`,
        body: { name: 'samsung/a52', pushToken: null, simCards: [] },
      });
      assert.equal(second.status, 201, second.text);
      assert.equal(second.json.login, login);
      assert.equal(second.json.password, undefined);
      const again = await app('POST', '/device', { auth: `Code ${reply.json.code}`, body: { name: 'third' } });
      assert.equal(again.status, 401, 'a code is good for one registration');
      assert.equal(typeof again.json.message, 'string');

      // 14. Settings → "Change password": GatewayService.changePassword → GatewayApi.changeUserPassword.
      //     Server: handlers/mobile.go changePassword; client-go MobileChangePasswordRequest wants
      //     newPassword of at least 14 characters.
      reply = await app('PATCH', '/user/password', {
        auth: bearer,
        body: { currentPassword: password, newPassword: 'too-short' },
      });
      assert.equal(reply.status, 400);
      assert.match(reply.json.message, /14/);
      reply = await app('PATCH', '/user/password', {
        auth: bearer,
        body: { currentPassword: password, newPassword: 'a-new-password-of-20' },
      });
      assert.equal(reply.status, 204, reply.text);
      assert.equal((await user(login, 'a-new-password-of-20')('GET', '/devices')).status, 200);
    });
  });
}
