import { Type } from '@sinclair/typebox';

/** Every error reply, on every API: `{"message": "..."}`. */
export const ErrorBodySchema = Type.Object({ message: Type.String() });

/** An error that carries the HTTP status and a message a user can act on. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    /** extra response headers, e.g. Retry-After on a 429 */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
