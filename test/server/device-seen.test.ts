import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DevicesService } from '../../src/server/devices/service.ts';
import type { DeviceRecord, DevicesRepository } from '../../src/server/devices/repository.ts';
import type { WebhooksRepository } from '../../src/server/webhooks/repository.ts';
import type { Clock } from '../../src/shared/clock.ts';

const NOW = 1_800_000_000_000;

const device = (connectedAt: number | null, lastSeen: number): DeviceRecord => ({
  id: 'device-1',
  userId: 'user-1',
  name: 'phone',
  pushToken: null,
  createdAt: NOW - 3_600_000,
  updatedAt: NOW - 3_600_000,
  lastSeen,
  health: null,
  healthReportedAt: null,
  connectedAt,
  simCards: null,
});

/** A store whose "seen" notes never finish (a herd queued behind other batches), counting them. */
function stalledTouches(record: DeviceRecord) {
  const touches: { deviceId: string; now: number }[] = [];
  const repo = {
    getDeviceByTokenHash: async () => record,
    touchDevice: (deviceId: string, now: number) => {
      touches.push({ deviceId, now });
      return new Promise<void>(() => {});
    },
  } as unknown as DevicesRepository;
  const clock = { now: () => NOW } as unknown as Clock;
  return { touches, service: new DevicesService(repo, {} as WebhooksRepository, clock) };
}

const within = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))]);

test("a connected device's request does not wait for its seen note, which is still written", async () => {
  const { touches, service } = stalledTouches(device(NOW - 60_000, NOW - 60_000));
  const found = await within(service.authenticate('token'), 200);
  assert.notEqual(found, 'pending', 'authenticate answered while the seen note had not finished');
  assert.equal((found as DeviceRecord).id, 'device-1', 'the device the token belongs to');
  assert.deepEqual(touches, [{ deviceId: 'device-1', now: NOW }], 'the seen note was sent');
});

test("a device's first request waits for the note that marks it connected", async () => {
  const { touches, service } = stalledTouches(device(null, NOW - 60_000));
  assert.equal(await within(service.authenticate('token'), 200), 'pending', 'authenticate waits for the note');
  assert.equal(touches.length, 1, 'the note was sent');
});

test('a device seen within the resolution sends no note', async () => {
  const { touches, service } = stalledTouches(device(NOW - 60_000, NOW - 1_000));
  const found = await within(service.authenticate('token'), 200);
  assert.notEqual(found, 'pending', 'authenticate answered');
  assert.equal(touches.length, 0, 'no note within LAST_SEEN_RESOLUTION_MS');
});
