import type {
  DeliveryRecord,
  EventName,
  ReportedAttempt,
  ReportedDelivery,
  StoredDeliveryState,
} from '../../protocol/index.ts';
import type {
  AttemptBucketRow,
  FailingWebhookRow,
  MessageBucketRow,
  QueueMoveRow,
  StatsWindow,
} from '../../shared/stats.ts';

/**
 * A device's webhook delivery as the device last reported it. The device delivers and keeps the
 * truth; this is the copy the server's dashboard, 3rdparty API and metrics read.
 */
export interface DeviceDeliveryRecord extends DeliveryRecord {
  /** the order the server first heard of it: the list's cursor */
  seq: number;
  deviceId: string;
  userId: string;
  state: StoredDeliveryState;
  /** when the server stored this version */
  reportedAt: number;
}

/** An attempt as the device reported it, outcome included. */
export type DeviceAttemptRecord = ReportedAttempt;

/**
 * A device keeps up to this many times its bound of deliveries while they are still pending: a
 * pending one may be retried, and one dropped would have its attempts counted again when reported.
 */
export const PENDING_KEPT_FACTOR = 10;

/** The rows of the Overview's aggregate queries (STATS_SQL). */
export interface StatsRows {
  attempts: AttemptBucketRow[];
  messages: MessageBucketRow[];
  failing: FailingWebhookRow[];
  queueMoves: QueueMoveRow[];
  /** the user's reported deliveries still pending */
  queueNow: number;
}

/** A delivery with the attempts its device reported. */
export type DeliveryDetail = DeviceDeliveryRecord & { attemptLog: DeviceAttemptRecord[] };

/** The device a report comes from. */
export interface ReportingDevice {
  id: string;
  userId: string;
}

/** What a report changed. */
export interface SavedReport {
  /** deliveries stored for the first time or replaced by a newer version */
  changed: { id: string; state: string; attempts: number }[];
  /** attempts stored for the first time (a re-reported attempt is not among them) */
  newAttempts: ({ deliveryId: string } & DeviceAttemptRecord)[];
}

export interface DeliveryListFilter {
  state?: ReportedDelivery['state'];
  event?: EventName;
  webhookId?: string;
  deviceId?: string;
  /** the seq of the last item of the previous page */
  before?: number;
  limit: number;
}

export interface DeliveriesRepository {
  /**
   * Store one device's report: each delivery inserted, or replaced only by a
   * newer version (more attempts, or as many and a later updatedAt: the guard is in the SQL, so
   * reports arriving late or twice, through any node, never move a delivery back), each attempt
   * inserted once (attempts never change). Then the device's finished deliveries older than its
   * newest `keep` are dropped with their attempts; pending ones only past
   * `keep × PENDING_KEPT_FACTOR`. Deliveries must have distinct ids. PostgreSQL saves a report in
   * one transaction; SQLite, whose statements hold the event loop, in transactions of a few
   * deliveries each. Either way a report saved in part is made whole when the device sends it again
   * (it does until it gets an answer), and the guards make that harmless.
   */
  saveReport(
    device: ReportingDevice,
    deliveries: readonly ReportedDelivery[],
    now: number,
    keep: number,
  ): Promise<SavedReport>;
  /** the user's deliveries, newest first (by seq), filtered */
  listUserDeliveries(userId: string, filter: DeliveryListFilter): Promise<DeviceDeliveryRecord[]>;
  /** the Overview's aggregates (STATS_SQL) over the user's devices' attempts and messages */
  activityStats(userId: string, window: StatsWindow): Promise<StatsRows>;
  /** undefined when the user has no such delivery (another user's is not found either) */
  getUserDelivery(userId: string, id: string): Promise<DeliveryDetail | undefined>;
  /**
   * Remove up to `limit` of the user's finished deliveries (not pending) that the server last
   * stored before `cutoff` (Unix ms), with their attempts; returns how many went.
   */
  purgeExpired(userId: string, cutoff: number, limit: number): Promise<number>;
}
