import { nanoid } from 'nanoid';
import { hash, randomBytes } from 'node:crypto';

/** 21-character URL-safe id ([A-Za-z0-9_-]), as webhook and delivery ids are on the wire. */
export const newId = (): string => nanoid();

/** The id alphabet in ASCII order, so that a bigger number encodes to a string that sorts after. */
const ORDERED_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const ORDERED_PREFIX_CHARS = 9;
/**
 * Starts at the start time in ms × 1024 and counts up by one per id: it grows across restarts too
 * unless a process made over a million ids a second on average. 9 characters hold 2^54, enough
 * until the year 2527. Read once: the prefix only orders ids, it states no time.
 */
let orderedCounter = Date.now() * 1024;

/**
 * An id of the same shape as `newId` (21 characters of [A-Za-z0-9_-]) for rows written at a high
 * rate: 9 characters of a counter that only grows, then 12 random ones (72 bits). Ids made one
 * after the other sort one after the other, so the unique index on them takes each insert at its
 * end, in the pages the previous inserts left in cache, instead of on a random page each: one
 * page dirtied (and written to the WAL) per row, and a cache that misses as the table grows.
 */
export function newOrderedId(): string {
  let n = orderedCounter++;
  let prefix = '';
  for (let i = 0; i < ORDERED_PREFIX_CHARS; i++) {
    prefix = ORDERED_ALPHABET[n % 64] + prefix;
    n = Math.floor(n / 64);
  }
  return prefix + nanoid(12);
}

/**
 * A random secret with `bytes` bytes of entropy, URL-safe. Never starts with "-", so it can
 * follow a command-line flag (`--password <secret>`) as is.
 */
export function randomSecret(bytes = 24): string {
  for (;;) {
    const secret = randomBytes(bytes).toString('base64url');
    if (!secret.startsWith('-')) return secret;
  }
}

/**
 * Short hex digest of an incoming text: identical texts share it, so it is not unique. The one-shot
 * `hash` leaves no Hash object behind: each of those is a weak handle that every young-generation
 * collection has to process (one per SMS, ~0.5 ms of each collection at 1,000 SMS/s).
 */
export const contentDigest = (text: string): string => hash('sha256', text, 'hex').slice(0, 16);
