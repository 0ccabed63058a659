/**
 * smsgate-receiver/web: the SDK for runtimes that have WebCrypto but no node:crypto (browsers,
 * service workers, edge functions). The same checks and results as the main entry point, but
 * verifySignature and verifyWebhook return promises. Read the raw body yourself, e.g.
 * `new Uint8Array(await request.arrayBuffer())`.
 */
export { verifySignature, verifyWebhook, type WebRawBody } from './web-signature.ts';
export {
  getHeader,
  DEFAULT_TOLERANCE_SEC,
  type VerifyResult,
  type VerifyFailureReason,
  type VerifyOptions,
  type HeaderSource,
} from './verify-core.ts';
export {
  parseWebhook,
  isWebhookEventName,
  WebhookParseError,
  WEBHOOK_EVENTS,
  PAYLOAD_KEYS,
  type WebhookEvent,
  type WebhookEventOf,
  type WebhookParseErrorCode,
  type ParseResult,
  type EventName,
  type EventPayloads,
  type Envelope,
  type Health,
  type HealthCheck,
  type HealthStatus,
} from './events.ts';
export {
  createDeduper,
  DEFAULT_DEDUPE_TTL_MS,
  DEFAULT_DEDUPE_MAX_ENTRIES,
  type Deduper,
  type DeduperOptions,
} from './dedupe.ts';
