import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { TestReceiver } from '../helpers/receiver.ts';
import { tempDir, LocalApi, eventually } from '../helpers/device.ts';
import { startSmsgate } from '../helpers/process.ts';

const EVENTS = 2000;
const PASSWORD = 'crash-test';

async function startDeviceProcess(dataDir: string) {
  const proc = await startSmsgate(['device', '--data-dir', dataDir, '--port', '0', '--password', PASSWORD], {
    SMSGATE_TIME_SCALE: '0.01',
  });
  return { proc, api: new LocalApi(proc.ready.url, 'sms', PASSWORD) };
}

test('kill -9 during a burst of 2,000 events loses no delivery', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const receiver = await new TestReceiver().start();
  // A slow-ish receiver keeps deliveries in flight when the kill lands.
  receiver.responder = () => new Promise((resolve) => setTimeout(() => resolve(200), 2));
  try {
    let { proc, api } = await startDeviceProcess(dir.path);
    assert.equal(
      (await api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event: 'sms:received' })).status,
      201,
    );

    const acknowledged = new Set<string>(); // delivery ids of events whose 202 we saw: committed
    let sent = 0;
    let killed = false;
    // Phase 1: a burst from 16 clients; the kill lands halfway, with requests and deliveries in flight.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (!killed) {
          sent++;
          try {
            const reply = await api.call('POST', '/sim/v1/incoming', { from: '+1555', text: `burst ${sent}` });
            if (reply.status === 202) for (const id of reply.body.deliveryIds) acknowledged.add(id);
          } catch {
            return; // the device is gone
          }
          if (!killed && acknowledged.size >= EVENTS / 2) {
            killed = true;
            proc.child.kill('SIGKILL');
          }
        }
      }),
    );
    assert.equal(await proc.exited, 'SIGKILL');

    // Phase 2: restart on the same file; the clients send the rest of the 2,000.
    ({ proc, api } = await startDeviceProcess(dir.path));
    let counter = acknowledged.size;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (counter < EVENTS) {
          counter++;
          const reply = await api.call('POST', '/sim/v1/incoming', { from: '+1555', text: `after restart ${counter}` });
          assert.equal(reply.status, 202);
          for (const id of reply.body.deliveryIds) acknowledged.add(id);
        }
      }),
    );
    assert.ok(acknowledged.size >= EVENTS, `${acknowledged.size} events acknowledged`);

    await eventually(
      () => {
        const got = new Set(receiver.envelopes().map((e) => e.id));
        return [...acknowledged].every((id) => got.has(id));
      },
      'every acknowledged delivery id at the receiver',
      60_000,
      100,
    );
    const ids = receiver.envelopes().map((e) => e.id);
    const duplicates = ids.length - new Set(ids).size;
    console.log(
      `# crash test: ${acknowledged.size} acknowledged, ${ids.length} received, ${duplicates} duplicates, 0 missing`,
    );

    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, 'SIGTERM exits cleanly');
    const db = new Database(join(dir.path, 'device.db'), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
  } finally {
    await receiver.stop();
    dir.remove();
  }
});
