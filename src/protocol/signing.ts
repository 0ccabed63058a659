import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

// The key rarely changes and a KeyObject is cheaper to sign with than raw bytes: keep the last one.
let lastKey: string | undefined;
let lastKeyObject: KeyObject | undefined;

/**
 * The webhook signature: lowercase hex HMAC-SHA256, keyed with the signing key as UTF-8,
 * over the raw body bytes followed by the X-Timestamp digits.
 */
export function sign(key: string, rawBody: string | Uint8Array, timestamp: string | number): string {
  if (key !== lastKey || lastKeyObject === undefined) {
    lastKeyObject = createSecretKey(Buffer.from(key, 'utf8'));
    lastKey = key;
  }
  const mac = createHmac('sha256', lastKeyObject);
  mac.update(rawBody);
  mac.update(String(timestamp));
  return mac.digest('hex');
}

/** Unix time in whole seconds, as X-Timestamp carries it. */
export function unixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
