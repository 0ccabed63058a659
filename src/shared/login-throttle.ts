import { isIPv4, isIPv6 } from 'node:net';
import type { Clock } from './clock.ts';
import { TooManyRequestsError } from './errors.ts';

export interface LoginThrottleOptions {
  /** failed logins at one login (one credential) from one address within the window (default 20) */
  maxFailures?: number;
  windowMs?: number;
  /**
   * failed logins from one address, all logins together, before that address may try only the
   * logins that succeeded from it before (default 5 × maxFailures)
   */
  maxFailuresPerAddress?: number;
  /**
   * failed logins at one login from all addresses together, before only the addresses it
   * succeeded from may try it (default 5 × maxFailures)
   */
  maxFailuresPerLogin?: number;
  /** most keys kept in each table; blocked keys are the last to go (default 50,000) */
  maxTracked?: number;
  /** how long a successful login keeps its address "known" for that login (default 24 h) */
  knownForMs?: number;
}

/**
 * The address a throttle counts by: an IPv4 address as it is (IPv4-mapped IPv6 included), an IPv6
 * address by its /64, since one host or home network commonly holds a whole /64 and could
 * otherwise draw endless fresh addresses from it.
 */
export function throttleKeyOfAddress(address: string): string {
  const plain = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped) return mapped[1];
  if (isIPv4(plain) || !isIPv6(plain)) return plain;
  const [head, tail] = plain.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(':') : [];
  // an embedded IPv4 tail (::1.2.3.4) is two groups; only the first four groups matter here
  const missing = 8 - headGroups.length - tailGroups.length - tailGroups.filter((g) => g.includes('.')).length;
  const groups = [...headGroups, ...Array(Math.max(0, missing)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Failure times by key, within a window, in bounded memory: at most `limit` times per key (enough
 * to decide), at most `maxKeys` keys. Past that the quietest unblocked keys go first; a blocked key
 * goes only when every key is blocked, oldest first.
 */
class FailureLog {
  private readonly times = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
    readonly limit: number,
    private readonly maxKeys: number,
  ) {}

  /** the failures of `key` within the window, oldest first */
  recent(key: string): number[] {
    const times = this.times.get(key);
    if (!times) return [];
    const since = this.clock.now() - this.windowMs;
    let drop = 0;
    while (drop < times.length && times[drop] <= since) drop++;
    if (drop === 0) return times;
    if (drop === times.length) {
      this.times.delete(key);
      return [];
    }
    times.splice(0, drop);
    return times;
  }

  /** seconds until `key` may try again, or 0 when it may now */
  blockedForSeconds(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.limit) return 0;
    return Math.max(1, Math.ceil((recent[recent.length - this.limit] + this.windowMs - this.clock.now()) / 1000));
  }

  add(key: string): void {
    const recent = this.recent(key);
    recent.push(this.clock.now());
    if (recent.length > this.limit) recent.splice(0, recent.length - this.limit);
    // re-inserted, so the map's order is by latest failure: the quietest keys come first
    this.times.delete(key);
    this.times.set(key, recent);
    if (this.times.size > this.maxKeys) this.shrink();
  }

  get size(): number {
    return this.times.size;
  }

  private shrink(): void {
    const target = Math.floor(this.maxKeys * 0.9);
    for (const key of this.times.keys()) {
      if (this.times.size <= target) return;
      if (this.recent(key).length < this.limit) this.times.delete(key);
    }
    // every key left is blocked: the ones blocked longest ago go first
    for (const key of this.times.keys()) {
      if (this.times.size <= target) return;
      this.times.delete(key);
    }
  }
}

/**
 * Slows down password guessing without letting one client lock out the others it shares an address
 * with (a NAT, a load balancer, the same host). Failed logins are counted three ways, in a sliding
 * window:
 *
 * - per login *and* address: past `maxFailures`, that address may not try that login, the right
 *   password included (otherwise the answers would still tell a right guess from a wrong one);
 * - per address, all logins together: past `maxFailuresPerAddress`, the address may try only the
 *   logins that succeeded from it before (credential stuffing from one place);
 * - per login, all addresses together: past `maxFailuresPerLogin`, only the addresses the login
 *   succeeded from before may try it (guessing one password from many places).
 *
 * So someone else's failures, at another login, never refuse a right password. A success does not
 * clear the counts: one known password must not buy guesses at another. Bearer tokens are
 * unguessable (192 random bits, or a signed JWT): a valid one is never throttled, and wrong ones
 * are counted apart (`failedToken`), so they slow down only other wrong tokens.
 *
 * Addresses are counted by `throttleKeyOfAddress` (IPv6 by /64), and memory is bounded: each table
 * keeps at most `maxTracked` keys, dropping unblocked ones first.
 */
