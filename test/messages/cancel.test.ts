import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { call, basic, newDevice } from '../server/helpers.ts';

/** DELETE /messages/{id}: only a Pending message is cancelled, on the device and through the server. */

type TestDevice = Awaited<ReturnType<typeof startTestDevice>>;
const NUMBER = '+15557650000';

describe('cancel on the device', () => {
  let device: TestDevice;
  let receiver: TestReceiver;
  before(async () => {
    receiver = await new TestReceiver().start();
    // the carrier takes 30 ms per SMS, so a burst of messages is still queued while the first go
    device = await startTestDevice({ carrierDelays: { sendDelayMs: 30, reportDelayMs: 10 } });
    for (const event of ['sms:cancelled', 'sms:sent']) {
      assert.equal((await device.api.call('POST', '/webhooks', { url: `${receiver.url}/e`, event })).status, 201);
    }
  });
  after(async () => {
    await device.cleanup();
    await receiver.stop();
  });

  test('a waiting message is Cancelled with one sms:cancelled per recipient; then 409; unknown ids 404', async () => {
    // outside the work hours every message waits, Pending
    const closed = await device.api.call('PATCH', '/settings', {
      messages: { work_hours_enabled: true, work_hours_start: '00:00', work_hours_end: '00:01' },
    });
    assert.equal(closed.status, 200);
    try {
      const sent = await device.api.call('POST', '/messages', {
        id: 'wait-1',
        textMessage: { text: 'never' },
        phoneNumbers: [NUMBER, '+15557650001'],
        simNumber: 1,
      });
      assert.equal(sent.status, 202);
      const cancelled = await device.api.call('DELETE', '/messages/wait-1');
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body.state, 'Cancelled');
      assert.deepEqual(
        cancelled.body.recipients.map((r: { state: string }) => r.state),
        ['Cancelled', 'Cancelled'],
      );
      assert.deepEqual(Object.keys(cancelled.body.states).sort(), ['Cancelled', 'Pending']);
      await eventually(() => receiver.envelopes().length === 2, 'two sms:cancelled');
      const events = receiver.envelopes();
      assert.deepEqual(events.map((e) => [e.event, e.payload.messageId, e.payload.recipient]).sort(), [
        ['sms:cancelled', 'wait-1', NUMBER],
        ['sms:cancelled', 'wait-1', '+15557650001'],
      ]);
      for (const e of events) {
        assert.match(String(e.payload.cancelledAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00$/);
        assert.equal(e.payload.simNumber, 1);
        assert.equal(e.payload.phoneNumber, e.payload.recipient);
      }
      const again = await device.api.call('DELETE', '/message/wait-1');
      assert.equal(again.status, 409);
      assert.match(again.body.message, /"wait-1" is Cancelled, not Pending: only a Pending message can be cancelled/);
      const unknown = await device.api.call('DELETE', '/messages/nope');
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.message, /no message with id "nope"/);
    } finally {
      const open = await device.api.call('PATCH', '/settings', { messages: { work_hours_enabled: false } });
      assert.equal(open.status, 200);
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!device.context.carrier.sent.some((sms) => sms.messageId === 'wait-1'), 'the carrier never got it');
  });

  test('cancel while the device is sending: each message is either cancelled or sent, never both, never neither', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const reply = await device.api.call('POST', '/messages', {
        id: `race-${i}`,
        textMessage: { text: `race ${i}` },
        phoneNumbers: [NUMBER],
      });
      assert.equal(reply.status, 202);
      ids.push(reply.body.id);
    }
    // cancel them all at once while the queue is handing them to the carrier one by one
    const answers = await Promise.all(ids.map((id) => device.api.call('DELETE', `/messages/${id}`)));
    const outcome: Record<string, number> = {};
    for (const [i, answer] of answers.entries()) {
      assert.ok([200, 409].includes(answer.status), `race-${i}: ${answer.status} ${JSON.stringify(answer.body)}`);
      outcome[answer.status] = (outcome[answer.status] ?? 0) + 1;
    }
    for (const [i, answer] of answers.entries()) {
      const id = ids[i];
      await eventually(
        async () => ['Cancelled', 'Delivered'].includes((await device.api.call('GET', `/messages/${id}`)).body.state),
        `${id} to end`,
      );
      const final = (await device.api.call('GET', `/messages/${id}`)).body;
      const onAir = device.context.carrier.sent.filter((sms) => sms.messageId === id).length;
      if (answer.status === 200) {
        assert.equal(final.state, 'Cancelled', id);
        assert.equal(onAir, 0, `${id} was cancelled, yet the carrier got it`);
      } else {
        assert.equal(final.state, 'Delivered', id);
        assert.equal(onAir, 1, id);
      }
    }
    await eventually(
      () => receiver.envelopes().filter((e) => String(e.payload.messageId).startsWith('race-')).length === ids.length,
      'one event per message',
    );
    const events = receiver.envelopes().filter((e) => String(e.payload.messageId).startsWith('race-'));
    assert.equal(new Set(events.map((e) => e.payload.messageId)).size, ids.length, 'never both events');
    console.log(`# cancel race: ${JSON.stringify(outcome)}`);
    assert.ok(outcome[409] >= 1, 'the first message was on its way already');
  });
});

