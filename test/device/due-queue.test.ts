import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DUE_QUEUE_LIMIT, DueQueue } from '../../src/device/dispatch/due-queue.ts';
import { ReceiverSlots } from '../../src/device/dispatch/receiver-slots.ts';
import type { ClaimedDelivery } from '../../src/device/store/outbox.ts';

const delivery = (seq: number, url: string): ClaimedDelivery => ({
  seq,
  id: `d${seq}`,
  url,
  body: '{}',
  attempt: 1,
  retriesSoFar: 0,
  dueAt: 1000 + seq,
});

test('a receiver whose slots are all taken does not hold up the others; across receivers the oldest goes first', () => {
  const queue = new DueQueue();
  const slots = new ReceiverSlots(2);
  // 20 for a stuck receiver first, then 3 for another and 1 for a third, interleaved at the end
  const stuck = Array.from({ length: 20 }, (_, i) => delivery(i, 'https://stuck.example/hook'));
  assert.ok(
    queue.add([
      ...stuck,
      delivery(20, 'https://fine.example/a'),
      delivery(21, 'https://other.example/'),
      delivery(22, 'https://fine.example/b'),
    ]),
    'they fit',
  );
  const first = queue.take(10, slots.admit);
  assert.deepEqual(
    first.map((d) => d.seq),
    [0, 1, 20, 21, 22],
    'two of the stuck receiver (its limit), then the others oldest first',
  );
  assert.equal(queue.size, 18, 'the stuck receiver’s others wait');
  slots.release('https://stuck.example/hook');
  assert.deepEqual(
    queue.take(10, slots.admit).map((d) => d.seq),
    [2],
    'a slot given back lets the next of that receiver go, in order',
  );
});

test('the queue holds at most DUE_QUEUE_LIMIT deliveries unless a page was made room for', () => {
  const queue = new DueQueue();
  const many = Array.from({ length: DUE_QUEUE_LIMIT }, (_, i) => delivery(i, 'https://a.example/'));
  assert.equal(queue.add(many), true, 'up to the limit');
  assert.equal(queue.add([delivery(DUE_QUEUE_LIMIT, 'https://a.example/')]), false, 'one more does not fit');
  assert.equal(queue.size, DUE_QUEUE_LIMIT, 'nothing was added');
  assert.equal(
    queue.add([delivery(DUE_QUEUE_LIMIT, 'https://a.example/')], true),
    true,
    'a page the caller made room for',
  );
  queue.clear();
  assert.equal(queue.size, 0, 'cleared');
});

test('across receivers the order is the due order: due time first, then seq', () => {
  const queue = new DueQueue();
  const slots = new ReceiverSlots(4);
  // a retry made early (low seq) but due late, and a newer delivery due before it
  queue.add([{ ...delivery(1, 'https://retried.example/'), dueAt: 5000 }]);
  queue.add([{ ...delivery(9, 'https://fresh.example/'), dueAt: 3000 }]);
  assert.deepEqual(
    queue.take(2, slots.admit).map((d) => d.seq),
    [9, 1],
    'the one due first goes first, whatever its seq',
  );
});

test('a queue emptied by its takes is used again, in order, and the front is trimmed as it is taken', () => {
  const queue = new DueQueue();
  const admitAll = () => true;
  const url = 'https://one.example/hook';
  // one at a time, as at a steady rate: each take empties the queue
  for (let seq = 0; seq < 5; seq++) {
    assert.ok(queue.add([delivery(seq, url)]));
    assert.deepEqual(
      queue.take(4, admitAll).map((d) => d.seq),
      [seq],
    );
    assert.equal(queue.size, 0);
  }
  // a long run taken in pieces crosses the trimming of the front (every 1,024 taken)
  const run = Array.from({ length: 3000 }, (_, i) => delivery(100 + i, url));
  assert.ok(queue.add(run));
  const taken: number[] = [];
  while (queue.size > 0) for (const d of queue.take(7, admitAll)) taken.push(d.seq);
  assert.deepEqual(
    taken,
    run.map((d) => d.seq),
    'every delivery once, in order',
  );
});

test('with many receivers, their queues still take in due order after all were emptied', () => {
  const queue = new DueQueue();
  const admitAll = () => true;
  const urls = Array.from({ length: 100 }, (_, i) => `https://r${i}.example/hook`);
  for (let round = 0; round < 2; round++) {
    assert.ok(queue.add(urls.map((url, i) => delivery(round * 1000 + i, url))));
    assert.deepEqual(
      queue.take(1000, admitAll).map((d) => d.seq),
      urls.map((_, i) => round * 1000 + i),
    );
    assert.equal(queue.size, 0);
  }
});

test('a taken delivery is not held by the queue while others wait behind it', async () => {
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as () => void;
  const queue = new DueQueue();
  const url = 'https://one.example/hook';
  // the delivery is referenced only inside this function, and by the queue until it is taken
  const firstRef = ((): WeakRef<ClaimedDelivery> => {
    const first = delivery(0, url);
    assert.ok(queue.add([first, delivery(1, url), delivery(2, url)]));
    assert.equal(queue.take(1, () => true)[0], first);
    return new WeakRef(first);
  })();
  // a WeakRef keeps its target until the current job ends
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  assert.equal(firstRef.deref(), undefined, 'the taken delivery (and its body) was collected');
  assert.equal(queue.size, 2);
});
