import { createHmac } from 'node:crypto';

/**
 * The webhook signature: lowercase hex HMAC-SHA256, keyed with the signing key as UTF-8,
 * over the raw body bytes followed by the X-Timestamp digits.
 */
export function sign(key: string, rawBody: string | Uint8Array, timestamp: string | number): string {
  const mac = createHmac('sha256', Buffer.from(key, 'utf8'));
  mac.update(rawBody);
  mac.update(String(timestamp));
  return mac.digest('hex');
}

/** Unix time in whole seconds, as X-Timestamp carries it. */
export function unixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
