import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { verifySignature, verifyWebhook, type VerifyResult } from '../../src/receiver/index.ts';
import * as web from '../../packages/receiver/src/web.ts';
import { verifySignatureSeed } from '../helpers/seed-verifier.ts';

const KEY = 'device-signing-key';
const BODY =
  '{"deviceId":"d1","event":"sms:sent","id":"Ey6ECgOkVVFjz3CL48B8C","payload":{"messageId":"m1","phoneNumber":"+15550100","simNumber":1,"sentAt":"2024-06-22T15:46:11.000+07:00"},"webhookId":"w1"}';
const NOW = 1_719_046_000_000;
const TS = String(NOW / 1000);
const sig = (key: string, body: string, ts: string) =>
  createHmac('sha256', key)
    .update(body + ts)
    .digest('hex');
const GOOD = sig(KEY, BODY, TS);

function reasonOf(result: VerifyResult): string | undefined {
  return result.ok ? undefined : result.reason;
}

test('a correctly signed request verifies', () => {
  assert.deepEqual(verifySignature(KEY, BODY, TS, GOOD, { now: NOW }), { ok: true });
});

test('rejects a tampered body', () => {
  const tampered = BODY.replace('+15550100', '+15550199');
  assert.equal(reasonOf(verifySignature(KEY, tampered, TS, GOOD, { now: NOW })), 'mismatch');
  // Re-serialised JSON is a different byte string too: verify the raw body, not JSON.stringify(JSON.parse(raw)).
  assert.equal(
    reasonOf(verifySignature(KEY, JSON.stringify(JSON.parse(BODY), null, 1), TS, GOOD, { now: NOW })),
    'mismatch',
  );
});

test('rejects a tampered timestamp', () => {
  const other = String(Number(TS) + 1);
  assert.equal(reasonOf(verifySignature(KEY, BODY, other, GOOD, { now: NOW })), 'mismatch');
});

test('rejects a signature made with another key', () => {
  const result = verifySignature(KEY, BODY, TS, sig('another-key', BODY, TS), { now: NOW });
  assert.equal(reasonOf(result), 'mismatch');
  assert.match(!result.ok ? result.message : '', /wrong signing key/);
});

test('default tolerance is 300 s: 300 s old passes, 301 s old is stale', () => {
  const at = (age: number) => {
    const ts = String(NOW / 1000 - age);
    return verifySignature(KEY, BODY, ts, sig(KEY, BODY, ts), { now: NOW });
  };
  assert.deepEqual(at(300), { ok: true });
  const stale = at(301);
  assert.equal(reasonOf(stale), 'stale-timestamp');
  assert.match(!stale.ok ? stale.message : '', /301 s old/);
});

test('a timestamp too far in the future is rejected, with a hint for milliseconds', () => {
  const ahead = String(NOW / 1000 + 301);
  assert.equal(reasonOf(verifySignature(KEY, BODY, ahead, sig(KEY, BODY, ahead), { now: NOW })), 'future-timestamp');
  const millis = String(NOW);
  const result = verifySignature(KEY, BODY, millis, sig(KEY, BODY, millis), { now: NOW });
  assert.equal(reasonOf(result), 'future-timestamp');
  assert.match(!result.ok ? result.message : '', /milliseconds/);
  assert.deepEqual(verifySignature(KEY, BODY, ahead, sig(KEY, BODY, ahead), { now: NOW, toleranceSec: 301 }), {
    ok: true,
  });
});

test('toleranceSec is configurable', () => {
  const ts = String(NOW / 1000 - 20);
  assert.equal(
    reasonOf(verifySignature(KEY, BODY, ts, sig(KEY, BODY, ts), { now: NOW, toleranceSec: 10 })),
    'stale-timestamp',
  );
  assert.deepEqual(verifySignature(KEY, BODY, ts, sig(KEY, BODY, ts), { now: NOW, toleranceSec: 30 }), { ok: true });
});

