import { createRequire } from 'node:module';

// The seed's JavaScript snippet ("Payload Signing"), verbatim, run as the CommonJS it is written in.
export const SEED_SNIPPET = `
const crypto = require('crypto');

function verifySignature(secretKey, payload, timestamp, signature) {
    const message = payload + timestamp;
    const expectedSignature = crypto
        .createHmac('sha256', secretKey)
        .update(message)
        .digest('hex');

    return expectedSignature === signature;
}
`;

/** The seed's verifier: true when `signature` is the hex HMAC-SHA256 of payload + timestamp. */
export const verifySignatureSeed = new Function('require', `${SEED_SNIPPET}\nreturn verifySignature;`)(
  createRequire(import.meta.url),
) as (secretKey: string, payload: string, timestamp: string, signature: string) => boolean;
