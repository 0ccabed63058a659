export interface DeduperOptions {
  /**
   * How long an id is remembered, in ms, counted from its first sighting. The default, 48 h, covers
   * the device's default retry schedule (15 attempts over about 45.5 h); raise it if you raised
   * `webhooks.retry_count`.
   */
  ttlMs?: number;
  /** At most this many ids are kept; past it the oldest are forgotten first. */
  maxEntries?: number;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
}

export interface Deduper {
  /** false the first time an id is seen (and remembers it), true for repeats within the TTL. */
  seen(id: string): boolean;
  /** Forget an id, e.g. when handling it failed and you answered 5xx so that the retry is processed. */
  forget(id: string): void;
  /** How many ids are remembered right now. */
  readonly size: number;
}

export const DEFAULT_DEDUPE_TTL_MS = 48 * 60 * 60 * 1000;
export const DEFAULT_DEDUPE_MAX_ENTRIES = 100_000;

/**
 * Drop repeated deliveries: the device resends the same envelope `id` on every retry, and a retry
 * can arrive after you already handled the first attempt (e.g. your 2xx was lost). In-memory only;
 * with several receiver processes, dedupe in your database instead (a unique key on `id`).
 */
export function createDeduper(options: DeduperOptions = {}): Deduper {
  const ttlMs = options.ttlMs ?? DEFAULT_DEDUPE_TTL_MS;
  const maxEntries = options.maxEntries ?? DEFAULT_DEDUPE_MAX_ENTRIES;
  const now = options.now ?? Date.now;
  if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError(`maxEntries must be a whole number ≥ 1, got ${maxEntries}`);

  // id → expiry time. A Map iterates in insertion order, and every id is inserted with the same
  // TTL, so the oldest entries are always at the front: expiry and eviction only look there.
  const expiries = new Map<string, number>();

  const dropExpired = (t: number) => {
    for (const [id, expiresAt] of expiries) {
      if (expiresAt > t) break;
      expiries.delete(id);
    }
  };

  return {
    seen(id: string): boolean {
      const t = now();
      dropExpired(t);
      const expiresAt = expiries.get(id);
      if (expiresAt !== undefined && expiresAt > t) return true;
      expiries.set(id, t + ttlMs);
      if (expiries.size > maxEntries) expiries.delete(expiries.keys().next().value as string);
      return false;
    },
    forget(id: string): void {
      expiries.delete(id);
    },
    get size() {
      dropExpired(now());
      return expiries.size;
    },
  };
}
