import { nanoid } from 'nanoid';
import { createHash, randomBytes } from 'node:crypto';

/** 21-character URL-safe id ([A-Za-z0-9_-]), as webhook and delivery ids are on the wire. */
export const newId = (): string => nanoid();

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

/** Short hex digest of an incoming text: identical texts share it, so it is not unique. */
export const contentDigest = (text: string): string =>
  createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
