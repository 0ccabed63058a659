import type { Health } from '../../protocol/index.ts';
import type { DeviceEvents } from '../events.ts';
import type { MobileClient } from './mobile-client.ts';

/**
 * Keeps the server's view of the device fresh: its health document (the one `GET /health`
 * serves, queue depth included) on every (re)connect and every `intervalMs`, and a ping to the
 * server whenever the device emits `system:ping`. Best effort: a missed report is replaced by the
 * next one.
 */
export class HealthReporter {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private stopped = false;
  private offPing: (() => void) | undefined;

  constructor(
    private readonly deps: {
      client: Pick<MobileClient, 'reportHealth' | 'ping'>;
      health: () => Health;
      events: Pick<DeviceEvents, 'onEvent'>;
      /** default 30 s */
      intervalMs?: number;
      log: (line: string) => void;
    },
  ) {}

  start(): void {
    const { client, events, log } = this.deps;
    this.offPing = events.onEvent((event) => {
      if (event.event === 'system:ping') client.ping().catch((error) => log(`ping failed: ${error.message}`));
    });
    this.timer = setInterval(() => this.report(), this.deps.intervalMs ?? 30_000);
    this.timer.unref();
  }

  /** Send the health document now, unless one is on its way. */
  report(): void {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    this.deps.client
      .reportHealth(this.deps.health())
      .catch((error) => this.deps.log(`health report failed: ${error.message}`))
      .finally(() => (this.inFlight = false));
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.offPing?.();
  }
}
