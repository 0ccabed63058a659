import type { Health } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Dispatcher } from '../dispatch/dispatcher.ts';
import type { DeviceEvents } from '../events.ts';
import type { DeviceObservability } from '../observability.ts';
import type { Outbox } from '../store/outbox.ts';
import type { WebhookStore } from '../store/webhooks.ts';
import { ActivityReporter } from './activity-reporter.ts';
import type { MobileClient } from './mobile-client.ts';

/**
 * The activity report while linked: wires the reporter to every event recorded, every finished
 * attempt, every change of the Local webhook list and every delivery cancelled with its webhook,
 * and serves the server's redelivery
 * requests (`DeliveryRedeliverRequested`).
 */
export class ActivityLink {
  readonly reporter: ActivityReporter;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly deps: {
      client: Pick<MobileClient, 'reportActivity'>;
      outbox: Pick<Outbox, 'listDeliveries' | 'getDelivery'>;
      webhooks: Pick<WebhookStore, 'list' | 'onChange' | 'get'>;
      events: Pick<DeviceEvents, 'onEvent' | 'emitTo'>;
      /** the health document a test event carries */
      health: () => Health;
      observability: Pick<DeviceObservability, 'onAttempt'>;
      dispatcher: Pick<Dispatcher, 'redeliver'>;
      clock: Clock;
      /** at most one report per this long, ms; default 500 */
      intervalMs?: number;
      log: (line: string) => void;
    },
  ) {
    this.reporter = new ActivityReporter({
      outbox: deps.outbox,
      webhooks: deps.webhooks,
      clock: deps.clock,
      send: (report) => deps.client.reportActivity(report),
      log: deps.log,
      intervalMs: deps.intervalMs,
    });
  }

  start(): void {
    const { events, observability, webhooks } = this.deps;
    const reporter = this.reporter;
    this.unsubscribe.push(
      events.onEvent((event) => reporter.noteEvent(event)),
      observability.onAttempt((notice) => reporter.noteAttempt(notice)),
      webhooks.onChange((source, cancelledDeliveryIds) => {
        if (source === 'Local') reporter.noteLocalWebhooksChanged();
        for (const id of cancelledDeliveryIds) reporter.noteDelivery(id);
      }),
    );
    reporter.start();
  }

  /** After a (re)connect: report the Local list and the newest deliveries again. */
  resync(): void {
    this.reporter.resync();
  }

  /**
   * The server's dashboard asked to send a delivery again: queue it as the Local API's redeliver
   * does. The new attempt reaches the server with the next activity report.
   */
  redeliver(id: string): void {
    const outcome = this.deps.dispatcher.redeliver(id);
    if (outcome === 'queued') {
      this.reporter.noteDelivery(id);
      return;
    }
    const why = {
      sending: 'it is being sent right now; ask again when the attempt has finished',
      cancelled: 'it was cancelled (its webhook was deleted or replaced)',
      unknown: 'no such delivery on this device',
    }[outcome];
    this.deps.log(`redelivery of ${id} asked by the server: ${why}`);
  }

  /**
   * The server's dashboard asked for a test event to its Cloud webhook: a system:ping through the
   * outbox, as the Local API's test does; its delivery reaches the server with the next report.
   */
  sendTest(webhookId: string): void {
    const hook = this.deps.webhooks.get('Cloud', webhookId);
    if (!hook) {
      this.deps.log(
        `test event for Cloud webhook ${webhookId} asked by the server: this device does not have it (yet)`,
      );
      return;
    }
    this.deps.events.emitTo('system:ping', { health: this.deps.health() }, [hook]);
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.reporter.stop();
  }
}