test('rejects an uppercase-hex signature, as the seed snippet does', () => {
  const upper = GOOD.toUpperCase();
  assert.equal(verifySignatureSeed(KEY, BODY, TS, upper), false);
  const result = verifySignature(KEY, BODY, TS, upper, { now: NOW });
  assert.equal(reasonOf(result), 'malformed-signature');
  assert.match(!result.ok ? result.message : '', /lowercase/);
});

test('rejects malformed signatures: wrong length, non-hex, whitespace', () => {
  for (const bad of [
    GOOD.slice(0, 63),
    GOOD + '0',
    GOOD.slice(0, 62) + 'zz',
    ` ${GOOD}`,
    `sha256=${GOOD}`,
    GOOD.slice(0, 32),
  ]) {
    assert.equal(reasonOf(verifySignature(KEY, BODY, TS, bad, { now: NOW })), 'malformed-signature', bad);
  }
});

test('rejects missing headers, a bad timestamp and an empty secret', () => {
  assert.equal(reasonOf(verifySignature(KEY, BODY, TS, undefined, { now: NOW })), 'missing-signature');
  assert.equal(reasonOf(verifySignature(KEY, BODY, TS, '', { now: NOW })), 'missing-signature');
  assert.equal(reasonOf(verifySignature(KEY, BODY, undefined, GOOD, { now: NOW })), 'missing-timestamp');
  assert.equal(reasonOf(verifySignature(KEY, BODY, null, GOOD, { now: NOW })), 'missing-timestamp');
  for (const bad of ['-1', '1719046000.5', '17190 46000', 'abc', '+1719046000', '1e9']) {
    assert.equal(reasonOf(verifySignature(KEY, BODY, bad, sig(KEY, BODY, bad), { now: NOW })), 'bad-timestamp', bad);
  }
  // The seed's snippet would accept an HMAC made with an empty key; a receiver must not.
  assert.equal(verifySignatureSeed('', BODY, TS, sig('', BODY, TS)), true);
  assert.equal(reasonOf(verifySignature('', BODY, TS, sig('', BODY, TS), { now: NOW })), 'empty-secret');
});

test('verifyWebhook reads the headers in any letter case, from node, Fetch or a plain record', () => {
  const node = { 'x-signature': GOOD, 'x-timestamp': TS, 'content-type': 'application/json' };
  const fetchHeaders = new Headers({ 'X-Signature': GOOD, 'X-Timestamp': TS });
  const record = { 'X-SIGNATURE': GOOD, 'X-Timestamp': TS };
  for (const headers of [node, fetchHeaders, record]) {
    assert.deepEqual(verifyWebhook(KEY, BODY, headers, { now: NOW }), { ok: true });
  }
  assert.equal(reasonOf(verifyWebhook(KEY, BODY, { 'X-Timestamp': TS }, { now: NOW })), 'missing-signature');
  assert.equal(
    reasonOf(verifyWebhook(KEY, BODY, new Headers({ 'x-signature': GOOD }), { now: NOW })),
    'missing-timestamp',
  );
  // A repeated header is joined like node:http joins it, which is never a valid signature.
  assert.equal(
    reasonOf(verifyWebhook(KEY, BODY, { 'x-signature': [GOOD, GOOD], 'x-timestamp': TS }, { now: NOW })),
    'malformed-signature',
  );
});

test('uses the real clock when `now` is not given', () => {
  const ts = String(Math.floor(Date.now() / 1000));
  assert.deepEqual(verifySignature(KEY, BODY, ts, sig(KEY, BODY, ts)), { ok: true });
  assert.equal(reasonOf(verifySignature(KEY, BODY, TS, GOOD)), 'stale-timestamp'); // 2024 is long gone
});

