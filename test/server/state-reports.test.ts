import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import type { MessageReport } from '../../src/protocol/index.ts';
import { basic, call, newDevice, tempDir } from './helpers.ts';
import { createTestDatabase, type TestDatabase } from '../postgres/helpers.ts';

/**
 * What a phone reports on `PATCH /mobile/v1/message`, on both stores: every state the app can
 * report is accepted, a message the phone acknowledged leaves the pull, and a long queue drains
 * through pulls of 100.
 */
for (const store of ['sqlite', 'postgres'] as const) {
  describe(`state reports (${store})`, () => {
    let server: RunningServer;
    let database: TestDatabase | undefined;
    let dir: ReturnType<typeof tempDir>;

    before(async () => {
      dir = tempDir();
      if (store === 'postgres') database = await createTestDatabase();
      server = await createServer({ dataDir: dir.path, port: 0, host: '127.0.0.1', db: database?.url });
    });
    after(async () => {
      await server.close();
      await database?.drop();
      dir.remove();
    });

    const send = async (auth: string, id: string, phoneNumbers = ['+15550001111']) => {
      const reply = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { id, textMessage: { text: `text of ${id}` }, phoneNumbers },
      });
      assert.equal(reply.status, 202, reply.text);
    };
    const report = (id: string, state: MessageReport['state'], phoneNumbers = ['+15550001111']): MessageReport => ({
      id,
      state,
      recipients: phoneNumbers.map((phoneNumber) => ({ phoneNumber, state })),
      states: { [state]: new Date().toISOString() },
    });

    test('a Pending report means the phone has the message: it leaves the pull and reads Processed', async () => {
      const phone = await newDevice(server, 'ack phone');
      const auth = basic(phone.login, phone.password);
      await send(auth, 'ack-1');
      await send(auth, 'ack-2');
      assert.deepEqual((await phone.mobile.pullMessages()).map((m) => m.id).sort(), ['ack-1', 'ack-2']);

      await phone.mobile.reportMessages([report('ack-1', 'Pending')]);
      assert.deepEqual(
        (await phone.mobile.pullMessages()).map((m) => m.id),
        ['ack-2'],
      );
      const state = await call(`${server.thirdPartyUrl}/messages/ack-1`, 'GET', { auth });
      assert.equal(state.body.state, 'Processed');
      assert.equal(state.body.recipients[0].state, 'Processed');
      // a later report moves it on as usual
      await phone.mobile.reportMessages([report('ack-1', 'Sent')]);
      assert.equal((await call(`${server.thirdPartyUrl}/messages/ack-1`, 'GET', { auth })).body.state, 'Sent');
    });

    test('Cancelled is accepted, final, and takes the message out of the pull', async () => {
      const phone = await newDevice(server, 'cancel phone');
      const auth = basic(phone.login, phone.password);
      await send(auth, 'cancel-1', ['+15550001111', '+15550002222']);
      const reply = await call(`${server.mobileUrl}/message`, 'PATCH', {
        auth: `Bearer ${phone.registration.token}`,
        body: [report('cancel-1', 'Cancelled', ['+15550001111', '+15550002222'])],
      });
      assert.equal(reply.status, 204, reply.text);
      assert.deepEqual(await phone.mobile.pullMessages(), []);
      const state = await call(`${server.thirdPartyUrl}/messages/cancel-1`, 'GET', { auth });
      assert.equal(state.body.state, 'Cancelled');
      assert.deepEqual(
        state.body.recipients.map((r: { state: string }) => r.state),
        ['Cancelled', 'Cancelled'],
      );
      assert.ok(state.body.states.Cancelled, 'the time it was cancelled');
      // final: a late Sent does not undo it
      await phone.mobile.reportMessages([report('cancel-1', 'Sent', ['+15550001111', '+15550002222'])]);
      assert.equal((await call(`${server.thirdPartyUrl}/messages/cancel-1`, 'GET', { auth })).body.state, 'Cancelled');
    });

    test('every state the app reports is accepted; an unknown one is a 400 that names the states', async () => {
      const phone = await newDevice(server, 'all states phone');
      const auth = basic(phone.login, phone.password);
      const states = ['Pending', 'Processed', 'Sent', 'Delivered', 'Failed', 'Cancelled'] as const;
      for (const state of states) {
        await send(auth, `all-${state}`);
        const reply = await call(`${server.mobileUrl}/message`, 'PATCH', {
          auth: `Bearer ${phone.registration.token}`,
          body: [report(`all-${state}`, state)],
        });
        assert.equal(reply.status, 204, `${state}: ${reply.text}`);
      }
      const bad = await call(`${server.mobileUrl}/message`, 'PATCH', {
        auth: `Bearer ${phone.registration.token}`,
        body: [{ ...report('all-Sent', 'Sent'), state: 'Exploded' }],
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /state/);
    });

    test('a queue of 1,000 drains through pulls of 100, each handing out the next ones', async () => {
      const phone = await newDevice(server, 'drain phone');
      const ids = Array.from({ length: 1000 }, (_, i) => `drain-${String(i).padStart(4, '0')}`);
      // queued through the service the route calls (1,000 HTTP requests would only slow the test)
      const { userId } = (await server.context.devices.authenticate(phone.registration.token))!;
      for (let i = 0; i < ids.length; i += 100) {
        await Promise.all(
          ids
            .slice(i, i + 100)
            .map((id) =>
              server.context.messages.send(userId, { id, textMessage: { text: id }, phoneNumbers: ['+15550001111'] }),
            ),
        );
      }

      const seen = new Set<string>();
      let pulls = 0;
      for (;;) {
        const batch = await phone.mobile.pullMessages();
        if (batch.length === 0) break;
        pulls++;
        assert.ok(batch.length <= 100, `a pull hands out at most 100 (got ${batch.length})`);
        for (const m of batch) {
          assert.ok(!seen.has(m.id), `${m.id} handed out twice`);
          seen.add(m.id);
        }
        // what the app does on taking them: it reports them Pending
        await phone.mobile.reportMessages(batch.map((m) => report(m.id, 'Pending')));
        assert.ok(pulls <= 10, 'drained in 10 pulls');
      }
      assert.equal(pulls, 10);
      assert.deepEqual([...seen].sort(), ids.sort());
    });
  });
}

