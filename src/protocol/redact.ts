/**
 * Credentials that ride in URLs (a webhook's `https://user:pass@host/…?token=…`, a database URL's
 * password) are masked wherever smsgate shows or logs a URL; the URL as given is still what is
 * stored and used.
 */
export const MASK = '***';

/** Query parameters whose value is taken for a secret: tokens, keys, signatures, passwords, codes. */
const SECRET_PARAM = /token|key|secret|pass|pwd|auth|sig|credential|session|code|jwt/i;

/** A URL with its password (or a user name standing alone, often a token) and secret query values masked. */
export function redactUrl(url: string): string {
  // neither user info nor a query: nothing to mask (the common case, kept cheap)
  if (!url.includes('@') && !url.includes('?')) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/@\s]*@/, `//${MASK}@`);
  }
  let changed = false;
  if (parsed.password) {
    parsed.password = MASK;
    changed = true;
  } else if (parsed.username) {
    parsed.username = MASK;
    changed = true;
  }
  for (const [name, value] of [...parsed.searchParams]) {
    if (value !== '' && value !== MASK && SECRET_PARAM.test(name)) {
      parsed.searchParams.set(name, MASK);
      changed = true;
    }
  }
  return changed ? parsed.toString() : url;
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>\\]+/gi;

/** Every URL in a text (a log line, an error message) through redactUrl; a text without one is returned as is. */
export function redactUrlsIn(text: string): string {
  // Without a URL, or without the '@' or '?' that every credential in one needs, redactUrl would
  // return each URL as it is: skip the scan (every attempt's log line holds its webhook's URL).
  if (!text.includes('://') || (!text.includes('@') && !text.includes('?'))) return text;
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

/**
 * The URL to store when a webhook is registered again under its id: one sent back exactly as it was
 * shown (masked, e.g. by a dashboard's edit form) keeps the credentials it had; any other is taken as sent.
 */
export function keepMaskedCredentials(sent: string, stored: string | undefined): string {
  return stored !== undefined && sent !== stored && showsMask(sent) && redactUrl(stored) === sent ? stored : sent;
}

/** Whether a URL shows a mask, and so may need the stored webhook's credentials back (keepMaskedCredentials). */
export function showsMask(url: string): boolean {
  return url.includes(MASK);
}
