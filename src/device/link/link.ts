import type { DeviceContext } from '../runtime.ts';
import { DEFAULT_SETTINGS, isEventName, SettingsSchema, type Settings } from '../../protocol/index.ts';
import {
  MobileApiError,
  MobileClient,
  register,
  type MessageReport,
  type MobileEvent,
  type MobileSettings,
  type EventStream,
} from './mobile-client.ts';
import { Value } from '@sinclair/typebox/value';
import { ActivityReporter } from './activity-reporter.ts';
import { formatInZone } from '../time-format.ts';

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
}

interface StoredRegistration {
  serverUrl: string;
  id: string;
  token: string;
  login: string;
}

/**
 * Private/Cloud mode on the device: registers with the server (once; the registration is kept),
 * holds the push stream, and keeps the Cloud webhook list, settings and Cloud messages in sync.
 *
 * Pushes only say "something changed": the device then pulls. Every (re)connect pulls everything,
 * so a push missed while disconnected is never a lost message or webhook.
 */
export class DeviceLink {
  private client!: MobileClient;
  private stream: EventStream | undefined;
  private reporting: Promise<void> | undefined;
  private reportAgain = false;
  private stopped = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private healthInFlight = false;
  private reporter: ActivityReporter | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  registration!: StoredRegistration;
  /** the new user's password, when this start created one */
  createdPassword: string | undefined;

  constructor(
    private readonly ctx: DeviceContext,
    private readonly options: LinkOptions,
  ) {}

  private log(line: string): void {
    (this.options.log ?? ((l: string) => process.stderr.write(`link: ${l}\n`)))(line);
  }

  async start(): Promise<void> {
    const { meta } = this.ctx;
    const stored = meta.getJson<StoredRegistration>('link_registration');
    // A kept registration is reused while the server still accepts its token, even if the server's
    // address changed; a server that no longer knows it (401) gets a fresh registration.
    if (stored && (await this.stillRegistered(stored))) {
      this.registration = { ...stored, serverUrl: this.options.serverUrl };
      meta.setJson('link_registration', this.registration);
    } else {
      const created = await register(this.options.serverUrl, {
        privateToken: this.options.privateToken,
        basicAuth:
          this.options.login !== undefined && this.options.password !== undefined
            ? { login: this.options.login, password: this.options.password }
            : undefined,
        name: this.options.name ?? `smsgate-${this.ctx.deviceId.slice(0, 6)}`,
      });
      this.registration = {
        serverUrl: this.options.serverUrl,
        id: created.id,
        token: created.token,
        login: created.login,
      };
      this.createdPassword = created.password;
      meta.setJson('link_registration', this.registration);
    }
    this.ctx.identity.setCloudDeviceId(this.registration.id);
    this.client = new MobileClient(this.options.serverUrl, this.registration.token);

    this.ctx.sms.onStateChange(() => this.scheduleReport());
    this.ctx.events.onEvent((event) => {
      if (event.event === 'system:ping') this.client.ping().catch((error) => this.log(`ping failed: ${error.message}`));
    });
    this.healthTimer = setInterval(() => this.reportHealth(), this.options.healthIntervalMs ?? 30_000);
    this.healthTimer.unref();
    const reporter = (this.reporter = new ActivityReporter({
      outbox: this.ctx.outbox,
      webhooks: this.ctx.webhooks,
      clock: this.ctx.clock,
      send: (report) => this.client.reportActivity(report),
      log: (line) => this.log(line),
      intervalMs: this.options.activityIntervalMs,
    }));
    this.unsubscribe.push(
      this.ctx.events.onEvent((event) => reporter.noteEvent(event)),
      this.ctx.observability.onAttempt((notice) => reporter.noteAttempt(notice)),
      this.ctx.webhooks.onChange((source) => source === 'Local' && reporter.noteLocalWebhooksChanged()),
    );
    reporter.start();

    await this.syncAll().catch((error) => this.log(`first sync failed (will retry on connect): ${error.message}`));
    this.stream = this.client.openEvents((event) => this.onPush(event), {
      onOpen: () => this.syncAll(),
      onError: (error, info) => {
        if (!this.stopped && info.retryInMs > 0)
          this.log(`event stream: ${error.message}; reconnecting in ${info.retryInMs} ms`);
      },
      ...this.options.reconnect,
    });
  }

  private async stillRegistered(stored: StoredRegistration): Promise<boolean> {
    try {
      await new MobileClient(this.options.serverUrl, stored.token).getDevice();
      return true;
    } catch (error) {
      if (error instanceof MobileApiError && (error.status === 401 || error.status === 403 || error.status === 404))
        return false;
      throw error;
    }
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
    clearInterval(this.healthTimer);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.stream?.close();
    await Promise.all([this.reporting, this.reporter?.stop()]);
  }

  private onPush(event: MobileEvent): void {
    const job =
      event.type === 'WebhooksUpdated'
        ? this.syncWebhooks()
        : event.type === 'MessageEnqueued'
          ? this.pullMessages()
          : event.type === 'SettingsUpdated'
            ? this.syncSettings()
            : event.type === 'DeliveryRedeliverRequested'
              ? this.redeliver(event.data)
              : undefined;
    job?.catch((error) => this.log(`${event.type}: ${error.message}`));
  }

  private async syncAll(): Promise<void> {
    await Promise.all([this.syncWebhooks(), this.syncSettings()]);
    await this.pullMessages();
    this.scheduleReport();
    this.reportHealth();
    this.reporter?.resync();
  }