test('on SQLite one PATCH /mobile/v1/message is one commit, not one per message: 50 reports add a few WAL frames, not 50 commits of several', async () => {
  const dir = tempDir();
  const server = await createServer({ dataDir: dir.path, port: 0, host: '127.0.0.1' });
  const reader = new Database(join(dir.path, 'server.db'));
  try {
    const phone = await newDevice(server, 'one commit');
    const auth = basic(phone.login, phone.password);
    const ids = Array.from({ length: 50 }, (_, i) => `commit-${i}`);
    for (const id of ids) {
      const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { id, textMessage: { text: id }, phoneNumbers: ['+15550001111'] },
      });
      assert.equal(sent.status, 202, sent.text);
    }
    // The server's own checkpoints run on a worker thread; while one runs, another cannot (busy,
    // log -1): try again until this one gets its turn.
    const checkpoint = async (mode: 'PASSIVE' | 'TRUNCATE') => {
      for (let attempt = 0; ; attempt++) {
        const [result] = reader.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number }[];
        if ((result.busy === 0 && result.log >= 0) || attempt === 100) return result.log;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const frames = () => checkpoint('PASSIVE');
    assert.equal(await checkpoint('TRUNCATE'), 0, 'the WAL starts empty');
    const at = new Date().toISOString();
    await phone.mobile.reportMessages(
      ids.map((id) => ({
        id,
        state: 'Sent',
        recipients: [{ phoneNumber: '+15550001111', state: 'Sent' }],
        states: { Sent: at },
      })),
    );
    // each commit writes every page it changed (message, recipient, state, their indexes): one per
    // report made 50 commits of several frames each
    const written = await frames();
    assert.ok(written >= 0 && written < 50, `50 reports wrote ${written} WAL frames`);
    const state = await call(`${server.thirdPartyUrl}/messages/${ids[49]}`, 'GET', { auth });
    assert.equal(state.body.state, 'Sent', 'the reports were applied');
  } finally {
    reader.close();
    await server.close();
    dir.remove();
  }
});
