// What both verifiers share: the result types, the header lookup and every check that needs no
// cryptography, with its message. No imports, so that it runs wherever JavaScript does.

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

export const DEFAULT_TOLERANCE_SEC = 300;

export const OK: VerifyResult = Object.freeze({ ok: true });
// Unix seconds. 15 digits is far beyond any real date and keeps Number() exact.
const TIMESTAMP_FORMAT = /^[0-9]{1,15}$/;

export const fail = (reason: VerifyFailureReason, message: string): VerifyResult => ({ ok: false, reason, message });

/**
 * Every check before the HMAC, in the order both verifiers apply them. `isHex64` says whether the
 * signature is 64 hex digits in either letter case; the node verifier decodes it on the way. Returns
 * the failure, or undefined when the HMAC decides.
 */
export function checkBeforeHmac(
  secret: string,
  timestamp: string | null | undefined,
  signature: string | null | undefined,
  options: VerifyOptions,
  isHex64: (signature: string) => boolean,
): VerifyResult | undefined {
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
  // Letter case is settled after the HMAC (see rejectSignature) so that the common path does not
  // pay for a second scan.
  if (signature.length !== 64 || !isHex64(signature)) {
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
  return undefined;
}

/**
 * The answer for a well-formed signature that is not exactly the expected one. The device sends
 * lowercase hex and the seed's snippets compare the hex text as-is, so uppercase never verifies
 * there either; rejecting it here keeps parity. Comparing letter case leaks nothing: whoever sent
 * it already holds the right signature.
 */
export function rejectSignature(signature: string): VerifyResult {
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

/** Quote a bad header value for an error message without echoing a whole payload into logs. */
function describe(value: string): string {
  const shown = value.length > 24 ? `${value.slice(0, 24)}…` : value;
  return `${JSON.stringify(shown)} (${value.length} characters)`;
}
