import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryPolicy, retryDelayMs, storedAttemptOutcome } from '../../src/device/dispatch/retry-policy.ts';
import type { AttemptResult } from '../../src/device/store/outbox.ts';

const attempt = (ok: boolean, retriesSoFar: number, startedAt = 1_000, durationMs = 50): AttemptResult => ({
  delivery: {
    seq: 1,
    id: 'd',
    url: 'https://a.example/',
    body: '{}',
    attempt: retriesSoFar + 1,
    retriesSoFar,
    dueAt: 0,
  },
  startedAt,
  durationMs,
  ok,
  status: ok ? 200 : 503,
  error: ok ? null : 'HTTP 503',
  responsePreview: null,
});

test('10 s before the first retry, doubling, scaled by the time scale', () => {
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => retryDelayMs(n, 1)),
    [10_000, 20_000, 40_000, 80_000],
  );
  assert.equal(retryDelayMs(2, 0.01), 400);
});

test('retry_count retries after the first attempt; the attempt that fails with none left is the last', () => {
  let retryCount = 2;
  const policy = new RetryPolicy({ retryCount: () => retryCount, timeScale: 1 });
  assert.deepEqual(
    [0, 1, 2].map((n) => policy.outcome(attempt(false, n))),
    ['retry', 'retry', 'failed'],
  );
  assert.equal(policy.outcome(attempt(true, 2)), 'succeeded', 'a success is a success, budget or not');
  assert.equal(
    policy.retryAt(attempt(false, 1, 1_000, 50)),
    1_000 + 50 + 20_000,
    'counted from the end of the attempt',
  );
  assert.equal(policy.retryAt(attempt(false, 2)), null);
  retryCount = 0;
  assert.equal(policy.outcome(attempt(false, 0)), 'failed', 'the setting is read on every call');
  assert.equal(policy.isLastAttempt(0), true);
});

test('an attempt read back from its stored delivery', () => {
  const failed = { state: 'failed' as const, attempts: 3 };
  assert.equal(storedAttemptOutcome({ number: 3, status: 500 }, failed), 'failed', 'the last of a failed delivery');
  assert.equal(storedAttemptOutcome({ number: 2, status: null }, failed), 'retry');
  assert.equal(storedAttemptOutcome({ number: 1, status: 204 }, { state: 'succeeded', attempts: 1 }), 'succeeded');
  assert.equal(storedAttemptOutcome({ number: 1, status: 500 }, { state: 'pending', attempts: 1 }), 'retry');
});