  /**
   * The server's dashboard asked to send a delivery again: queue it as the Local API's redeliver
   * does. The new attempt reaches the server with the next activity report.
   */
  private async redeliver(data: unknown): Promise<void> {
    const id = (data as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') return;
    const outcome = this.ctx.dispatcher.redeliver(id);
    if (outcome === 'queued') {
      this.reporter?.noteDelivery(id);
      return;
    }
    this.log(
      `redelivery of ${id} asked by the server: ${outcome === 'sending' ? 'it is being sent right now; ask again when the attempt has finished' : 'no such delivery on this device'}`,
    );
  }

  /**
   * Send the health document (the one GET /health serves) so the server can show this device's
   * state and queue depth. Best effort: a missed report is replaced by the next one.
   */
  private reportHealth(): void {
    if (this.stopped || this.healthInFlight) return;
    this.healthInFlight = true;
    this.client
      .reportHealth(this.ctx.health())
      .catch((error) => this.log(`health report failed: ${error.message}`))
      .finally(() => (this.healthInFlight = false));
  }

  /** Replace the whole Cloud list with the server's, in one transaction. */
  async syncWebhooks(): Promise<void> {
    const hooks = await this.client.getWebhooks();
    const valid = hooks.filter((h) => isEventName(h.event));
    this.ctx.webhooks.replaceCloud(
      valid.map((h) => ({ id: h.id, url: h.url, event: h.event as never, deviceId: h.deviceId })),
      this.ctx.clock.now(),
    );
  }

  /** Apply what the user set on the server; null there means "back to the default". */
  async syncSettings(): Promise<void> {
    const remote = await this.client.getSettings();
    const patch = settingsPatchFrom(remote);
    if (!Value.Check(SettingsSchema, patch)) {
      this.log('the server sent settings this device does not understand; ignored');
      return;
    }
    if (Object.keys(patch).length > 0) this.ctx.settings.patch(patch);
  }

  /**
   * Take the messages waiting on the server and hand them to the carrier. One this device cannot
   * send (a SIM it does not have, an id its Local API already used) is reported Failed with the
   * reason at once: left Pending, it would be handed out again forever, and enough of them would
   * fill every pull and hold back the messages behind them.
   */
  async pullMessages(): Promise<void> {
    const pending = await this.client.pullMessages();
    const refused: MessageReport[] = [];
    for (const message of pending) {
      const taken = this.ctx.sms.get(message.id);
      if (taken?.source === 'Cloud') continue; // already taken, its state report is on its way
      const refuse = (reason: string) => {
        this.log(`message ${message.id} refused: ${reason}`);
        refused.push(
          failedReport(message.id, message.phoneNumbers, reason, formatInZone(this.ctx.clock.now(), this.ctx.timeZone)),
        );
      };
      if (taken) {
        refuse(
          `this device already has a message with id "${message.id}" (sent through its Local API); send it again with another id`,
        );
        continue;
      }
      try {
        this.ctx.sms.enqueue({
          id: message.id,
          text: message.message ?? message.textMessage?.text,
          phoneNumbers: message.phoneNumbers,
          simNumber: message.simNumber,
          withDeliveryReport: message.withDeliveryReport,
          validUntil: message.validUntil ? Date.parse(message.validUntil) : null,
          source: 'Cloud',
        });
      } catch (error) {
        refuse((error as Error).message);
      }
    }
    this.scheduleReport();
    // If this report is lost, the messages are still Pending on the server: the next pull hands
    // them out again and they are refused and reported again.
    if (refused.length > 0) await this.client.reportMessages(refused);
  }

  /** Report Cloud messages whose state changed; one report run at a time, re-run if more changed meanwhile. */
  private scheduleReport(): void {
    if (this.stopped) return;
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    this.reporting = this.reportChanged()
      .catch((error) => this.log(`state report failed (kept for the next one): ${error.message}`))
      .finally(() => {
        this.reporting = undefined;
        if (this.reportAgain) {
          this.reportAgain = false;
          this.scheduleReport();
        }
      });
  }

  private async reportChanged(): Promise<void> {
    const { sms, messageStore } = this.ctx;
    for (;;) {
      const unreported = messageStore.unreportedCloud(100);
      if (unreported.length === 0) return;
      const stamped = unreported.map(({ id, updatedAt }) => ({
        id,
        updatedAt,
        wire: sms.toWire(sms.get(id)!),
      }));
      const reports: MessageReport[] = stamped.map(({ wire }) => ({
        id: wire.id,
        state: wire.state,
        recipients: wire.recipients,
        states: wire.states,
      }));
      await this.client.reportMessages(reports);
      const now = this.ctx.clock.now();
      for (const { id, updatedAt } of stamped) messageStore.markReported(id, updatedAt, now);
    }
  }
}

/** The report of a message this device will not send: Failed, for every recipient, with the reason. */
function failedReport(id: string, phoneNumbers: readonly string[], reason: string, at: string): MessageReport {
  return {
    id,
    state: 'Failed',
    recipients: phoneNumbers.map((phoneNumber) => ({ phoneNumber, state: 'Failed', error: reason })),
    states: { Failed: at },
  };
}

/** Turn the server's settings (nulls meaning "default") into a patch for the device. */
export function settingsPatchFrom(remote: MobileSettings): Settings {
  const patch: Record<string, Record<string, unknown>> = {};
  const defaults = DEFAULT_SETTINGS as unknown as Record<string, Record<string, unknown>>;
  for (const [group, values] of Object.entries(remote ?? {})) {
    if (!values || typeof values !== 'object' || !(group in defaults)) continue;
    for (const [key, value] of Object.entries(values)) {
      if (!(key in defaults[group])) continue;
      const resolved = value === null ? defaults[group][key] : value;
      // A key whose default is "none" (null) is left out rather than sent as null where null is not allowed.
      if (resolved === null && group === 'webhooks') continue;
      (patch[group] ??= {})[key] = resolved;
    }
  }
  return patch as Settings;
}
