import type { Health } from '../../protocol/index.ts';
import { parsePushEvent, type PushEvent, type PushEventData } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Dispatcher as HttpDispatcher } from 'undici';
import type { Dispatcher } from '../dispatch/dispatcher.ts';
import type { DeviceEvents, DeviceIdentity } from '../events.ts';
import type { DeviceObservability } from '../observability.ts';
import type { DeviceSettings } from '../settings.ts';
import type { SmsService } from '../sms-service.ts';
import type { MessageStore } from '../store/messages.ts';
import type { MetaStore } from '../store/meta.ts';
import type { Outbox } from '../store/outbox.ts';
import type { WebhookStore } from '../store/webhooks.ts';
import { ActivityLink } from './activity-link.ts';
import { parseExportRequest, type InboxReplay } from '../inbox-refresh.ts';
import { ConfigSync } from './config-sync.ts';
import { HealthReporter } from './health-reporter.ts';
import { MessageSync } from './message-sync.ts';
import { MobileClient, type EventStream, type MobileEvent } from './mobile-client.ts';
import { ensureRegistration, type StoredRegistration } from './registration.ts';

export interface LinkOptions {
  /** the server's base URL, e.g. http://127.0.0.1:3000 */
  serverUrl: string;
  /** the private token of a private server (registers a new user) */
  privateToken?: string;
  /** attach to an existing server user instead of creating one */
  login?: string;
  password?: string;
  name?: string;
  /** how often the device's health (queue depth among it) is sent to the server, ms; default 30 s */
  healthIntervalMs?: number;
  /** at most one webhook activity report per this long, ms; default 500 */
  activityIntervalMs?: number;
  /** SSE reconnect backoff bounds, ms (tests shorten them) */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  log?: (line: string) => void;
  /** how the link's requests go out (default: shared kept-alive connections); e.g. one that trusts a private CA */
  dispatcher?: HttpDispatcher;
}

/** The parts of the device the link works with. */
export interface LinkedDevice {
  deviceId: string;
  meta: MetaStore;
  identity: Pick<DeviceIdentity, 'setCloudDeviceId'>;
  sms: SmsService;
  messageStore: MessageStore;
  webhooks: WebhookStore;
  settings: DeviceSettings;
  events: DeviceEvents;
  outbox: Outbox;
  dispatcher: Dispatcher;
  observability: DeviceObservability;
  clock: Clock;
  timeZone: string;
  inboxReplay: InboxReplay;
  health(): Health;
}

/**
 * Private/Cloud mode on the device: registers with the server (once; the registration is kept),
 * holds the push stream and hands each push to the part it concerns: the Cloud messages
 * (`message-sync.ts`), the Cloud webhook list and settings (`config-sync.ts`), the health report
 * (`health-reporter.ts`) and the activity report (`activity-link.ts`).
 *
 * Pushes say "something changed": the device then pulls (a new message usually comes with its push,
 * and needs no pull). Every (re)connect pulls everything, so a push missed while disconnected is
 * never a lost message or webhook.
 */
export class DeviceLink {
  private stream: EventStream | undefined;
  private stopped = false;
  private messages: MessageSync | undefined;
  private config: ConfigSync | undefined;
  private healthReporter: HealthReporter | undefined;
  private activity: ActivityLink | undefined;
  registration!: StoredRegistration;
  /** the new user's password, when this start created one */
  createdPassword: string | undefined;

  constructor(
    private readonly device: LinkedDevice,
    private readonly options: LinkOptions,
  ) {}

  private readonly log = (line: string): void => {
    (this.options.log ?? ((l: string) => process.stderr.write(`link: ${l}\n`)))(line);
  };

