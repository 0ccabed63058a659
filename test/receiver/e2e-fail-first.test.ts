// `smsgate listen --fail-first 2` as a real child process makes a real device retry twice: the
// output shows the same delivery id three times, answered 500, 500, then 200, and every attempt
// (the third included) verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { startSmsgate, type RunningProcess } from '../helpers/process.ts';
import type { ListenRecord } from '../../src/receiver/listener.ts';

const KEY = 'fail-first-e2e-key';

test('--fail-first 2: the device retries twice and the third attempt of the same id is verified', async () => {
  // timeScale 0.05 (as SMSGATE_TIME_SCALE=0.05): the retries come after 0.5 s and 1 s instead of 10 s and 20 s.
  // Not 0.01: that also cuts the attempt timeout to 300 ms, which a freshly started child process on a
  // busy machine can miss, and a timed-out attempt would add a retry this test does not expect.
  const device = await startTestDevice({ timeScale: 0.05 });
  let listen: RunningProcess | undefined;
  try {
    assert.equal((await device.api.call('PATCH', '/settings', { webhooks: { signing_key: KEY } })).status, 200);
    listen = await startSmsgate(['listen', '--port', '0', '--fail-first', '2', '--secret', KEY, '--json']);
    const running = listen;
    const lines = () =>
      running.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as ListenRecord);

    const hook = await device.api.call('POST', '/webhooks', {
      url: `${listen.ready.url}webhook`,
      event: 'sms:received',
    });
    assert.equal(hook.status, 201);
    assert.equal(
      (await device.api.call('POST', '/sim/v1/incoming', { from: '+15551234567', text: 'retry me' })).status,
      202,
    );

    await eventually(() => lines().length >= 3, 'three requests at the listener', 15_000);
    const records = lines();
    const id = records[0].id;
    assert.match(String(id), /^[A-Za-z0-9_-]{21}$/);
    assert.deepEqual(
      records.map((r) => ({ id: r.id, event: r.event, status: r.status, verified: r.verified, reason: r.reason })),
      [
        { id, event: 'sms:received', status: 500, verified: true, reason: null },
        { id, event: 'sms:received', status: 500, verified: true, reason: null },
        { id, event: 'sms:received', status: 200, verified: true, reason: null },
      ],
    );
    assert.equal((records[2].payload as { message: string }).message, 'retry me');

    // The device's log tells the same story, and nothing more is sent once the 200 is in.
    const delivery = await eventually(async () => {
      const d = (await device.api.call('GET', `/deliveries/${id}`)).body;
      return d.state === 'succeeded' ? d : null;
    }, 'the delivery succeeded');
    assert.equal(delivery.attempts, 3);
    assert.deepEqual(
      delivery.attemptLog.map((a: { status: number | null; error: string | null }) => [a.status, a.error]),
      [
        [500, 'HTTP 500'],
        [500, 'HTTP 500'],
        [200, null],
      ],
    );
    await sleep(1500); // longer than the next retry interval would be at this time scale
    assert.equal(lines().length, 3, 'no fourth request after the success');
  } finally {
    if (listen) {
      listen.child.kill('SIGTERM');
      await listen.exited;
    }
    await device.cleanup();
  }
});
