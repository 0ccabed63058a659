import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir, LocalApi } from '../helpers/device.ts';
import { startSmsgate } from '../helpers/process.ts';

test('a receiver down across six retries gets every delivery when it comes back; none failed early', async () => {
  const SCALE = 0.005; // retries at 50, 100, 200, 400, 800, 1600 ms; a 150 ms attempt deadline
  const device = await startTestDevice({ timeScale: SCALE });
  const receiver = await new TestReceiver().start();
  const port = Number(new URL(receiver.url).port);
  await receiver.stop(); // down: connections are refused
  try {
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event: 'sms:received' });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++)
      ids.push(
        ...(await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: `outage ${i}` })).body.deliveryIds,
      );

    // Wait until every delivery has failed at least six times.
    await eventually(
      async () => {
        const pending = (await device.api.call('GET', '/deliveries?state=pending&limit=100')).body.items;
        return pending.length === 50 && pending.every((d: { attempts: number }) => d.attempts >= 7);
      },
      'six retries spent on every delivery',
      30_000,
      50,
    );
    assert.equal(
      (await device.api.call('GET', '/deliveries?state=failed')).body.items.length,
      0,
      'none given up before the budget',
    );

    const back = await new TestReceiver().start(port);
    try {
      await back.waitFor(50, 60_000);
      await eventually(
        async () => (await device.api.call('GET', '/deliveries?state=succeeded&limit=100')).body.items.length === 50,
        'all succeeded',
        30_000,
      );
      assert.deepEqual(new Set(back.envelopes().map((e) => e.id)), new Set(ids));
    } finally {
      await back.stop();
    }
  } finally {
    await device.cleanup();
  }
});

test('deliveries that spent their budget are listed as failed and can be redelivered', async () => {
  const device = await startTestDevice({ timeScale: 0.002 });
  const receiver = await new TestReceiver().start();
  receiver.responder = () => 503;
  try {
    await device.api.call('PATCH', '/settings', { webhooks: { retry_count: 2 } });
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event: 'sms:received' });
    for (let i = 0; i < 5; i++) await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: `doomed ${i}` });
    const failed = await eventually(async () => {
      const items = (await device.api.call('GET', '/deliveries?state=failed')).body.items;
      return items.length === 5 ? items : null;
    }, 'five failed deliveries');
    assert.equal(receiver.requests.length, 15, 'three attempts each');

    receiver.responder = () => 200;
    for (const d of failed) assert.equal((await device.api.call('POST', `/deliveries/${d.id}/redeliver`)).status, 202);
    await eventually(
      async () => (await device.api.call('GET', '/deliveries?state=succeeded')).body.items.length === 5,
      'all redelivered',
    );
    assert.equal((await device.api.call('GET', '/deliveries?state=failed')).body.items.length, 0);
  } finally {
    await device.cleanup();
    await receiver.stop();
  }
});

test(
  'SIGTERM lets attempts in flight finish, records them and exits 0; a restart resumes the rest',
  { timeout: 60_000 },
  async () => {
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    // Slow answers keep two attempts in flight when SIGTERM arrives.
    receiver.responder = () => new Promise((resolve) => setTimeout(() => resolve(200), 400));
    const args = ['device', '--data-dir', dir.path, '--port', '0', '--password', 'pw', '--concurrency', '2'];
    let proc = await startSmsgate(args);
    try {
      let api = new LocalApi(proc.ready.url, 'sms', 'pw');
      await api.call('POST', '/webhooks', { url: `${receiver.url}/slow`, event: 'sms:received' });
      for (let i = 0; i < 10; i++) await api.call('POST', '/sim/v1/incoming', { from: '+1', text: `graceful ${i}` });
      await receiver.waitFor(2);
      const stoppedAt = Date.now();
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0, 'clean exit');
      assert.ok(Date.now() - stoppedAt < 5000);

      const db = new Database(join(dir.path, 'device.db'), { readonly: true });
      const states = Object.fromEntries(
        (
          db.prepare(`SELECT state, count(*) AS n FROM deliveries GROUP BY state`).all() as {
            state: string;
            n: number;
          }[]
        ).map((r) => [r.state, r.n]),
      );
      // a failed attempt is a row of attempts; a successful one stays on its delivery's row
      const attempts = (
        db
          .prepare(
            `SELECT (SELECT count(*) FROM attempts) + (SELECT count(*) FROM deliveries WHERE success_started_at IS NOT NULL) AS n`,
          )
          .get() as { n: number }
      ).n;
      db.close();
      assert.equal(states.sending, undefined, 'nothing left marked in flight');
      assert.ok(states.succeeded >= 2, `the in-flight attempts finished and were recorded: ${JSON.stringify(states)}`);
      assert.equal(attempts, states.succeeded, 'one recorded attempt per finished delivery');
      assert.equal(states.succeeded + (states.pending ?? 0), 10);

      receiver.responder = () => 200;
      proc = await startSmsgate(args);
      api = new LocalApi(proc.ready.url, 'sms', 'pw');
      await eventually(
        async () => (await api.call('GET', '/deliveries?state=succeeded')).body.items.length === 10,
        'the rest delivered after restart',
      );
      assert.equal(new Set(receiver.envelopes().map((e) => e.id)).size, 10);
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
      await receiver.stop();
      dir.remove();
    }
  },
);

test(
  'a second SIGTERM ends a stop that waits on a receiver that never answers: exit 1 at once, and nothing is lost',
  { timeout: 60_000 },
  async () => {
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    receiver.responder = () => 'hang';
    const args = ['device', '--data-dir', dir.path, '--port', '0', '--password', 'pw'];
    let proc = await startSmsgate(args);
    try {
      let api = new LocalApi(proc.ready.url, 'sms', 'pw');
      await api.call('POST', '/webhooks', { url: `${receiver.url}/stuck`, event: 'sms:received' });
      for (let i = 0; i < 3; i++) await api.call('POST', '/sim/v1/incoming', { from: '+1', text: `stuck ${i}` });
      await receiver.waitFor(1);
      proc.child.kill('SIGTERM');
      // the first SIGTERM waits for the attempts in flight (up to 10 s): still running a moment later
      const early = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r('running'), 500))]);
      assert.equal(early, 'running', 'the first SIGTERM waits for the attempts in flight');
      const againAt = Date.now();
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 1, 'the second SIGTERM exits 1');
      assert.ok(Date.now() - againAt < 2000, `at once (${Date.now() - againAt} ms)`);
      assert.ok(
        proc.output.some((line) => line.includes('SIGTERM again: exiting now')),
        proc.output.join('\n'),
      );

      receiver.responder = () => 200;
      proc = await startSmsgate(args);
      api = new LocalApi(proc.ready.url, 'sms', 'pw');
      await eventually(
        async () => (await api.call('GET', '/deliveries?state=succeeded')).body.items.length === 3,
        'every delivery sent after the restart',
        20_000,
        100,
      );
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
      await receiver.stop();
      dir.remove();
    }
  },
);
