import type { Db } from './database.ts';
import type { AttemptRecord, DeliveryRecord, DeliveryState, EventName, WebhookSource } from '../../protocol/index.ts';
import { serializeEnvelope } from '../../protocol/index.ts';
import { newOrderedId } from '../../shared/ids.ts';
import { inTransaction, StatementCache } from '../../shared/sqlite.ts';

/** A webhook an event goes to, with the deviceId its envelope carries. */
export interface DeliveryTarget {
  source: WebhookSource;
  webhookId: string;
  url: string;
  envelopeDeviceId: string;
}

/** What the dispatcher needs to make one attempt. */
export interface ClaimedDelivery {
  seq: number;
  id: string;
  url: string;
  body: string;
  /** the number of this attempt, 1-based, counted over the delivery's whole life */
  attempt: number;
  /** failed attempts since the last redeliver, this one excluded: the exponent of the backoff */
  retriesSoFar: number;
  /** when it came due (`next_attempt_at`): with `seq`, its place in the due order */
  dueAt: number;
}

/** A place in the outbox's due order: by due time, then seq. */
export interface DuePosition {
  dueAt: number;
  seq: number;
}

/** Whether `a` comes after `b` in the due order. */
export const isAfter = (a: DuePosition, b: DuePosition): boolean =>
  a.dueAt > b.dueAt || (a.dueAt === b.dueAt && a.seq > b.seq);

/** The retry rule as the outbox needs it (`RetryPolicy` in the dispatcher is the rule). */
export interface RetrySchedule {
  /** when a failed attempt is tried again; null when it was the delivery's last */
  retryAt(result: AttemptResult): number | null;
}

export interface AttemptResult {
  delivery: ClaimedDelivery;
  startedAt: number;
  durationMs: number;
  ok: boolean;
  status: number | null;
  error: string | null;
  responsePreview: string | null;
}

export interface DeliveryRow extends DeliveryRecord {
  seq: number;
  nextAttemptAt: number;
}

export type AttemptRow = AttemptRecord;

const DELIVERY_COLUMNS = `
  d.seq, d.id, d.event_id AS eventId, d.event, d.webhook_source AS webhookSource, d.webhook_id AS webhookId, d.url,
  d.state, d.attempts, d.next_attempt_at AS nextAttemptAt, d.created_at AS createdAt, d.updated_at AS updatedAt,
  d.last_status AS lastStatus, d.last_error AS lastError`;

/**
 * The delivery outbox. Every state change of a delivery is one statement here, and each guards
 * itself in its WHERE clause, so no caller can move a delivery from a state it is not in.
 *
 *   pending ──adopt (claimDue)──► sending ──recordAttempts(ok)──► succeeded
 *      ▲                     │
 *      └──recordAttempts(fail, retried)──┘──(the last attempt)──► failed
 *   any but sending or cancelled ──redeliver──► pending
 *   pending (sending too) ──cancelForWebhook──► cancelled   (its webhook deleted or replaced)
 *
 * "sending" lives in memory only: a claim writes nothing. A crash or a stop mid-attempt leaves
 * the row exactly as it was (pending, the attempt not counted), which is what a restart needs,
 * and the hot path saves a row write and its index updates per delivery. The recorded result
 * is guarded by the attempt count, so a stale result can never be recorded twice. One process
 * owns a device database at a time (the runtime holds a lock on the data directory).
 */
export class Outbox {
  private readonly statements;
  /** list pages: one statement per set of filters used */
  private readonly lists;
  private readonly enqueueTx;
  /** seq → id of the deliveries claimed and not yet recorded: the "sending" state */
  private readonly claimed = new Map<number, string>();
  private readonly claimedIds = new Set<string>();
  private readonly recordTx;
  /** Claims the transaction under way has ended, to put back if it fails (see recordAttempts). */
  private releasedInTransaction: { seq: number; id: string }[] | null = null;
  /**
   * Counts the changes that may make a pending delivery held in memory (handed out by `enqueue`,
   * or read by `duePage`) unfit to send as it was (cancelled, queued again, released): whoever
   * keeps such deliveries compares it before using them.
   */
  private changes = 0;
  /** Delivery rows written (committed or not): a reader compares it to what it was handed. */
  private written = 0;