test('property: the SDK and the seed snippet agree on 1,000 random cases', () => {
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    fc.json(),
  );
  const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 80 });
  const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
  // How the candidate signature is made: the right one, a wrong one, or a near miss.
  const variant = fc.constantFrom(
    'correct',
    'random-hex',
    'other-key',
    'other-body',
    'uppercase',
    'flipped',
    'garbage',
  );
  let agreedOk = 0;
  fc.assert(
    fc.property(
      key,
      fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
      anyText,
      anyText,
      fc.integer({ min: -300, max: 300 }),
      variant,
      hex64,
      fc.string(),
      (secret, otherKey, body, otherBody, skew, how, randomHex, garbage) => {
        const now = Date.now();
        const timestamp = String(Math.floor(now / 1000) + skew); // fresh, so tolerance never decides
        const right = sig(secret, body, timestamp);
        const candidate = {
          correct: right,
          'random-hex': randomHex,
          'other-key': sig(otherKey, body, timestamp),
          'other-body': sig(secret, otherBody, timestamp),
          uppercase: right.toUpperCase(),
          flipped: right.slice(0, 10) + (right[10] === 'a' ? 'b' : 'a') + right.slice(11),
          garbage,
        }[how];
        const seed = verifySignatureSeed(secret, body, timestamp, candidate);
        const sdk = verifySignature(secret, body, timestamp, candidate, { now });
        assert.equal(sdk.ok, seed, `${how}: seed says ${seed}, SDK says ${JSON.stringify(sdk)}`);
        if (sdk.ok) agreedOk++;
      },
    ),
    { numRuns: 1000 },
  );
  // Both outcomes must actually have been exercised.
  assert.ok(agreedOk > 50 && agreedOk < 950, `${agreedOk} of 1000 verified`);
});

test("property: the WebCrypto entry point gives the node one's result, reason and message on 500 random cases", async () => {
  const timestampOf = {
    fresh: (nowSec: number) => String(nowSec),
    stale: (nowSec: number) => String(nowSec - 301),
    future: (nowSec: number) => String(nowSec + 301),
    milliseconds: (nowSec: number) => String(nowSec * 1000),
    'not-digits': (nowSec: number) => `${nowSec}.5`,
    missing: () => undefined,
  };
  const signatureVariant = fc.constantFrom('correct', 'uppercase', 'flipped', 'short', 'non-hex', 'missing');
  const reasons = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.constant(''), fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom(...(Object.keys(timestampOf) as (keyof typeof timestampOf)[])),
      signatureVariant,
      fc.constantFrom('string', 'bytes', 'array-buffer'),
      async (secret, body, when, how, form) => {
        const now = NOW;
        const timestamp = timestampOf[when](now / 1000);
        const right = sig(secret, body, timestamp ?? '');
        const signature = {
          correct: right,
          uppercase: right.toUpperCase(),
          flipped: right.slice(0, 10) + (right[10] === 'a' ? 'b' : 'a') + right.slice(11),
          short: right.slice(0, 40),
          'non-hex': right.slice(0, 62) + 'zz',
          missing: undefined,
        }[how];
        const bytes = new TextEncoder().encode(body);
        const raw = { string: body, bytes, 'array-buffer': bytes.slice().buffer }[form];
        const fromNode = verifySignature(secret, typeof raw === 'string' ? raw : bytes, timestamp, signature, { now });
        const fromWeb = await web.verifySignature(secret, raw, timestamp, signature, { now });
        assert.deepEqual(fromWeb, fromNode, `${when}/${how}/${form}`);
        reasons.add(fromNode.ok ? 'ok' : fromNode.reason);
      },
    ),
    { numRuns: 500 },
  );
  assert.deepEqual([...reasons].sort(), [
    'bad-timestamp',
    'empty-secret',
    'future-timestamp',
    'malformed-signature',
    'mismatch',
    'missing-signature',
    'missing-timestamp',
    'ok',
    'stale-timestamp',
  ]);
});

test('the WebCrypto verifyWebhook reads Fetch Headers and records, like the node one', async () => {
  assert.deepEqual(
    await web.verifyWebhook(KEY, BODY, new Headers({ 'X-Signature': GOOD, 'X-Timestamp': TS }), { now: NOW }),
    { ok: true },
  );
  assert.deepEqual(await web.verifyWebhook(KEY, BODY, { 'x-signature': GOOD, 'x-timestamp': TS }, { now: NOW }), {
    ok: true,
  });
  const tampered = await web.verifyWebhook(KEY, BODY + ' ', { 'x-signature': GOOD, 'x-timestamp': TS }, { now: NOW });
  assert.equal(reasonOf(tampered), 'mismatch');
});
