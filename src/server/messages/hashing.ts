import { createHash } from 'node:crypto';

/**
 * What the server keeps of a final message's content once it is hashed: the SHA-256 (hex) of the
 * text, or of a data SMS's base64, and of each recipient the first 16 hex digits of the SHA-256 of
 * the number, as the original's server keeps them. Enough to tell whether a given text went to a
 * given number; not enough to read either back.
 */
export const hashContent = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
export const hashPhoneNumber = (phoneNumber: string): string => hashContent(phoneNumber).slice(0, 16);
