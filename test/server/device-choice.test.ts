import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { systemClock, type Clock } from '../../src/shared/clock.ts';
import { basic, call, newDevice, tempDir } from './helpers.ts';
import { MobileClient, register } from '../../src/device/link/mobile-client.ts';
import { createTestDatabase, type TestDatabase } from '../postgres/helpers.ts';

const HOUR = 3_600_000;

/**
 * Which device a message without `deviceId` goes to, on both stores: devices that have connected
 * (registered ones only while none has), within `deviceActiveWithin` hours when given, spread over
 * them; a clear 400 when none qualifies.
 */
for (const store of ['sqlite', 'postgres'] as const) {
  describe(`device choice (${store})`, () => {
    let server: RunningServer;
    let database: TestDatabase | undefined;
    let dir: ReturnType<typeof tempDir>;
    // the server's time, stepped by hand (timers stay real)
    let offset = 0;
    const clock: Clock = { ...systemClock, now: () => Date.now() + offset };

    before(async () => {
      dir = tempDir();
      if (store === 'postgres') database = await createTestDatabase();
      server = await createServer({ dataDir: dir.path, port: 0, host: '127.0.0.1', db: database?.url, clock });
    });
    after(async () => {
      await server.close();
      await database?.drop();
      dir.remove();
    });

    const send = (auth: string, query = '', body: Record<string, unknown> = {}) =>
      call(`${server.thirdPartyUrl}/messages${query}`, 'POST', {
        auth,
        body: { textMessage: { text: 'hello' }, phoneNumbers: ['+15550001111'], ...body },
      });

    test('only devices that have connected; spread over them; deviceActiveWithin narrows the choice', async () => {
      // registered, not yet connected
      const a = await register(server.url, { privateToken: server.privateToken, name: 'phone A' });
      const auth = basic(a.login, a.password!);
      const b = await register(server.url, { basicAuth: { login: a.login, password: a.password! }, name: 'phone B' });

      // none has connected: a registered one takes it and keeps it Pending until it connects, as the
      // original's server does (its test suite sends right after a registration)
      const waiting = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const early = await send(auth);
        assert.equal(early.status, 202, `registered, never connected: ${early.text}`);
        assert.equal(early.body.state, 'Pending', 'it waits for the phone');
        waiting.add(early.body.deviceId);
      }
      assert.deepEqual([...waiting].sort(), [a.id, b.id].sort(), 'spread over the registered devices');
      const longAgo = await send(auth, '?deviceActiveWithin=1', {});
      assert.equal(longAgo.status, 202, `registered within the hour: ${longAgo.text}`);

      await new MobileClient(server.url, a.token).getDevice(); // A connects
      for (let i = 0; i < 3; i++) {
        const sent = await send(auth);
        assert.equal(sent.status, 202, sent.text);
        assert.equal(sent.body.deviceId, a.id, 'B has never connected');
      }

      offset += 2 * HOUR;
      await new MobileClient(server.url, b.token).getDevice(); // B connects two hours after A was last seen
      const chosen = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const sent = await send(auth);
        assert.equal(sent.status, 202, sent.text);
        chosen.set(sent.body.deviceId, (chosen.get(sent.body.deviceId) ?? 0) + 1);
      }
      assert.deepEqual([...chosen.keys()].sort(), [a.id, b.id].sort(), 'both used');

      for (let i = 0; i < 10; i++) {
        const recent = await send(auth, '?deviceActiveWithin=1');
        assert.equal(recent.status, 202, recent.text);
        assert.equal(recent.body.deviceId, b.id, 'A was seen two hours ago');
      }
      const named = await send(auth, '?deviceActiveWithin=1', { deviceId: a.id });
      assert.equal(named.status, 400, 'a device named but not active within the hours asked');
      assert.match(named.body.message, /was last seen .* not within the last 1 hour/);
      assert.equal((await send(auth, '?deviceActiveWithin=3', { deviceId: a.id })).status, 202);

      offset += 5 * HOUR;
      const stale = await send(auth, '?deviceActiveWithin=4');
      assert.equal(stale.status, 400);
      assert.match(stale.body.message, /none of your devices was seen within the last 4 hours/);
      assert.equal((await send(auth, '?deviceActiveWithin=0')).status, 202, '0: any device that has connected');
    });

    test('a phone that registered hours ago and never connected is not active within an hour', async () => {
      const quiet = await register(server.url, { privateToken: server.privateToken, name: 'quiet phone' });
      const auth = basic(quiet.login, quiet.password!);
      offset += 3 * HOUR;
      const refused = await send(auth, '?deviceActiveWithin=1');
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.message, /none of your devices has connected yet \(registered: 1\)/);
      assert.equal((await send(auth)).status, 202, 'without deviceActiveWithin it waits for the phone');
    });

    test('a user without devices, and bad deviceActiveWithin values, get a 400 with a message', async () => {
      const phone = await newDevice(server, 'lonely');
      const auth = basic(phone.login, phone.password);
      await call(`${server.thirdPartyUrl}/devices/${phone.registration.id}`, 'DELETE', { auth });
      const none = await send(auth);
      assert.equal(none.status, 400);
      assert.match(none.body.message, /no device to send from/);
      for (const bad of ['-1', 'soon', '1.5', '100000']) {
        const reply = await send(auth, `?deviceActiveWithin=${bad}`);
        assert.equal(reply.status, 400, bad);
        assert.match(reply.body.message, /deviceActiveWithin/, bad);
      }
    });
  });
}
