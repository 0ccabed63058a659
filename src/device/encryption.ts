import { createDecipheriv, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';

/** The one end-to-end encryption scheme of the app's passphrase mode. */
export const ENCRYPTION_ALGORITHM = 'aes-256-cbc/pbkdf2-sha1';
/**
 * The most PBKDF2 iterations a value may ask for: the official clients use 75,000 to 300,000, and
 * a value that asked for billions would keep the device busy for hours.
 */
export const MAX_ITERATIONS = 2_000_000;
const SALT_BYTES = 16;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const derive = promisify(pbkdf2);

/** Why a value could not be decrypted, in words a user can act on. */
export class DecryptionError extends Error {}

/**
 * Decrypt one field of an end-to-end encrypted message:
 * `$aes-256-cbc/pbkdf2-sha1$i=<iterations>$<base64 salt>$<base64 ciphertext>`, the key
 * PBKDF2-HMAC-SHA1(passphrase, salt, iterations, 32 bytes), the IV the 16-byte salt, PKCS#7 padding.
 * The key is derived off the main thread.
 */
export async function decryptField(value: string, passphrase: string | null): Promise<string> {
  if (!passphrase) {
    throw new DecryptionError(
      'encryption.passphrase is not set on this device; set it to the passphrase the message was encrypted with',
    );
  }
  const chunks = value.split('$');
  if (chunks.length !== 5 || chunks[0] !== '') {
    throw new DecryptionError(
      `not an encrypted value: expected $${ENCRYPTION_ALGORITHM}$i=<iterations>$<base64 salt>$<base64 data>`,
    );
  }
  const [, algorithm, params, saltText, dataText] = chunks;
  if (algorithm !== ENCRYPTION_ALGORITHM) {
    throw new DecryptionError(`unsupported algorithm "${algorithm.slice(0, 40)}": only ${ENCRYPTION_ALGORITHM}`);
  }
  const iterationsText = new Map(params.split(',').map((pair) => pair.split('=', 2) as [string, string])).get('i');
  const iterations = Number(iterationsText);
  if (!iterationsText || !/^\d+$/.test(iterationsText) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new DecryptionError(`the iteration count (i=) must be a whole number from 1 to ${MAX_ITERATIONS}`);
  }
  const salt = Buffer.from(saltText, 'base64');
  if (!BASE64.test(saltText) || salt.length !== SALT_BYTES) {
    throw new DecryptionError(`the salt must be ${SALT_BYTES} bytes in base64`);
  }
  const data = Buffer.from(dataText, 'base64');
  if (!BASE64.test(dataText) || data.length === 0 || data.length % 16 !== 0) {
    throw new DecryptionError('the encrypted data must be base64 of whole 16-byte blocks');
  }
  const key = await derive(passphrase, salt, iterations, 32, 'sha1');
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, salt);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    throw new DecryptionError('wrong passphrase or damaged data: the decrypted padding is not valid');
  }
}
