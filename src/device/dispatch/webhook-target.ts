import { redactUrl } from '../../protocol/index.ts';
/** Where a webhook URL sends: the origin (scheme, host, port) and the request target (path and query). */
export interface WebhookTarget {
  origin: string;
  path: string;
}

const MAX_CACHED_URLS = 1000;
const targets = new Map<string, WebhookTarget | null>();

/**
 * A webhook URL parsed once, not per attempt (the dispatcher groups attempts by origin, the sender
 * needs origin and path); null when it is not a URL. A device has few distinct webhook URLs, so a
 * small cache, emptied when full, keeps them all.
 */
export function webhookTarget(url: string): WebhookTarget | null {
  let target = targets.get(url);
  if (target === undefined) {
    try {
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: parsed.pathname + parsed.search };
    } catch {
      target = null;
    }
    if (targets.size >= MAX_CACHED_URLS) targets.clear();
    targets.set(url, target);
  }
  return target;
}

/** The same, for a sender: a URL that does not parse throws the URL parser's own error (ERR_INVALID_URL). */
export function requireWebhookTarget(url: string): WebhookTarget {
  const target = webhookTarget(url);
  if (target) return target;
  new URL(url); // throws
  throw new TypeError(`Invalid URL: ${redactUrl(url)}`);
}
