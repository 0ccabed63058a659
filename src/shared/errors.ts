/**
 * What a request asked for that cannot be done, by kind. Services and routes throw these with a
 * message the caller can act on; they know nothing of HTTP. The one place that turns a kind into
 * a status is the error handler of `createApp` (`src/shared/http.ts`).
 */
export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  constructor(message: string) {
    super(message);
    // The class's own name (InvalidInputError…), as logs and stack traces show it.
    this.name = new.target.name;
  }
}

/** The base of each kind's class: the kind is written once, in the class's heading. */
const ofKind = <K extends DomainErrorKind>(kind: K) =>
  class extends DomainError {
    readonly kind = kind;
  };

/** The base of the kinds after which the caller may try again: it says when (the Retry-After header). */
const retryableOfKind = <K extends DomainErrorKind>(kind: K) =>
  class extends ofKind(kind) {
    constructor(
      message: string,
      readonly retryAfterSeconds: number,
    ) {
      super(message);
    }
  };

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
export class InvalidInputError extends ofKind('invalid-input') {}

/** Credentials are missing or wrong. */
export class UnauthorizedError extends ofKind('unauthorized') {}

/** The caller is known but may not do this. */
export class ForbiddenError extends ofKind('forbidden') {}

/** No such thing, or none the caller may see (the message does not say which). */
export class NotFoundError extends ofKind('not-found') {}

/** It clashes with what exists or what is going on (an id taken, an attempt in flight). */
export class ConflictError extends ofKind('conflict') {}

/** Too many tries (failed logins); the caller may try again after `retryAfterSeconds`. */
export class TooManyRequestsError extends retryableOfKind('too-many-requests') {}

/** Something of the original API that this one deliberately does not do. */
export class NotImplementedError extends ofKind('not-implemented') {}

/** Not the request's fault and not a bug (the database is away): the caller may retry after `retryAfterSeconds`. */
export class UnavailableError extends retryableOfKind('unavailable') {}
