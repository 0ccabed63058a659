import { Buffer } from 'node:buffer';
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import {
  checkBeforeHmac,
  getHeader,
  OK,
  rejectSignature,
  type HeaderSource,
  type VerifyOptions,
  type VerifyResult,
} from './verify-core.ts';

/** The body as received: text or bytes (a node `Buffer` is a `Uint8Array`). */
export type RawBody = string | Uint8Array;

// The device sends 32 bytes as lowercase hex.
const expectedBytes = Buffer.alloc(32);
const givenBytes = Buffer.alloc(32);
// Decodes into givenBytes as it checks. 64 characters that decode to 32 bytes are all hex digits.
const decodesToGivenBytes = (signature: string): boolean => givenBytes.write(signature, 0, 'hex') === 32;

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
  const early = checkBeforeHmac(secret, timestamp, signature, options, decodesToGivenBytes);
  if (early) return early;
  // Hex digest decoded into a scratch buffer: in node 20 `digest()` allocating a Buffer costs more
  // than the hex string, and the target of 0.8× a bare HMAC leaves little room. The code is
  // synchronous, so sharing the scratch buffers between calls is safe.
  const expectedHex = createHmac('sha256', keyFor(secret))
    .update(rawBody)
    .update(timestamp as string)
    .digest('hex');
  expectedBytes.write(expectedHex, 0, 'hex');
  if (timingSafeEqual(expectedBytes, givenBytes) && signature === expectedHex) return OK;
  return rejectSignature(signature as string);
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
