import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Why a request did not verify. Stable strings: log them, count them, switch on them. */
export type VerifyFailureReason =
  | 'empty-secret'
  | 'missing-signature'
  | 'missing-timestamp'
  | 'bad-timestamp'
  | 'stale-timestamp'
  | 'future-timestamp'
  | 'malformed-signature'
  | 'mismatch';

export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailureReason; message: string };

export interface VerifyOptions {
  /** How far X-Timestamp may be from `now`, either way, in seconds. The seed recommends ±5 minutes. */
  toleranceSec?: number;
  /** The current time in milliseconds (injectable for tests and for replaying captured requests). */
  now?: number;
}

export type RawBody = string | Buffer | Uint8Array;

export const DEFAULT_TOLERANCE_SEC = 300;

// The device sends 32 bytes as lowercase hex. The seed's snippets compare the hex text as-is,
// so uppercase never verifies there either; rejecting it here keeps parity.
const OK: VerifyResult = Object.freeze({ ok: true });
// Unix seconds. 15 digits is far beyond any real date and keeps Number() exact.
const TIMESTAMP_FORMAT = /^[0-9]{1,15}$/;

const expectedBytes = Buffer.alloc(32);
const givenBytes = Buffer.alloc(32);

// A receiver nearly always verifies with one key; keeping it as a KeyObject spares createHmac
// from encoding the string again on every request.
let cachedSecret: string | undefined;
let cachedKey: KeyObject | undefined;
function keyFor(secret: string): KeyObject {
  if (secret !== cachedSecret || cachedKey === undefined) {
    cachedKey = createSecretKey(Buffer.from(secret, 'utf8'));
    cachedSecret = secret;
  }
  return cachedKey;
}

const fail = (reason: VerifyFailureReason, message: string): VerifyResult => ({ ok: false, reason, message });

/**
 * Check a webhook's X-Signature: lowercase hex HMAC-SHA256 keyed with the signing key (UTF-8)
 * over the raw body bytes followed by the X-Timestamp digits, compared in constant time, with
 * X-Timestamp required to be within `toleranceSec` of now (replay protection).
 *
 * `rawBody` must be the body exactly as received, before any JSON parsing.
 */
export function verifySignature(
  secret: string,
  rawBody: RawBody,
  timestamp: string | null | undefined,
  signature: string | null | undefined,
  options: VerifyOptions = {},
): VerifyResult {
  const toleranceSec = options.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const now = options.now ?? Date.now();
  if (typeof secret !== 'string' || secret.length === 0) {
    return fail(
      'empty-secret',
      'the signing key is empty: pass the key from the device settings (webhooks.signing_key)',
    );
  }
  if (signature === undefined || signature === null || signature === '') {
    return fail('missing-signature', 'no X-Signature header: the request was not signed by a device');
  }
  if (timestamp === undefined || timestamp === null || timestamp === '') {
    return fail('missing-timestamp', 'no X-Timestamp header: the signature cannot be checked without it');
  }
  // 64 characters that decode to 32 bytes are all hex digits. Letter case is settled after the
  // HMAC (see below) so that the common path does not pay for a second scan.
  if (signature.length !== 64 || givenBytes.write(signature, 0, 'hex') !== 32) {
    return fail('malformed-signature', `X-Signature must be 64 lowercase hex characters, got ${describe(signature)}`);
  }
  if (!TIMESTAMP_FORMAT.test(timestamp)) {
    return fail(
      'bad-timestamp',
      `X-Timestamp must be Unix time in whole seconds (digits only), got ${describe(timestamp)}`,
    );
  }

  const nowSec = Math.floor(now / 1000);
  const age = nowSec - Number(timestamp);
  if (age > toleranceSec) {
    return fail(
      'stale-timestamp',
      `X-Timestamp is ${age} s old, more than the ${toleranceSec} s allowed (a replay, or a clock that is behind)`,
    );
  }
  if (-age > toleranceSec) {
    const hint =
      timestamp.length >= 13
        ? ' (it looks like milliseconds; it must be seconds)'
        : ' (check the clocks of device and receiver)';
    return fail(
      'future-timestamp',
      `X-Timestamp is ${-age} s in the future, more than the ${toleranceSec} s allowed${hint}`,
    );
  }

  // Hex digest decoded into a scratch buffer: in node 20 `digest()` allocating a Buffer costs more
  // than the hex string, and the target of 0.8× a bare HMAC leaves little room. The code is
  // synchronous, so sharing the scratch buffers between calls is safe.
  const expectedHex = createHmac('sha256', keyFor(secret)).update(rawBody).update(timestamp).digest('hex');
  expectedBytes.write(expectedHex, 0, 'hex');
  const bytesMatch = timingSafeEqual(expectedBytes, givenBytes);
  // Same bytes but different text can only be letter case. Comparing the strings leaks nothing:
  // whoever sent it already holds the right signature.
  if (bytesMatch && signature === expectedHex) return OK;
  if (/[A-F]/.test(signature)) {
    return fail('malformed-signature', 'X-Signature must be lowercase hex; this one has uppercase letters');
  }
  return fail(
    'mismatch',
    'X-Signature does not match: wrong signing key, or the body was changed (verify the raw body before JSON parsing)',
  );
}

/** Headers as node:http gives them, as a Fetch `Headers`, or a plain record with any letter case. */
export type HeaderSource =
  { get(name: string): string | null } | Record<string, string | string[] | number | undefined | null>;

/** Read one header by name, ignoring letter case; repeated values are joined like node:http does. */
export function getHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | number | undefined | null>;
  const wanted = name.toLowerCase();
  let value = record[wanted];
  if (value === undefined) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === wanted);
    value = key === undefined ? undefined : record[key];
  }
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** verifySignature with X-Signature and X-Timestamp taken from the request headers. */
export function verifyWebhook(
  secret: string,
  rawBody: RawBody,
  headers: HeaderSource,
  options: VerifyOptions = {},
): VerifyResult {
  return verifySignature(
    secret,
    rawBody,
    getHeader(headers, 'x-timestamp'),
    getHeader(headers, 'x-signature'),
    options,
  );
}

/** Quote a bad header value for an error message without echoing a whole payload into logs. */
function describe(value: string): string {
  const shown = value.length > 24 ? `${value.slice(0, 24)}…` : value;
  return `${JSON.stringify(shown)} (${value.length} characters)`;
}