export class LoginThrottle {
  private readonly byPair: FailureLog;
  private readonly byAddress: FailureLog;
  private readonly byLogin: FailureLog;
  private readonly byTokenAddress: FailureLog;
  /**
   * throttleKeyOfAddress of the addresses seen lately: check() runs on every authenticated
   * request, and the same few addresses send nearly all of them (emptied when it holds maxTracked)
   */
  private readonly addressKeys = new Map<string, string>();
  /** `address\0login` → when it last succeeded; by age, bounded like the logs */
  private readonly known = new Map<string, number>();
  private readonly maxTracked: number;
  private readonly knownForMs: number;

  constructor(
    private readonly clock: Clock,
    options: LoginThrottleOptions = {},
  ) {
    const windowMs = options.windowMs ?? 60_000;
    const maxFailures = options.maxFailures ?? 20;
    this.maxTracked = options.maxTracked ?? 50_000;
    this.knownForMs = options.knownForMs ?? 24 * 60 * 60_000;
    const log = (limit: number) => new FailureLog(clock, windowMs, limit, this.maxTracked);
    this.byPair = log(maxFailures);
    this.byAddress = log(options.maxFailuresPerAddress ?? 5 * maxFailures);
    this.byLogin = log(options.maxFailuresPerLogin ?? 5 * maxFailures);
    this.byTokenAddress = log(maxFailures);
  }

  /**
   * Before a login is checked: throws TooManyRequestsError (a 429 with Retry-After) when this
   * address may not try this login now.
   */
  check(address: string, login: string): void {
    const from = this.keyOfAddress(address);
    const key = pairKey(from, login);
    const pair = this.byPair.blockedForSeconds(key);
    if (pair > 0) throw tooMany(`too many failed logins for ${quoted(login)} from ${from}`, pair);
    if (this.isKnown(key)) return;
    const addressBlock = this.byAddress.blockedForSeconds(from);
    if (addressBlock > 0) {
      throw tooMany(
        `too many failed logins from ${from}; until then only logins that succeeded from there before may be tried`,
        addressBlock,
      );
    }
    const loginBlock = this.byLogin.blockedForSeconds(login);
    if (loginBlock > 0) {
      throw tooMany(
        `too many failed logins for ${quoted(login)}; until then it may be tried only from addresses it succeeded from before`,
        loginBlock,
      );
    }
  }

  private keyOfAddress(address: string): string {
    let key = this.addressKeys.get(address);
    if (key === undefined) {
      if (this.addressKeys.size >= this.maxTracked) this.addressKeys.clear();
      this.addressKeys.set(address, (key = throttleKeyOfAddress(address)));
    }
    return key;
  }

  failed(address: string, login: string): void {
    const from = this.keyOfAddress(address);
    this.byPair.add(pairKey(from, login));
    this.byAddress.add(from);
    this.byLogin.add(login);
  }

  /** The login succeeded from this address: it stays allowed there when the address or the login is under attack. */
  succeeded(address: string, login: string): void {
    const key = pairKey(this.keyOfAddress(address), login);
    this.known.delete(key);
    this.known.set(key, this.clock.now());
    if (this.known.size > this.maxTracked) {
      for (const oldest of this.known.keys()) {
        this.known.delete(oldest);
        if (this.known.size <= this.maxTracked * 0.9) break;
      }
    }
  }

  /**
   * A wrong bearer token (device token, JWT) from this address. Throws TooManyRequestsError when
   * the address has sent `maxFailures` wrong ones within the window (then it is not counted
   * again); otherwise the caller answers 401.
   */
  failedToken(address: string): void {
    const from = this.keyOfAddress(address);
    const blocked = this.byTokenAddress.blockedForSeconds(from);
    if (blocked > 0) throw tooMany(`too many wrong tokens from ${from}`, blocked);
    this.byTokenAddress.add(from);
  }

  /** keys held in each table (for tests of the memory bound) */
  tracked(): {
    pairs: number;
    addresses: number;
    logins: number;
    tokenAddresses: number;
    known: number;
    addressKeys: number;
  } {
    return {
      addressKeys: this.addressKeys.size,
      pairs: this.byPair.size,
      addresses: this.byAddress.size,
      logins: this.byLogin.size,
      tokenAddresses: this.byTokenAddress.size,
      known: this.known.size,
    };
  }

  private isKnown(pair: string): boolean {
    const at = this.known.get(pair);
    return at !== undefined && this.clock.now() - at < this.knownForMs;
  }
}

const pairKey = (from: string, login: string) => `${from}\0${login}`;

/** A login as it may appear in a message: quoted, at most 64 characters, control characters escaped. */
const quoted = (login: string): string => JSON.stringify(login.length > 64 ? `${login.slice(0, 64)}…` : login);

const tooMany = (what: string, seconds: number) =>
  new TooManyRequestsError(`${what}; try again in ${seconds} s`, seconds);