describe('cancel through the server', () => {
  let server: RunningServer;
  let serverDir: ReturnType<typeof tempDir>;
  before(async () => {
    serverDir = tempDir();
    server = await createServer({ dataDir: serverDir.path, port: 0, keepAliveMs: 500 });
  });
  after(async () => {
    await server.close();
    serverDir.remove();
  });

  test('Pending becomes Cancelling; the phone confirms Cancelled; past Pending is 409; unknown 404', async () => {
    const phone = await newDevice(server);
    const auth = basic(phone.login, phone.password);
    const url = (path: string) => `${server.thirdPartyUrl}${path}`;
    const send = (id: string) =>
      call(url('/messages'), 'POST', { auth, body: { id, textMessage: { text: id }, phoneNumbers: [NUMBER] } });
    assert.equal((await send('s-1')).status, 202);
    const cancelling = await call(url('/messages/s-1'), 'DELETE', { auth });
    assert.equal(cancelling.status, 200, JSON.stringify(cancelling.body));
    assert.equal(cancelling.body.state, 'Cancelling');
    assert.ok(cancelling.body.states.Cancelling);
    const twice = await call(url('/message/s-1'), 'DELETE', { auth });
    assert.equal(twice.status, 409);
    assert.match(twice.body.message, /"s-1" is Cancelling, not Pending/);
    // the pull says so again, for a phone that missed the push
    const pulled = (await phone.mobile.pullMessages()).filter((m) => m.id === 's-1');
    assert.deepEqual(
      pulled.map((m) => m.state),
      ['Cancelling'],
    );
    // the phone never had it: it confirms without recipients, and every recipient is cancelled
    await phone.mobile.reportMessages([
      { id: 's-1', state: 'Cancelled', recipients: [], states: { Cancelled: new Date().toISOString() } },
    ]);
    const confirmed = await call(url('/messages/s-1'), 'GET', { auth });
    assert.equal(confirmed.body.state, 'Cancelled');
    assert.deepEqual(
      confirmed.body.recipients.map((r: { state: string }) => r.state),
      ['Cancelled'],
    );

    // a message the phone has taken (reported Pending: Processed here) is past cancelling
    assert.equal((await send('s-2')).status, 202);
    await phone.mobile.reportMessages([
      { id: 's-2', state: 'Pending', recipients: [{ phoneNumber: NUMBER, state: 'Pending' }] },
    ]);
    const late = await call(url('/messages/s-2'), 'DELETE', { auth });
    assert.equal(late.status, 409);
    assert.match(late.body.message, /is Processed, not Pending: only a Pending message can be cancelled/);

    // a phone that had already taken a Cancelling message says so, and its state wins
    assert.equal((await send('s-3')).status, 202);
    assert.equal((await call(url('/messages/s-3'), 'DELETE', { auth })).status, 200);
    await phone.mobile.reportMessages([
      { id: 's-3', state: 'Sent', recipients: [{ phoneNumber: NUMBER, state: 'Sent' }] },
    ]);
    assert.equal((await call(url('/messages/s-3'), 'GET', { auth })).body.state, 'Sent');

    const unknown = await call(url('/messages/nope'), 'DELETE', { auth });
    assert.equal(unknown.status, 404);
    const other = await newDevice(server, 'someone else');
    const foreign = await call(url('/messages/s-2'), 'DELETE', { auth: basic(other.login, other.password) });
    assert.equal(foreign.status, 404, "another user's message is unknown");
  });

  test('a linked device that missed the MessageCancelled push learns it at its next pull', async () => {
    const device = await startTestDevice({
      link: {
        serverUrl: server.url,
        privateToken: server.privateToken,
        name: 'away phone',
        reconnect: { minDelayMs: 500, maxDelayMs: 1000 },
        healthIntervalMs: 300,
        log: () => {},
      },
    });
    try {
      const auth = basic(device.link!.registration.login, device.link!.createdPassword!);
      device.link!.dropConnection();
      const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { id: 'away-1', textMessage: { text: 'while away' }, phoneNumbers: [NUMBER] },
      });
      assert.equal(sent.status, 202);
      const cancel = await call(`${server.thirdPartyUrl}/messages/away-1`, 'DELETE', { auth });
      assert.equal(cancel.status, 200);
      await eventually(
        async () => (await call(`${server.thirdPartyUrl}/messages/away-1`, 'GET', { auth })).body.state === 'Cancelled',
        'the device to confirm the cancel after reconnecting',
      );
      const final = (await call(`${server.thirdPartyUrl}/messages/away-1`, 'GET', { auth })).body;
      assert.deepEqual(
        final.recipients.map((r: { state: string }) => r.state),
        ['Cancelled'],
      );
      assert.ok(!device.context.carrier.sent.some((sms) => sms.messageId === 'away-1'), 'never sent');
      assert.equal(device.context.sms.get('away-1'), undefined, 'never taken');
    } finally {
      await device.cleanup();
    }
  });

  test('a linked device: cancel right after sending ends in exactly one outcome on both sides', async () => {
    const device = await startTestDevice({
      link: {
        serverUrl: server.url,
        privateToken: server.privateToken,
        name: 'cancel phone',
        reconnect: { minDelayMs: 300, maxDelayMs: 1000 },
        healthIntervalMs: 300,
        log: () => {},
      },
    });
    try {
      const auth = basic(device.link!.registration.login, device.link!.createdPassword!);
      const results: [string, number][] = [];
      for (let i = 0; i < 6; i++) {
        const id = `linked-${i}`;
        const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
          auth,
          body: { id, textMessage: { text: id }, phoneNumbers: [NUMBER] },
        });
        assert.equal(sent.status, 202);
        const cancel = await call(`${server.thirdPartyUrl}/messages/${id}`, 'DELETE', { auth });
        assert.ok([200, 409].includes(cancel.status), JSON.stringify(cancel.body));
        results.push([id, cancel.status]);
      }
      for (const [id] of results) {
        await eventually(
          async () =>
            ['Cancelled', 'Delivered'].includes(
              (await call(`${server.thirdPartyUrl}/messages/${id}`, 'GET', { auth })).body.state,
            ),
          `${id} to end on the server`,
        );
        const final = (await call(`${server.thirdPartyUrl}/messages/${id}`, 'GET', { auth })).body.state;
        const onAir = device.context.carrier.sent.filter((sms) => sms.messageId === id).length;
        assert.equal(onAir, final === 'Cancelled' ? 0 : 1, `${id}: ${final} on the server, ${onAir} on the air`);
        const local = device.context.sms.get(id);
        if (local) assert.equal(local.state, final, `${id}: the device agrees`);
      }
      console.log(`# linked cancel: ${JSON.stringify(results)}`);
    } finally {
      await device.cleanup();
    }
  });
});
