import type { Clock } from './clock.ts';
import { TooManyRequestsError } from './errors.ts';

export interface LoginThrottleOptions {
  /** failed logins allowed from one address within the window */
  maxFailures?: number;
  windowMs?: number;
}

/**
 * Slows down password guessing: after `maxFailures` failed logins from one address within
 * `windowMs`, that address gets 429 with Retry-After until the oldest failure leaves the window.
 * A successful login does not clear the record: one known password must not buy guesses at another.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(
    private readonly clock: Clock,
    options: LoginThrottleOptions = {},
  ) {
    this.maxFailures = options.maxFailures ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** Throws TooManyRequestsError (a 429 with Retry-After) when `address` has used up its failures. */
  check(address: string): void {
    const recent = this.recent(address);
    if (recent.length < this.maxFailures) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((recent[0] + this.windowMs - this.clock.now()) / 1000));
    throw new TooManyRequestsError(
      `too many failed logins from ${address}; try again in ${retryAfterSeconds} s`,
      retryAfterSeconds,
    );
  }

  failed(address: string): void {
    const recent = this.recent(address);
    recent.push(this.clock.now());
    this.failures.set(address, recent);
    // Bound memory under a spray of addresses: forget the quietest half when it grows large.
    if (this.failures.size > 10_000) {
      for (const key of [...this.failures.keys()].slice(0, 5_000)) this.failures.delete(key);
    }
  }

  private recent(address: string): number[] {
    const since = this.clock.now() - this.windowMs;
    return (this.failures.get(address) ?? []).filter((at) => at > since);
  }
}
