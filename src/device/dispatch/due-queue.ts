import { isAfter, type ClaimedDelivery } from '../store/outbox.ts';
import { originOf } from './receiver-slots.ts';

/**
 * The most due deliveries kept in memory as they were committed (new ones, offered); past it they
 * wait in the outbox for a later read. They were in memory already, made by the intake: a burst of
 * 800 SMS to 20 webhooks is sent without reading a row back.
 */
export const DUE_QUEUE_LIMIT = 16384;
/**
 * How far the dispatcher reads the outbox ahead, past the deliveries of receivers whose slots are
 * taken: rows read back cost memory of their own (~4 KB each in the 1 M backlog benchmark).
 */
export const READ_AHEAD_LIMIT = 4096;

/** Empty receiver queues kept for the next deliveries; past this many, all are dropped once empty. */
const MAX_IDLE_QUEUES = 64;

/**
 * One receiver's deliveries in the order they were made. A taken delivery leaves the array at once
 * (its slot is cleared): kept until the front was trimmed, each held its body for a second or more
 * at 1,000 events/s, long enough to be copied by two young-generation collections and moved to the
 * old one, which made every collection slower (BENCHMARKS.md, latency).
 */
class OriginQueue {
  private items: (ClaimedDelivery | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(delivery: ClaimedDelivery): void {
    this.items.push(delivery);
  }

  peek(): ClaimedDelivery {
    return this.items[this.head]!;
  }

  shift(): void {
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      // empty: start over in the same array
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // the taken front is dropped now and then, not on every take
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Due deliveries in memory, read from the outbox or handed out by it as they committed, so that the
 * dispatcher takes them without reading them again. Queued per receiver, so that a receiver whose
 * slots are all taken does not hold up the others; across receivers the oldest goes first, as in
 * the outbox's due order.
 */
export class DueQueue {
  private readonly queues = new Map<string, OriginQueue>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Append deliveries that come after all those here in due order. False when they do not fit
   * (unless `evenPastLimit`: a page the caller made room for); the caller then leaves them to a
   * later read of the outbox.
   */
  add(deliveries: readonly ClaimedDelivery[], evenPastLimit = false): boolean {
    if (!evenPastLimit && this.count + deliveries.length > DUE_QUEUE_LIMIT) return false;
    for (const delivery of deliveries) {
      const origin = originOf(delivery.url);
      let queue = this.queues.get(origin);
      if (!queue) this.queues.set(origin, (queue = new OriginQueue()));
      queue.push(delivery);
    }
    this.count += deliveries.length;
    return true;
  }

  /**
   * Up to `limit`, oldest first among the receivers that `admit` lets take one more (it takes
   * the slot); a receiver it refuses is not asked again in this call.
   */
  take(limit: number, admit: (url: string) => boolean): ClaimedDelivery[] {
    const taken: ClaimedDelivery[] = [];
    const refused = new Set<OriginQueue>();
    while (taken.length < limit && this.count > 0) {
      let oldest: OriginQueue | undefined;
      for (const queue of this.queues.values()) {
        if (queue.size === 0 || refused.has(queue)) continue;
        if (!oldest || isAfter(oldest.peek(), queue.peek())) oldest = queue;
      }
      if (!oldest) break;
      const delivery = oldest.peek();
      if (!admit(delivery.url)) {
        refused.add(oldest);
        continue;
      }
      oldest.shift();
      this.count--;
      taken.push(delivery);
    }
    // The receivers' queues stay for the next deliveries (made again for each event, they were a
    // map entry and an array per event); only many receivers' are dropped, once all are empty.
    if (this.count === 0 && this.queues.size > MAX_IDLE_QUEUES) this.queues.clear();
    return taken;
  }

  clear(): void {
    this.queues.clear();
    this.count = 0;
  }
}
