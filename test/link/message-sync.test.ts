import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageSync, REPORT_BATCH_MS } from '../../src/device/link/message-sync.ts';
import { systemClock } from '../../src/shared/clock.ts';
import type { MobileMessage } from '../../src/device/link/mobile-client.ts';
import { InvalidInputError } from '../../src/shared/errors.ts';
import { mobileMessage } from '../helpers/mobile-message.ts';

test('a full pull is followed by the next once its messages are reported, while the device keeps changing others and reporting never stops', async () => {
  const pages = [
    Array.from({ length: 100 }, (_, i) => mobileMessage(`m${i}`)),
    Array.from({ length: 30 }, (_, i) => mobileMessage(`m${100 + i}`)),
  ];
  let pulls = 0;
  const reported: string[] = [];
  const taken = new Map<string, { id: string; source: 'Cloud' }>();
  // what was taken and not yet reported, oldest first, as the store orders it
  const unreported = new Set<string>();
  // A busy device: some message has always changed since the last report (it is sending).
  let busy = true;
  let changes = 0;
  const sync = new MessageSync({
    client: {
      pullMessages: async () => pages[pulls++] ?? [],
      reportMessages: async (reports) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        reported.push(...reports.map((r) => r.id));
      },
    },
    sms: {
      get: (id: string) => taken.get(id) ?? (id.startsWith('busy') ? { id, source: 'Cloud' } : undefined),
      enqueue: (request: { id: string }) => {
        taken.set(request.id, { id: request.id, source: 'Cloud' });
        unreported.add(request.id);
      },
      toWire: (message: { id: string }) => ({ id: message.id, state: 'Processed', recipients: [], states: {} }),
      onStateChange: () => {},
      cancel: () => {},
    } as never,
    messageStore: {
      unreportedCloud: (limit: number) => {
        const oldest = [...unreported].slice(0, limit);
        if (oldest.length > 0) return oldest.map((id) => ({ id, updatedAt: 0 }));
        return busy ? [{ id: `busy-${changes++}`, updatedAt: 0 }] : [];
      },
      markReported: (seen: readonly { id: string }[]) => seen.forEach(({ id }) => unreported.delete(id)),
    },
    clock: systemClock,
    timeZone: 'UTC',
    log: () => {},
    order: () => 'LIFO',
  });
  sync.start();
  try {
    const outcome = await Promise.race([
      sync.pull().then(() => 'pulled'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000)),
    ]);
    assert.equal(outcome, 'pulled', 'the second pull waited for reporting to stop, which it never does');
    assert.equal(pulls, 2, 'after the full pull of 100, the device pulled again');
    assert.equal(taken.size, 130, 'every message of both pulls was taken');
    assert.ok(reported.includes('m99'), 'the first pull was reported before the second');
  } finally {
    busy = false;
    await sync.stop();
  }
});

