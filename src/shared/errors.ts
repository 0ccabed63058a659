/**
 * What a request asked for that cannot be done, by kind. Services and routes throw these with a
 * message the caller can act on; they know nothing of HTTP. The one place that turns a kind into
 * a status is the error handler of `createApp` (`src/shared/http.ts`).
 */
export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
}

export type DomainErrorKind =
  | 'invalid-input'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'too-many-requests'
  | 'not-implemented'
  | 'unavailable';

/** The request is wrong as sent (a value out of range, an unknown reference); sending it again will not help. */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid-input';
  override readonly name = 'InvalidInputError';
}

/** Credentials are missing or wrong. */
export class UnauthorizedError extends DomainError {
  readonly kind = 'unauthorized';
  override readonly name = 'UnauthorizedError';
}

/** The caller is known but may not do this. */
export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
  override readonly name = 'ForbiddenError';
}

/** No such thing, or none the caller may see (the message does not say which). */
export class NotFoundError extends DomainError {
  readonly kind = 'not-found';
  override readonly name = 'NotFoundError';
}

/** It clashes with what exists or what is going on (an id taken, an attempt in flight). */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
  override readonly name = 'ConflictError';
}

/** Too many tries (failed logins); the caller may try again after `retryAfterSeconds`. */
export class TooManyRequestsError extends DomainError {
  readonly kind = 'too-many-requests';
  override readonly name = 'TooManyRequestsError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Something of the original API that this one deliberately does not do. */
export class NotImplementedError extends DomainError {
  readonly kind = 'not-implemented';
  override readonly name = 'NotImplementedError';
}

/** Not the request's fault and not a bug (the database is away): the caller may retry after `retryAfterSeconds`. */
export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
  override readonly name = 'UnavailableError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
