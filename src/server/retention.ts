import { DEFAULT_SETTINGS, mergeSettings } from '../protocol/index.ts';
import type { Clock } from '../shared/clock.ts';
import { DAY_MS, PURGE_BATCH as BATCH, PURGE_EVERY_MS, purgeInBatches } from '../shared/retention.ts';
import type { ServerStore } from './store/store.ts';

/** Users whose settings are read per page. */
const USERS_PER_PAGE = 100;

export interface ServerPurgeCounts {
  /** reported deliveries, each with its attempts */
  deliveries: number;
  /** messages, each with its recipients and state times */
  messages: number;
}

/**
 * Removes what the server keeps per user after that user's retention, so that a server running for
 * a year does not grow for a year: the copy of the deliveries (and their attempts) devices reported,
 * once finished, after `webhooks.log_lifetime_days` since the server last stored them, and final
 * messages (Delivered, Failed, Cancelled) after `messages.log_lifetime_days` since their last change
 * (null, the default, keeps them). Pending deliveries and messages not final are never touched: the
 * guards are in the statements. The server keeps no device logs (its `logs` route answers 501).
 *
 * It runs off the request path: every minute on the injected clock, user by user, in statements of
 * at most PURGE_BATCH (25) rows, resting between them as the device's purge does (PURGE_TIME_SHARE).
 * On PostgreSQL every node runs it; a row another node removed first is simply not found again.
 */
export class ServerRetentionPurger {
  private timer: unknown = null;
  private running: Promise<ServerPurgeCounts> | null = null;
  private stopped = false;

  constructor(
    private readonly options: {
      store: ServerStore;
      clock: Clock;
      /** a purge that failed (the database unreachable, say): it is tried again at the next run */
      onError: (error: unknown) => void;
    },
  ) {}

  start(): void {
    this.stopped = false;
    this.arm();
  }

  /** No further run starts; resolves when the one under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  private arm(): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      this.purge()
        .catch(this.options.onError)
        .finally(() => {
          if (!this.stopped) this.arm();
        });
    }, PURGE_EVERY_MS);
  }

  /** One purge of everything expired, user by user. Concurrent calls share the run under way. */
  purge(): Promise<ServerPurgeCounts> {
    this.running ??= this.purgeAll().finally(() => (this.running = null));
    return this.running;
  }

  private async purgeAll(): Promise<ServerPurgeCounts> {
    const { store, clock } = this.options;
    const counts: ServerPurgeCounts = { deliveries: 0, messages: 0 };
    const now = clock.now();
    let after = '';
    while (!this.stopped) {
      const page = await store.settings.usersPage(after, USERS_PER_PAGE);
      for (const { userId, settings } of page) {
        const effective = mergeSettings(DEFAULT_SETTINGS, settings);
        const logCutoff = now - effective.webhooks.log_lifetime_days * DAY_MS;
        counts.deliveries += await this.inBatches(() => store.deliveries.purgeExpired(userId, logCutoff, BATCH));
        const messageDays = effective.messages.log_lifetime_days;
        if (messageDays !== null) {
          const messageCutoff = now - messageDays * DAY_MS;
          counts.messages += await this.inBatches(() => store.messages.purgeExpired(userId, messageCutoff, BATCH));
        }
        if (this.stopped) break;
      }
      if (page.length < USERS_PER_PAGE) break;
      after = page[page.length - 1].userId;
    }
    return counts;
  }

  private inBatches(batch: () => Promise<number>): Promise<number> {
    return purgeInBatches(batch, () => !this.stopped);
  }
}
