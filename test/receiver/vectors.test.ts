import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { verifySignature } from '../../src/receiver/index.ts';
import * as web from '../../packages/receiver/src/web.ts';
import { sign } from '../../src/protocol/signing.ts';

interface Vector {
  name: string;
  key: string;
  body: string;
  timestamp: string;
  signature: string;
}
// Computed with Python's hmac, independently of the code under test.
const { vectors } = JSON.parse(readFileSync(new URL('../vectors/signatures.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
};
const at = (v: Vector) => ({ now: Number(v.timestamp) * 1000 });

test('the vector file covers the cases it promises', () => {
  assert.ok(vectors.length >= 10);
  assert.ok(
    vectors.some((v) => v.body === ''),
    'an empty body',
  );
  assert.ok(
    vectors.some((v) => Buffer.byteLength(v.body) >= 10_000),
    'a body of about 10 KB',
  );
  assert.ok(
    vectors.some((v) => /\P{ASCII}/u.test(v.body)),
    'a non-ASCII body',
  );
  assert.ok(
    vectors.some((v) => /\P{ASCII}/u.test(v.key)),
    'a non-ASCII key',
  );
  for (const v of vectors) assert.match(v.signature, /^[0-9a-f]{64}$/, v.name);
});

for (const v of vectors) {
  test(`vector: ${v.name}`, () => {
    // The device's signer produces exactly the expected signature…
    assert.equal(sign(v.key, v.body, v.timestamp), v.signature);
    assert.equal(sign(v.key, Buffer.from(v.body, 'utf8'), Number(v.timestamp)), v.signature);
    // …and the SDK accepts it for every raw-body form a server may hand over.
    assert.deepEqual(verifySignature(v.key, v.body, v.timestamp, v.signature, at(v)), { ok: true });
    assert.deepEqual(verifySignature(v.key, Buffer.from(v.body, 'utf8'), v.timestamp, v.signature, at(v)), {
      ok: true,
    });
    assert.deepEqual(verifySignature(v.key, new TextEncoder().encode(v.body), v.timestamp, v.signature, at(v)), {
      ok: true,
    });
    // One flipped hex digit must not verify.
    const flipped = v.signature.slice(0, -1) + (v.signature.endsWith('0') ? '1' : '0');
    const result = verifySignature(v.key, v.body, v.timestamp, flipped, at(v));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'mismatch');
  });
  test(`vector, WebCrypto entry point: ${v.name}`, async () => {
    assert.deepEqual(await web.verifySignature(v.key, v.body, v.timestamp, v.signature, at(v)), { ok: true });
    const bytes = new TextEncoder().encode(v.body);
    assert.deepEqual(await web.verifySignature(v.key, bytes, v.timestamp, v.signature, at(v)), { ok: true });
    assert.deepEqual(await web.verifySignature(v.key, bytes.slice().buffer, v.timestamp, v.signature, at(v)), {
      ok: true,
    });
    const flipped = v.signature.slice(0, -1) + (v.signature.endsWith('0') ? '1' : '0');
    const result = await web.verifySignature(v.key, v.body, v.timestamp, flipped, at(v));
    assert.equal(!result.ok && result.reason, 'mismatch');
  });
}
