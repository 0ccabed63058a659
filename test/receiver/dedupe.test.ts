import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDeduper } from '../../src/receiver/index.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('first sighting is new, repeats within the TTL are seen', () => {
  const c = clock();
  const dedupe = createDeduper({ ttlMs: 60_000, now: c.now });
  assert.equal(dedupe.seen('a'), false);
  assert.equal(dedupe.seen('a'), true);
  assert.equal(dedupe.seen('b'), false);
  c.advance(59_999);
  assert.equal(dedupe.seen('a'), true);
});

test('an id is forgotten once the TTL since its first sighting has passed', () => {
  const c = clock();
  const dedupe = createDeduper({ ttlMs: 60_000, now: c.now });
  dedupe.seen('a');
  c.advance(30_000);
  assert.equal(dedupe.seen('a'), true); // a repeat does not extend the TTL…
  c.advance(30_000);
  assert.equal(dedupe.seen('a'), false); // …so here it is new again, and remembered afresh
  assert.equal(dedupe.seen('a'), true);
});

test('memory is bounded: past maxEntries the oldest ids go first', () => {
  const c = clock();
  const dedupe = createDeduper({ ttlMs: 3_600_000, maxEntries: 3, now: c.now });
  for (const id of ['a', 'b', 'c', 'd']) assert.equal(dedupe.seen(id), false);
  assert.equal(dedupe.size, 3);
  assert.equal(dedupe.seen('d'), true);
  assert.equal(dedupe.seen('b'), true);
  assert.equal(dedupe.seen('a'), false, "'a' was the oldest and was dropped");
});

test('expired entries are dropped, so size shrinks without new traffic', () => {
  const c = clock();
  const dedupe = createDeduper({ ttlMs: 1000, now: c.now });
  for (let i = 0; i < 500; i++) dedupe.seen(`id-${i}`);
  assert.equal(dedupe.size, 500);
  c.advance(1000);
  assert.equal(dedupe.size, 0);
});

test('a long stream of distinct ids stays within maxEntries', () => {
  const c = clock();
  const dedupe = createDeduper({ ttlMs: 10 * 60_000, maxEntries: 1000, now: c.now });
  for (let i = 0; i < 50_000; i++) {
    c.advance(1);
    dedupe.seen(`id-${i}`);
  }
  assert.equal(dedupe.size, 1000);
  assert.equal(dedupe.seen('id-49999'), true);
});

test('forget() lets a retry through after a failed handling', () => {
  const dedupe = createDeduper();
  assert.equal(dedupe.seen('x'), false);
  dedupe.forget('x');
  assert.equal(dedupe.seen('x'), false);
  assert.equal(dedupe.seen('x'), true);
});

test('defaults use the real clock and a TTL covering the retry schedule (about 45.5 h)', () => {
  const c = clock();
  const dedupe = createDeduper({ now: c.now });
  dedupe.seen('retry');
  c.advance(46 * 3_600_000);
  assert.equal(dedupe.seen('retry'), true);
  const real = createDeduper();
  assert.equal(real.seen('r'), false);
  assert.equal(real.seen('r'), true);
});

test('bad options are refused with a message', () => {
  assert.throws(() => createDeduper({ ttlMs: 0 }), /ttlMs/);
  assert.throws(() => createDeduper({ maxEntries: 0 }), /maxEntries/);
});
