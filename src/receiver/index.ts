/**
 * smsgate/receiver: verify and parse the webhooks a device sends. Depends on nothing but node.
 *
 *   const raw = await readRawBody(req);
 *   const check = verifyWebhook(process.env.SIGNING_KEY!, raw, req.headers);
 *   if (!check.ok) return res.writeHead(401).end(check.message);
 *   const parsed = parseWebhook(raw);
 */
export {
  verifySignature,
  verifyWebhook,
  getHeader,
  DEFAULT_TOLERANCE_SEC,
  type VerifyResult,
  type VerifyFailureReason,
  type VerifyOptions,
  type HeaderSource,
  type RawBody,
} from './signature.ts';
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