  async start(): Promise<void> {
    const { device, options, log } = this;
    const { registration, createdPassword } = await ensureRegistration(device.meta, {
      serverUrl: options.serverUrl,
      privateToken: options.privateToken,
      login: options.login,
      password: options.password,
      name: options.name ?? `smsgate-${device.deviceId.slice(0, 6)}`,
      dispatcher: options.dispatcher,
    });
    this.registration = registration;
    this.createdPassword = createdPassword;
    device.identity.setCloudDeviceId(registration.id);
    const client = new MobileClient(options.serverUrl, registration.token, { dispatcher: options.dispatcher });

    const { sms, messageStore, webhooks, settings, events, clock, timeZone } = device;
    this.messages = new MessageSync({
      client,
      sms,
      messageStore,
      clock,
      timeZone,
      log,
      order: () => settings.get().messages.processing_order,
    });
    this.config = new ConfigSync({ client, webhooks, settings, clock, log });
    this.healthReporter = new HealthReporter({
      client,
      health: () => device.health(),
      events,
      intervalMs: options.healthIntervalMs,
      log,
    });
    this.activity = new ActivityLink({
      client,
      outbox: device.outbox,
      webhooks,
      events,
      observability: device.observability,
      dispatcher: device.dispatcher,
      health: () => device.health(),
      clock,
      intervalMs: options.activityIntervalMs,
      log,
    });
    this.messages.start();
    this.healthReporter.start();
    this.activity.start();

    await this.syncAll().catch((error) => log(`first sync failed (will retry on connect): ${error.message}`));
    this.stream = client.openEvents((event) => this.onPush(event), {
      onOpen: () => this.syncAll(),
      onError: (error, info) => {
        if (!this.stopped && info.retryInMs > 0)
          log(`event stream: ${error.message}; reconnecting in ${info.retryInMs} ms`);
      },
      ...options.reconnect,
    });
  }

  /** Cut the push connection as a network failure would (tests). */
  dropConnection(): void {
    this.stream?.dropConnection();
  }

  get connected(): boolean {
    return this.stream?.connected ?? false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.healthReporter?.stop();
    // Both stop taking new work at once; what is on its way is awaited after the stream is closed.
    const parts = Promise.all([this.messages?.stop(), this.activity?.stop()]);
    await this.stream?.close();
    await parts;
  }

  private onPush(frame: MobileEvent): void {
    const event = parsePushEvent(frame.type, frame.data);
    if (!event) return; // a push this device does not know (a newer server), or a request it cannot read
    this.handle(event).catch((error) => this.log(`${event.type}: ${error.message}`));
  }

  private async handle(event: PushEvent): Promise<void> {
    switch (event.type) {
      case 'WebhooksUpdated':
        return this.config!.syncWebhooks();
      case 'SettingsUpdated':
        return this.config!.syncSettings();
      case 'MessageEnqueued':
        // a server that sends the message with the push saves the device a pull
        return event.data.message ? this.messages!.takePushed(event.data.message) : this.messages!.pull(event.data.id);
      case 'DeliveryRedeliverRequested':
        return this.activity!.redeliver(event.data.id);
      case 'MessagesExportRequested':
        return this.refreshInbox(event.data);
      case 'WebhookTestRequested':
        return this.activity!.sendTest(event.data.id);
      case 'MessageCancelled':
        return this.messages!.cancel(event.data.messageId);
      default:
        event satisfies never; // a push type added to the protocol needs its handler here
    }
  }

  /** The server asks for an inbox refresh: the same as the Local API's `POST /inbox/refresh`. */
  private async refreshInbox(data: PushEventData<'MessagesExportRequested'>): Promise<void> {
    const request = parseExportRequest(data);
    if (typeof request === 'string') return this.log(`MessagesExportRequested ignored: ${request}`);
    const outcome = await this.device.inboxReplay.refresh(request);
    this.log(`inbox refresh: ${outcome.messages} message(s), ${outcome.events} event(s)`);
  }

  /** After every (re)connect: pull everything, report everything. */
  private async syncAll(): Promise<void> {
    await Promise.all([this.config!.syncWebhooks(), this.config!.syncSettings()]);
    await this.messages!.pull();
    this.messages!.scheduleReport();
    this.healthReporter!.report();
    this.activity!.resync();
  }
}
