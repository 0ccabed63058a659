import type { Health } from '../protocol/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { Db } from './store/database.ts';
import type { MetaStore } from './store/meta.ts';
import type { Outbox } from './store/outbox.ts';
import type { WebhookStore } from './store/webhooks.ts';
import type { MessageStore } from './store/messages.ts';
import type { InboxStore } from './store/inbox.ts';
import type { InboxReplay } from './inbox-refresh.ts';
import type { DeviceSettings } from './settings.ts';
import type { DeviceEvents, DeviceIdentity } from './events.ts';
import type { Dispatcher } from './dispatch/dispatcher.ts';
import type { SmsService } from './sms-service.ts';
import type { VirtualCarrier } from './carrier/virtual-carrier.ts';
import type { NetworkState } from './network.ts';
import type { DeviceObservability } from './observability.ts';
import type { DiskSpaceGuard } from './store/disk-space.ts';
import type { RetentionPurger } from './store/retention.ts';
import type { DeviceLog } from './store/logs.ts';

/**
 * The device's parts, built once by `startDevice` (`runtime.ts`) and handed to the Local API. It
 * names the parts and nothing that uses them, so the route files depend on it without depending
 * on the composition root that imports them.
 */
export interface DeviceContext {
  db: Db;
  meta: MetaStore;
  outbox: Outbox;
  webhooks: WebhookStore;
  settings: DeviceSettings;
  events: DeviceEvents;
  dispatcher: Dispatcher;
  /** outgoing SMS and their states */
  sms: SmsService;
  messageStore: MessageStore;
  /** every message received (SMS, data SMS, MMS with their parts); they arrive through `carrier.receive` */
  inbox: InboxStore;
  /** inbox refresh: what was received, announced again */
  inboxReplay: InboxReplay;
  carrier: VirtualCarrier;
  network: NetworkState;
  identity: DeviceIdentity;
  clock: Clock;
  timeZone: string;
  deviceId: string;
  insecureHttp: boolean;
  logger: Logger;
  /** metrics, attempt log lines and the live feed of attempts */
  observability: DeviceObservability;
  /** whether new work is refused because the disk is full */
  diskSpace: DiskSpaceGuard;
  /** removes finished deliveries, events and messages past their retention */
  retention: RetentionPurger;
  /** the device's own log of what it did (`GET /logs`) */
  log: DeviceLog;
  health(): Health;
}
