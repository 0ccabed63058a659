/**
 * A device in a process of its own, driven over IPC by a benchmark (harness.ts: startDeviceHost),
 * so that what it measures about memory is the device's alone. It samples its RSS every 100 ms
 * and after every enqueue batch.
 */
import { startBenchDevice, registerWebhook, rssSampler, now, sleep } from './harness.ts';
import type { DeliveryTarget } from '../../src/device/store/outbox.ts';

const device = await startBenchDevice(JSON.parse(process.env.BENCH_DEVICE_OPTIONS ?? '{}'));
const { db, outbox, clock, network, dispatcher } = device.context;
const rss = rssSampler(100);
let targets: DeliveryTarget[] = [];

type Command =
  | { type: 'register'; url: string }
  | { type: 'build'; count: number; batch: number }
  | { type: 'online'; value: boolean }
  | { type: 'settle' }
  | { type: 'rss' }
  | { type: 'count'; state: string }
  | { type: 'stop' };

async function handle(command: Command): Promise<object> {
  switch (command.type) {
    case 'register': {
      const webhookId = await registerWebhook(device, command.url);
      targets = [{ source: 'Local', webhookId, url: command.url, envelopeDeviceId: device.deviceId }];
      return { webhookId };
    }
    case 'build': {
      // Straight into the outbox, `batch` events (one delivery each) per transaction.
      const started = now();
      for (let done = 0; done < command.count;) {
        const size = Math.min(command.batch, command.count - done);
        db.transaction(() => {
          for (let i = done; i < done + size; i++) {
            const at = clock.now();
            const payload = {
              messageId: `m${i}`,
              message: `backlog message ${i}`,
              phoneNumber: '+15550000000',
              simNumber: 1,
              receivedAt: new Date(at).toISOString(),
            };
            outbox.enqueue('sms:received', payload, targets, at);
          }
        })();
        done += size;
        rss.peak(); // the timer cannot sample during a batch
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { rate: command.count / ((now() - started) / 1000) };
    }
    case 'online':
      network.set(command.value);
      return {};
    case 'settle':
      while (dispatcher.inFlightCount > 0) await sleep(2);
      return {};
    case 'rss':
      return { peak: rss.peak(), now: process.memoryUsage.rss(), atPeak: rss.atPeak() };
    case 'count':
      return { count: db.prepare(`SELECT count(*) FROM deliveries WHERE state = ?`).pluck().get(command.state) };
    case 'stop':
      rss.stop();
      await device.cleanup();
      return {};
  }
}

process.on('message', (message: Command & { rid: number }) => {
  void handle(message).then(
    (body) => process.send!({ rid: message.rid, ...body }),
    (error: Error) => process.send!({ rid: message.rid, error: error.stack ?? String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({
  rid: 0,
  url: device.url,
  deviceId: device.deviceId,
  ...(device.link ? { server: { login: device.link.registration.login, password: device.link.createdPassword } } : {}),
});
