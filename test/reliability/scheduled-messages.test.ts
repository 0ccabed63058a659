import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { tempDir, LocalApi, eventually } from '../helpers/device.ts';
import { startSmsgate } from '../helpers/process.ts';

const PASSWORD = 'scheduled-test';
const HOLD_MS = 8000;

async function startDeviceProcess(dataDir: string) {
  const proc = await startSmsgate(['device', '--data-dir', dataDir, '--port', '0', '--password', PASSWORD]);
  return { proc, api: new LocalApi(proc.ready.url, 'sms', PASSWORD) };
}

test(
  'a scheduled message survives kill -9 of the device and is sent once, at its time',
  { timeout: 60_000 },
  async () => {
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    try {
      let { proc, api } = await startDeviceProcess(dir.path);
      const hook = await api.call('POST', '/webhooks', { url: `${receiver.url}/sent`, event: 'sms:sent' });
      assert.equal(hook.status, 201);
      const scheduleAt = Date.now() + HOLD_MS;
      const posted = await api.call('POST', '/message', {
        textMessage: { text: 'see you later' },
        phoneNumbers: ['+15550002222'],
        scheduleAt: new Date(scheduleAt).toISOString(),
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      const id = posted.body.id;
      proc.child.kill('SIGKILL');
      assert.equal(await proc.exited, 'SIGKILL');

      ({ proc, api } = await startDeviceProcess(dir.path));
      try {
        const early = await api.call('GET', `/message/${id}`);
        assert.equal(early.status, 200);
        // on a slow machine the restart may last until its time, and it may be sent already
        if (Date.now() < scheduleAt - 500) assert.equal(early.body.state, 'Pending', 'held after the restart');

        const sent = await eventually(
          async () => {
            const reply = await api.call('GET', `/message/${id}`);
            return ['Sent', 'Delivered'].includes(reply.body.state) && reply.body;
          },
          'the scheduled message sent',
          HOLD_MS + 10_000,
        );
        assert.ok(Date.parse(sent.states.Sent) >= scheduleAt, `sent at ${sent.states.Sent}, not before its time`);
        await receiver.waitFor(1);
        await new Promise((r) => setTimeout(r, 300));
        const events = receiver.envelopes().filter((e) => e.event === 'sms:sent');
        assert.equal(events.length, 1, 'sent once');
        assert.equal(events[0].payload.messageId, id);
        assert.ok(Date.parse(String(events[0].payload.sentAt)) >= scheduleAt, 'the event tells the same time');
      } finally {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
    } finally {
      await receiver.stop();
      dir.remove();
    }
  },
);
