import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decryptField, DecryptionError } from '../../src/device/encryption.ts';

interface Vector {
  name: string;
  passphrase: string;
  plaintext: string;
  encrypted: string;
  wrongPassphrase: string;
}
// Made by test/vectors/encryption.py with pycryptodome, independently of the code under test.
const { vectors } = JSON.parse(readFileSync(new URL('../vectors/encryption.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
};

test("pycryptodome's vectors decrypt to their plaintext; a wrong passphrase is refused with a reason", async () => {
  assert.ok(vectors.length >= 6);
  assert.ok(
    vectors.some((v) => /\P{ASCII}/u.test(v.plaintext)),
    'a non-ASCII plaintext',
  );
  assert.ok(
    vectors.some((v) => Buffer.byteLength(v.plaintext) % 16 === 0),
    'a whole block of padding',
  );
  for (const v of vectors) {
    assert.equal(await decryptField(v.encrypted, v.passphrase), v.plaintext, v.name);
    await assert.rejects(decryptField(v.encrypted, v.wrongPassphrase), /wrong passphrase or damaged data/, v.name);
  }
});

test('values that are not the format are refused with what is wrong, before any key is derived', async () => {
  const [v] = vectors;
  const [, algorithm, params, salt, data] = v.encrypted.split('$');
  const cases: [string | null, string, RegExp][] = [
    [v.passphrase, '+15550002222', /not an encrypted value/],
    [v.passphrase, `$${algorithm}$${params}$${salt}`, /not an encrypted value/],
    [v.passphrase, `$aes-128-gcm$${params}$${salt}$${data}`, /unsupported algorithm "aes-128-gcm"/],
    [v.passphrase, `$${algorithm}$x=1$${salt}$${data}`, /iteration count/],
    [v.passphrase, `$${algorithm}$i=0$${salt}$${data}`, /iteration count/],
    [v.passphrase, `$${algorithm}$i=1e9$${salt}$${data}`, /iteration count/],
    [v.passphrase, `$${algorithm}$i=2000001$${salt}$${data}`, /iteration count/],
    [v.passphrase, `$${algorithm}$${params}$c2FsdA==$${data}`, /salt must be 16 bytes/],
    [v.passphrase, `$${algorithm}$${params}$${salt}$not*base64`, /whole 16-byte blocks/],
    [v.passphrase, `$${algorithm}$${params}$${salt}$${data.slice(0, 8)}`, /whole 16-byte blocks/],
    [null, v.encrypted, /encryption.passphrase is not set/],
  ];
  for (const [passphrase, value, reason] of cases) {
    await assert.rejects(
      decryptField(value, passphrase),
      (error: Error) => error instanceof DecryptionError && reason.test(error.message),
      value,
    );
  }
});