test('state changes made within REPORT_BATCH_MS share one report: three messages taken, sent and delivered meanwhile are one PATCH of three items', async () => {
  const reports: string[][] = [];
  const changed = new Map<string, number>();
  const timers: { fn: () => void; ms: number }[] = [];
  let listener: (id: string) => void = () => {};
  const sync = new MessageSync({
    client: {
      pullMessages: async () => [],
      reportMessages: async (items) => void reports.push(items.map((r) => r.id)),
    },
    sms: {
      get: (id: string) => ({ id, source: 'Cloud' }),
      toWire: (message: { id: string }) => ({ id: message.id, state: 'Delivered', recipients: [], states: {} }),
      onStateChange: (fn: (id: string) => void) => void (listener = fn),
    } as never,
    messageStore: {
      unreportedCloud: (limit: number) => [...changed].slice(0, limit).map(([id, updatedAt]) => ({ id, updatedAt })),
      markReported: (seen: readonly { id: string }[]) => seen.forEach(({ id }) => changed.delete(id)),
    },
    clock: {
      now: () => 0,
      setTimeout: (fn: () => void, ms: number) => timers.push({ fn, ms }),
      clearTimeout: () => {},
    },
    timeZone: 'UTC',
    log: () => {},
    order: () => 'LIFO',
  });
  sync.start();
  let stamp = 0;
  for (const id of ['a', 'b', 'c']) {
    for (let state = 0; state < 3; state++) {
      changed.set(id, ++stamp);
      listener(id);
    }
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(reports, [], 'nothing is reported before the batch time has passed');
  assert.equal(timers.length, 1, 'nine changes start one timer');
  assert.equal(timers[0].ms, REPORT_BATCH_MS, 'the timer waits REPORT_BATCH_MS');
  timers[0].fn();
  await sync.stop();
  assert.deepEqual(reports, [['a', 'b', 'c']], 'one report carries every message once');
});

test('pushes that come while a pull is on its way get one more pull only when they name a message its answer did not bring, or no message', async () => {
  const outcome = async (pushes: (string | undefined)[]): Promise<number> => {
    let pulls = 0;
    let answer: (messages: MobileMessage[]) => void = () => {};
    const sync = new MessageSync({
      client: {
        pullMessages: () => {
          pulls++;
          return new Promise((resolve) => (answer = resolve));
        },
        reportMessages: async () => {},
      },
      sms: {
        get: () => undefined,
        enqueue: () => {},
        onStateChange: () => {},
      } as never,
      messageStore: { unreportedCloud: () => [], markReported: () => {} },
      clock: systemClock,
      timeZone: 'UTC',
      log: () => {},
      order: () => 'LIFO',
    });
    const first = sync.pull('m1');
    for (const id of pushes) void sync.pull(id);
    answer([mobileMessage('m1'), mobileMessage('m2'), mobileMessage('m3')]);
    await new Promise((resolve) => setImmediate(resolve));
    answer([]); // the pull owed, if any
    await first;
    await sync.stop();
    return pulls;
  };
  assert.equal(await outcome(['m2', 'm3']), 1, 'both pushed messages came with the answer: no second pull');
  assert.equal(await outcome(['m2', 'm4']), 2, 'm4 was not in the answer: one more pull');
  assert.equal(await outcome(['m2', undefined, undefined]), 2, 'pushes that name no message: one more pull');
});

test('a pushed message is taken as a pull would take it: enqueued once, a refused one reported Failed, one that cannot be stored now pulled instead', async () => {
  const enqueued: string[] = [];
  const failedReports: string[] = [];
  let pulls = 0;
  let diskFull = false;
  const sync = new MessageSync({
    client: {
      pullMessages: async () => {
        pulls++;
        return [];
      },
      reportMessages: async (items) => void failedReports.push(...items.map((r) => `${r.id} ${r.state}`)),
    },
    sms: {
      get: (id: string) => (enqueued.includes(id) ? { id, source: 'Cloud' } : undefined),
      enqueue: (request: { id: string; simNumber: number | null }) => {
        if (diskFull) throw new Error('SQLITE_FULL: database or disk is full');
        if (request.simNumber === 3) throw new InvalidInputError('this device has no SIM 3');
        enqueued.push(request.id);
      },
      onStateChange: () => {},
    } as never,
    messageStore: { unreportedCloud: () => [], markReported: () => {} },
    clock: systemClock,
    timeZone: 'UTC',
    log: () => {},
    order: () => 'LIFO',
  });
  sync.start();
  try {
    await sync.takePushed(mobileMessage('p1'));
    await sync.takePushed(mobileMessage('p1')); // the same push again (or a pull that also brought it)
    assert.deepEqual(enqueued, ['p1'], 'taken once');
    await sync.takePushed({ ...mobileMessage('p2'), simNumber: 3 });
    assert.deepEqual(failedReports, ['p2 Failed'], 'refused at once, with the reason, as a pull refuses it');
    assert.equal(pulls, 0, 'no pull for what the pushes carried');
    diskFull = true;
    await sync.takePushed(mobileMessage('p3'));
    assert.equal(pulls, 1, 'a push that could not be taken is pulled again');
  } finally {
    await sync.stop();
  }
});
