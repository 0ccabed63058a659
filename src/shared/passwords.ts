import { randomBytes, scrypt as scryptCallback, timingSafeEqual, createHash } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** `scrypt$<salt b64>$<hash b64>`: a slow hash, never the password itself. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, PARAMS);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, PARAMS);
  return timingSafeEqual(actual, expected);
}

/**
 * Remembers credentials that verified recently, so a client making many requests pays for
 * scrypt once, not per request. Keys are SHA-256 digests; nothing plain is kept.
 */
export class VerifiedCredentialsCache {
  private readonly entries = new Map<string, { expiresAt: number; subject: string }>();
  /** checks running now, by key: callers with the same credentials wait for the same one */
  private readonly running = new Map<string, Promise<string | undefined>>();
  /** bumped by clear(): a check that started before it must not fill the cache after it */
  private generation = 0;

  constructor(
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  private key(username: string, password: string): string {
    return createHash('sha256').update(`${username}\0${password}`).digest('base64');
  }

  /** The subject and until when the verification counts. */
  lookup(username: string, password: string, now: number): { subject: string; expiresAt: number } | undefined {
    const entry = this.entries.get(this.key(username, password));
    return entry && entry.expiresAt > now ? entry : undefined;
  }

  /**
   * The subject these credentials verified as: remembered, or found by `verify` (the slow check;
   * undefined = wrong), which runs once for every caller that asks with the same credentials
   * while it runs. A client that opens many connections at once when its entry has expired
   * pays for one scrypt, not one per connection (64 at once took ~3 s of CPU).
   */
  verifyOnce(
    username: string,
    password: string,
    now: number,
    verify: () => Promise<string | undefined>,
  ): Promise<string | undefined> {
    const key = this.key(username, password);
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) return Promise.resolve(entry.subject);
    let check = this.running.get(key);
    if (!check) {
      const generation = this.generation;
      check = verify()
        .then((subject) => {
          if (subject !== undefined && generation === this.generation) this.remember(key, subject, now);
          return subject;
        })
        .finally(() => {
          if (this.running.get(key) === check) this.running.delete(key);
        });
      this.running.set(key, check);
    }
    return check;
  }

  private remember(key: string, subject: string, now: number): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { expiresAt: now + this.ttlMs, subject });
  }

  /** Forget everything, e.g. after a password change; checks running now are not remembered. */
  clear(): void {
    this.entries.clear();
    this.running.clear();
    this.generation++;
  }
}

/**
 * Whether two strings are equal, in a time that depends on their length only (no early exit at the
 * first difference): a secret held in memory against one presented, with no hash or Buffer per call.
 * Strings of different lengths are unequal at once: the length is no secret.
 */
export function sameLengthSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
