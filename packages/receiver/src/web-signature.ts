// The same verification as signature.ts with WebCrypto instead of node:crypto, for runtimes that
// have only that (browsers, workers, edge functions). WebCrypto is asynchronous, so these are too.
import {
  checkBeforeHmac,
  getHeader,
  OK,
  rejectSignature,
  type HeaderSource,
  type VerifyOptions,
  type VerifyResult,
} from './verify-core.ts';

/** The body as received: text or bytes. */
export type WebRawBody = string | Uint8Array | ArrayBuffer;

const HEX_64 = /^[0-9a-fA-F]{64}$/;
const isHex64 = (signature: string): boolean => HEX_64.test(signature);
const encoder = new TextEncoder();

let cachedSecret: string | undefined;
let cachedKey: Promise<CryptoKey> | undefined;
function keyFor(subtle: SubtleCrypto, secret: string): Promise<CryptoKey> {
  if (secret !== cachedSecret || cachedKey === undefined) {
    cachedKey = subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    cachedSecret = secret;
  }
  return cachedKey;
}

function hexToBytes(hex: string) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * Check a webhook's X-Signature with WebCrypto: lowercase hex HMAC-SHA256 keyed with the signing
 * key (UTF-8) over the raw body bytes followed by the X-Timestamp digits, with X-Timestamp within
 * `toleranceSec` of now. Resolves to the same results as the node version; `crypto.subtle.verify`
 * compares in constant time.
 */
export async function verifySignature(
  secret: string,
  rawBody: WebRawBody,
  timestamp: string | null | undefined,
  signature: string | null | undefined,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const early = checkBeforeHmac(secret, timestamp, signature, options, isHex64);
  if (early) return early;
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new Error(
      'WebCrypto (globalThis.crypto.subtle) is not available in this runtime: import from "smsgate-receiver" instead',
    );
  }
  const body =
    typeof rawBody === 'string'
      ? encoder.encode(rawBody)
      : rawBody instanceof Uint8Array
        ? rawBody
        : new Uint8Array(rawBody);
  const stamp = encoder.encode(timestamp as string);
  const message = new Uint8Array(body.byteLength + stamp.byteLength);
  message.set(body);
  message.set(stamp, body.byteLength);
  const bytesMatch = await subtle.verify(
    'HMAC',
    await keyFor(subtle, secret),
    hexToBytes(signature as string),
    message,
  );
  if (bytesMatch && !/[A-F]/.test(signature as string)) return OK;
  return rejectSignature(signature as string);
}

/** verifySignature with X-Signature and X-Timestamp taken from the request headers (a Fetch `Headers` or a record). */
export function verifyWebhook(
  secret: string,
  rawBody: WebRawBody,
  headers: HeaderSource,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  return verifySignature(
    secret,
    rawBody,
    getHeader(headers, 'x-timestamp'),
    getHeader(headers, 'x-signature'),
    options,
  );
}
