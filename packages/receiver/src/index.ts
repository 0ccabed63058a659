/**
 * smsgate-receiver: verify, parse and dedupe the webhooks an smsgate device (or SMS Gateway for
 * Android) sends. No dependencies: node:crypto on Node, Bun and Deno. For runtimes with only
 * WebCrypto, import from 'smsgate-receiver/web'.
 *
 *   const raw = await readRawBody(req);
 *   const check = verifyWebhook(process.env.SIGNING_KEY!, raw, req.headers);
 *   if (!check.ok) return res.writeHead(401).end(check.message);
 *   const parsed = parseWebhook(raw);
 */
export { verifySignature, verifyWebhook, type RawBody } from './signature.ts';
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
  readRawBody,
  RawBodyError,
  DEFAULT_BODY_LIMIT,
  type ReadRawBodyOptions,
  type RawBodyErrorCode,
} from './raw-body.ts';
export {
  createDeduper,
  DEFAULT_DEDUPE_TTL_MS,
  DEFAULT_DEDUPE_MAX_ENTRIES,
  type Deduper,
  type DeduperOptions,
} from './dedupe.ts';