  constructor(private readonly db: Db) {
    this.statements = {
      insertDelivery: db.prepare<
        [string, string, EventName, WebhookSource, string, string, string, number, number, number]
      >(
        `INSERT INTO deliveries (id, event_id, event, webhook_source, webhook_id, url, body, state, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
      ),
      // Due deliveries in due order, from a place in it on. Only reads: the in-memory claim set
      // keeps a delivery from being taken twice. INDEXED BY: without statistics the planner may
      // pick another index and sort every pending row on each read, which grows with the backlog;
      // the partial due index is already in this order, so a page costs the same at 1 M pending as at 10.
      duePage: db.prepare<{ now: number; afterDue: number; afterSeq: number; limit: number }, ClaimedDelivery>(
        `SELECT seq, id, url, body, attempts + 1 AS attempt, attempts - attempts_before_redeliver AS retriesSoFar,
                next_attempt_at AS dueAt
           FROM deliveries INDEXED BY deliveries_due
          WHERE state = 'pending' AND next_attempt_at <= :now AND (next_attempt_at, seq) > (:afterDue, :afterSeq)
          ORDER BY next_attempt_at, seq LIMIT :limit`,
      ),
      // Results are guarded by the attempt count: a result recorded once, or a claim from before a
      // redeliver or a restart that was already recorded, changes nothing. The successful attempt
      // stays on the row (device migration 0014); a failed one is a row of attempts.
      succeed: db.prepare<{
        seq: number;
        attempt: number;
        now: number;
        status: number | null;
        startedAt: number;
        durationMs: number;
        preview: string | null;
      }>(
        `UPDATE deliveries SET state = 'succeeded', attempts = :attempt, updated_at = :now, last_status = :status, last_error = NULL,
                success_started_at = :startedAt, success_duration_ms = :durationMs, success_response_preview = :preview
          WHERE seq = :seq AND state = 'pending' AND attempts = :attempt - 1`,
      ),
      // :state is 'pending' (retried at :nextAttemptAt) or 'failed' (no retry left): the retry rule decides.
      fail: db.prepare<{
        seq: number;
        attempt: number;
        now: number;
        status: number | null;
        error: string | null;
        state: 'pending' | 'failed';
        nextAttemptAt: number;
      }>(
        `UPDATE deliveries
            SET state = :state, attempts = :attempt, next_attempt_at = :nextAttemptAt, updated_at = :now,
                last_status = :status, last_error = :error
          WHERE seq = :seq AND state = 'pending' AND attempts = :attempt - 1`,
      ),
      insertAttempt: db.prepare<[number, number, number, number, number | null, string | null, string | null]>(
        `INSERT INTO attempts (delivery_seq, number, started_at, duration_ms, status, error, response_preview)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      anyDueAfter: db.prepare<{ now: number; afterDue: number; afterSeq: number }, { one: 1 }>(
        `SELECT 1 AS one FROM deliveries INDEXED BY deliveries_due
          WHERE state = 'pending' AND next_attempt_at <= :now AND (next_attempt_at, seq) > (:afterDue, :afterSeq)
          LIMIT 1`,
      ),
      nextDueAfter: db.prepare<{ now: number }, { at: number | null }>(
        `SELECT min(next_attempt_at) AS at FROM deliveries INDEXED BY deliveries_due
          WHERE state = 'pending' AND next_attempt_at > :now`,
      ),
      // Rows an earlier version left marked as in flight (it wrote claims): back to pending, the
      // attempt cut short not counted.
      release: db.prepare<{ now: number }>(
        `UPDATE deliveries SET state = 'pending', attempts = attempts - 1, next_attempt_at = :now, updated_at = :now
          WHERE state = 'sending'`,
      ),
      // A cancelled delivery stays so: its webhook is gone, or now points elsewhere.
      redeliver: db.prepare<{ id: string; now: number }>(
        `UPDATE deliveries SET state = 'pending', attempts_before_redeliver = attempts, next_attempt_at = :now, updated_at = :now,
                success_started_at = NULL, success_duration_ms = NULL, success_response_preview = NULL
          WHERE id = :id AND state NOT IN ('sending', 'cancelled')`,
      ),
      // Before a succeeded delivery is queued again, its success joins the other attempts.
      keepSuccessAsAttempt: db.prepare<{ id: string }>(
        `INSERT INTO attempts (delivery_seq, number, started_at, duration_ms, status, error, response_preview)
         SELECT seq, attempts, success_started_at, success_duration_ms, last_status, NULL, success_response_preview
           FROM deliveries WHERE id = :id AND state = 'succeeded' AND success_started_at IS NOT NULL`,
      ),
      // One in flight is cancelled too: its result then finds the row no longer pending and is dropped.
      // A walk of the pending deliveries' index, which holds each one's webhook (device migration
      // 0019): no index by webhook is kept up on every delivery for this rare call.
      cancelForWebhook: db.prepare<
        { source: WebhookSource; webhookId: string; now: number; reason: string },
        { id: string }
      >(
        `UPDATE deliveries INDEXED BY deliveries_pending SET state = 'cancelled', updated_at = :now, last_error = :reason
          WHERE webhook_id = :webhookId AND webhook_source = :source AND state = 'pending'
          RETURNING id`,
      ),
      // read for every delivery a linked device reports to its server
      deliveryById: db.prepare<[string], DeliveryRow & { body: string }>(
        `SELECT ${DELIVERY_COLUMNS}, d.body FROM deliveries d WHERE d.id = ?`,
      ),
      // the failed attempts, and the successful one from the delivery's row
      attemptLog: db.prepare<{ seq: number }, AttemptRow>(
        `SELECT number, started_at AS startedAt, duration_ms AS durationMs, status, error, response_preview AS responsePreview
           FROM attempts WHERE delivery_seq = :seq
         UNION ALL
         SELECT attempts, success_started_at, success_duration_ms, last_status, NULL, success_response_preview
           FROM deliveries WHERE seq = :seq AND state = 'succeeded' AND success_started_at IS NOT NULL
         ORDER BY number`,
      ),
      countByState: db.prepare<[], { pending: number; failed: number; cancelled: number; total: number }>(
        `SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending') AS pending,
                (SELECT count(*) FROM deliveries WHERE state = 'failed') AS failed,
                (SELECT count(*) FROM deliveries WHERE state = 'cancelled') AS cancelled,
                (SELECT count(*) FROM deliveries) AS total`,
      ),
      queueCounts: db.prepare<[], { queued: number; failed: number }>(
        `SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending') AS queued,
                (SELECT count(*) FROM deliveries WHERE state = 'failed') AS failed`,
      ),
    };
    this.lists = new StatementCache(db);
    // Transaction wrappers are built once, not on every call.
    this.enqueueTx = db.transaction(this.insertDeliveries.bind(this));
    this.recordTx = db.transaction(this.recordEach.bind(this));
  }

  /**
   * Record an event as one delivery per target, each carrying the event's id, in one transaction;
   * an event no webhook wants writes nothing (device migration 0017). Nothing is sent before this
   * commits. Inside a caller's transaction the rows simply join it and commit or roll back with it;
   * an error here must abort that transaction (do not catch it inside). No nested savepoint: one
   * per event measured ~30 µs, more than the inserts themselves.
   */
  enqueue(
    event: EventName,
    payload: unknown,
    targets: readonly DeliveryTarget[],
    now: number,
  ): { eventId: string; deliveryIds: string[]; ready: ClaimedDelivery[] } {
    const eventId = newOrderedId();
    if (targets.length === 0) return { eventId, deliveryIds: [], ready: [] };
    const payloadJson = JSON.stringify(payload);
    const ready = this.db.inTransaction
      ? this.insertDeliveries(eventId, event, payloadJson, targets, now)
      : this.enqueueTx(eventId, event, payloadJson, targets, now);
    return { eventId, deliveryIds: ready.map((delivery) => delivery.id), ready };
  }

  /** The new deliveries as a claim reads them: each is due now, its first attempt next. */
  private insertDeliveries(
    eventId: string,
    event: EventName,
    payloadJson: string,
    targets: readonly DeliveryTarget[],
    now: number,
  ): ClaimedDelivery[] {
    const ready: ClaimedDelivery[] = [];
    for (const target of targets) {
      const id = newOrderedId();
      const body = serializeEnvelope({
        deviceId: target.envelopeDeviceId,
        event,
        id,
        payloadJson,
        webhookId: target.webhookId,
      });
      const { lastInsertRowid } = this.statements.insertDelivery.run(
        id,
        eventId,
        event,
        target.source,
        target.webhookId,
        target.url,
        body,
        now,
        now,
        now,
      );
      this.written++;
      ready.push({ seq: Number(lastInsertRowid), id, url: target.url, body, attempt: 1, retriesSoFar: 0, dueAt: now });
    }
    return ready;
  }

  /** See `changes`: while it has not moved, deliveries handed out or read before are still fit to send as they were. */
  get changeCount(): number {
    return this.changes;
  }

  /** Delivery rows `enqueue` has written so far, in transactions that committed or not. */
  get deliveriesWritten(): number {
    return this.written;
  }

  /**
   * Claim a due delivery the caller holds (handed out by `enqueue` after its commit, or read by
   * `duePage`) without reading it again; `changeCount` has not moved since the caller got it.
   */
  adopt(delivery: ClaimedDelivery): void {
    this.claimed.set(delivery.seq, delivery.id);
    this.claimedIds.add(delivery.id);
  }

  /**
   * Due deliveries not claimed, in due order, from the first past `after` (null: from the front),
   * at most `limit` rows read. `read` is how many rows were read, the claimed ones included (fewer
   * than `limit`: none is left past `last`); `last` is the place of the last one read.
   */
  duePage(
    after: DuePosition | null,
    now: number,
    limit: number,
  ): { deliveries: ClaimedDelivery[]; read: number; last: DuePosition | null } {
    const rows = this.statements.duePage.all({
      now,
      afterDue: after?.dueAt ?? Number.MIN_SAFE_INTEGER,
      afterSeq: after?.seq ?? Number.MIN_SAFE_INTEGER,
      limit,
    });
    const deliveries = rows.filter((row) => !this.claimed.has(row.seq));
    const last = rows.length > 0 ? { dueAt: rows[rows.length - 1].dueAt, seq: rows[rows.length - 1].seq } : null;
    return { deliveries, read: rows.length, last };
  }

  /** Whether a delivery is due past `after` in the due order (one index seek). */
  anyDueAfter(after: DuePosition | null, now: number): boolean {
    return (
      this.statements.anyDueAfter.get({
        now,
        afterDue: after?.dueAt ?? Number.MIN_SAFE_INTEGER,
        afterSeq: after?.seq ?? Number.MIN_SAFE_INTEGER,
      }) !== undefined
    );
  }

  /** Claim up to `limit` due deliveries, oldest due first, none of them claimed already. */
  claimDue(now: number, limit: number): ClaimedDelivery[] {
    if (limit <= 0) return [];
    const claimed = this.duePage(null, now, limit + this.claimed.size).deliveries.slice(0, limit);
    for (const delivery of claimed) this.adopt(delivery);
    return claimed;
  }

  /**
   * Record finished attempts in one transaction. `retries` says when a failed one is tried again,
   * or that it was the last (the delivery fails).
   */
  recordAttempts(results: readonly AttemptResult[], retries: RetrySchedule, now: number): void {
    const released: { seq: number; id: string }[] = [];
    this.releasedInTransaction = released;
    try {
      this.recordTx(results, retries, now);
    } catch (error) {
      // The commit failed (a full disk) and SQLite rolled the rows back: the attempts count as in
      // flight again, as their rows say.
      for (const { seq, id } of released) {
        this.claimed.set(seq, id);
        this.claimedIds.add(id);
      }
      throw error;
    } finally {
      this.releasedInTransaction = null;
    }
  }

  private recordEach(results: readonly AttemptResult[], retries: RetrySchedule, now: number): void {
    for (const r of results) {
      const { seq, attempt, id } = r.delivery;
      if (this.claimed.get(seq) === id) {
        this.claimed.delete(seq);
        this.claimedIds.delete(id);
        this.releasedInTransaction?.push({ seq, id });
      }
      if (r.ok) {
        // the successful attempt stays on the row: no attempt row
        this.statements.succeed.run({
          seq,
          attempt,
          now,
          status: r.status,
          startedAt: r.startedAt,
          durationMs: r.durationMs,
          preview: r.responsePreview,
        });
        continue;
      }
      const retryAt = retries.retryAt(r);
      const changed = this.statements.fail.run({
        seq,
        attempt,
        now,
        status: r.status,
        error: r.error,
        state: retryAt === null ? 'failed' : 'pending',
        nextAttemptAt: retryAt ?? now,
      }).changes;
      // A row that moved on meanwhile (the same attempt already recorded) keeps no second copy.
      if (changed === 1) {
        this.statements.insertAttempt.run(
          seq,
          attempt,
          r.startedAt,
          r.durationMs,
          r.status,
          r.error,
          r.responsePreview,
        );
      }
    }
  }

  /** When the earliest pending delivery due after `now` (a retry) comes due; null when there is none. */
  nextDueAfter(now: number): number | null {
    return this.statements.nextDueAfter.get({ now })?.at ?? null;
  }

  /**
   * Forget every claim (their results will be dropped, the rows are still pending with the attempt
   * uncounted), and release rows an older version left in flight. Returns how many were released.
   */
  releaseInFlight(now: number): number {
    const forgotten = this.claimed.size;
    this.changes++;
    this.claimed.clear();
    this.claimedIds.clear();
    return forgotten + this.statements.release.run({ now }).changes;
  }

  /**
   * End the pending deliveries of a webhook that was deleted or replaced: `cancelled`, with `reason`
   * as their last error. Must run in the transaction that changes the webhook list, so that no
   * delivery is enqueued for it in between. Returns the ids of the deliveries cancelled.
   */
  cancelForWebhook(source: WebhookSource, webhookId: string, now: number, reason: string): string[] {
    this.changes++;
    return this.statements.cancelForWebhook.all({ source, webhookId, now, reason }).map((row) => row.id);
  }

  /** Queue a delivery again now, with a fresh retry budget. False when unknown, being sent or cancelled. */
  redeliver(id: string, now: number): boolean {
    if (this.claimedIds.has(id)) return false;
    this.changes++;
    return inTransaction(this.db, () => {
      this.statements.keepSuccessAsAttempt.run({ id });
      return this.statements.redeliver.run({ id, now }).changes === 1;
    });
  }

  /** A claimed row is shown as it is: being sent, its attempt counted. */
  private withClaim<T extends DeliveryRow>(row: T): T {
    return this.claimed.get(row.seq) === row.id && row.state === 'pending'
      ? { ...row, state: 'sending', attempts: row.attempts + 1 }
      : row;
  }

  getDelivery(id: string): (DeliveryRow & { body: string; attemptLog: AttemptRow[] }) | undefined {
    const row = this.statements.deliveryById.get(id);
    if (!row) return undefined;
    const attemptLog = this.statements.attemptLog.all({ seq: row.seq });
    return { ...this.withClaim(row), attemptLog };
  }

  /** Newest first, keyset-paginated on seq so deep pages stay cheap. */
  listDeliveries(filter: {
    state?: DeliveryState;
    webhookId?: string;
    event?: string;
    before?: number;
    limit: number;
  }): DeliveryRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit };
    // "sending" is the claim set; the rows themselves still say pending
    if (filter.state === 'sending') {
      where.push(`d.state = 'pending' AND d.seq IN (SELECT value FROM json_each(:claimed))`);
      params.claimed = JSON.stringify([...this.claimed.keys()]);
    } else if (filter.state === 'pending') {
      where.push(`d.state = 'pending' AND d.seq NOT IN (SELECT value FROM json_each(:claimed))`);
      params.claimed = JSON.stringify([...this.claimed.keys()]);
    } else if (filter.state) {
      where.push('d.state = :state');
      params.state = filter.state;
    }
    if (filter.webhookId) {
      where.push('d.webhook_id = :webhookId');
      params.webhookId = filter.webhookId;
    }
    if (filter.event) {
      where.push('d.event = :event');
      params.event = filter.event;
    }
    if (filter.before !== undefined) {
      where.push('d.seq < :before');
      params.before = filter.before;
    }
    return this.lists
      .get<Record<string, unknown>, DeliveryRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries d
          ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY d.seq DESC LIMIT :limit`,
      )
      .all(params)
      .map((row) => this.withClaim(row));
  }

  /**
   * Deliveries by state: counts over the pending and failed partial indexes and the table, O(rows).
   * No row says "sending" once the dispatcher has started (releaseInFlight), so none is counted.
   */
  countByState(): Record<DeliveryState, number> {
    const row = this.statements.countByState.get()!;
    const sending = Math.min(this.claimed.size, row.pending);
    return {
      pending: row.pending - sending,
      sending,
      succeeded: row.total - row.pending - row.failed - row.cancelled,
      failed: row.failed,
      cancelled: row.cancelled,
    };
  }

  /** The queue depth (waiting or in flight: both are pending rows) and the permanently failed count. */
  queueCounts(): { queued: number; failed: number } {
    return this.statements.queueCounts.get()!;
  }
}
