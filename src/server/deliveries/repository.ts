import type {
  AttemptOutcome,
  DeliveryRecord,
  EventName,
  ReportedAttempt,
  ReportedDelivery,
  StoredDeliveryState,
  WebhookSource,
} from '../../protocol/index.ts';

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
   * Store one device's report in one transaction: each delivery inserted, or replaced only by a
   * newer version (more attempts, or as many and a later updatedAt: the guard is in the SQL, so
   * reports arriving late or twice, through any node, never move a delivery back), each attempt
   * inserted once (attempts never change). Then the device's finished deliveries older than its
   * newest `keepPerDevice` are dropped with their attempts; pending ones only past
   * `keepPerDevice × PENDING_KEPT_FACTOR`. Deliveries must have distinct ids.
   */
  saveReport(
    deviceId: string,
    userId: string,
    deliveries: readonly ReportedDelivery[],
    now: number,
    keepPerDevice: number,
  ): Promise<SavedReport>;
  /** the user's deliveries, newest first (by seq), filtered */
  listUserDeliveries(userId: string, filter: DeliveryListFilter): Promise<DeviceDeliveryRecord[]>;
  /** undefined when the user has no such delivery (another user's is not found either) */
  getUserDelivery(
    userId: string,
    id: string,
  ): Promise<(DeviceDeliveryRecord & { attemptLog: DeviceAttemptRecord[] }) | undefined>;
}

/** A row as both stores return it. */
export interface DeviceDeliveryRow {
  seq: number;
  device_id: string;
  user_id: string;
  id: string;
  event_id: string;
  event: string;
  webhook_source: string;
  webhook_id: string;
  url: string;
  state: string;
  attempts: number;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  reported_at: number;
}

export interface DeviceAttemptRow {
  number: number;
  started_at: number;
  duration_ms: number;
  status: number | null;
  error: string | null;
  response_preview: string | null;
  outcome: string;
}

export const DEVICE_DELIVERY_COLUMNS =
  'seq, device_id, user_id, id, event_id, event, webhook_source, webhook_id, url, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, reported_at';
export const DEVICE_ATTEMPT_COLUMNS = 'number, started_at, duration_ms, status, error, response_preview, outcome';

export const toDeviceDelivery = (row: DeviceDeliveryRow): DeviceDeliveryRecord => ({
  seq: row.seq,
  deviceId: row.device_id,
  userId: row.user_id,
  id: row.id,
  eventId: row.event_id,
  event: row.event as EventName,
  webhookSource: row.webhook_source as WebhookSource,
  webhookId: row.webhook_id,
  url: row.url,
  state: row.state as DeviceDeliveryRecord['state'],
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  lastStatus: row.last_status,
  lastError: row.last_error,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  reportedAt: row.reported_at,
});

export const toDeviceAttempt = (row: DeviceAttemptRow): DeviceAttemptRecord => ({
  number: row.number,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  status: row.status,
  error: row.error,
  responsePreview: row.response_preview,
  outcome: row.outcome as AttemptOutcome,
});

/** The filter as a WHERE clause over named parameters (`:name` for SQLite; PostgreSQL renumbers them). */
export function deliveryListWhere(
  userId: string,
  filter: DeliveryListFilter,
): { where: string[]; params: Record<string, unknown> } {
  const where = ['user_id = :userId'];
  const params: Record<string, unknown> = { userId, limit: filter.limit };
  if (filter.state) (where.push('state = :state'), (params.state = filter.state));
  if (filter.event) (where.push('event = :event'), (params.event = filter.event));
  if (filter.webhookId) (where.push('webhook_id = :webhookId'), (params.webhookId = filter.webhookId));
  if (filter.deviceId) (where.push('device_id = :deviceId'), (params.deviceId = filter.deviceId));
  if (filter.before !== undefined) (where.push('seq < :before'), (params.before = filter.before));
  return { where, params };
}
