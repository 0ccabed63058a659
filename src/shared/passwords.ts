import { randomBytes, scrypt as scryptCallback, timingSafeEqual, createHash } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;
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
  constructor(private readonly ttlMs = 60_000, private readonly maxEntries = 10_000) {}

  private key(username: string, password: string): string {
    return createHash('sha256').update(`${username}\0${password}`).digest('base64');
  }

  get(username: string, password: string, now: number): string | undefined {
    return this.lookup(username, password, now)?.subject;
  }

  /** The subject and until when the verification counts. */
  lookup(username: string, password: string, now: number): { subject: string; expiresAt: number } | undefined {
    const entry = this.entries.get(this.key(username, password));
    return entry && entry.expiresAt > now ? entry : undefined;
  }

  set(username: string, password: string, subject: string, now: number): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(this.key(username, password), { expiresAt: now + this.ttlMs, subject });
  }

  /** Forget everything, e.g. after a password change. */
  clear(): void {
    this.entries.clear();
  }
}
