import type { DeviceSettings } from './settings.ts';

/**
 * Emits system:ping every `ping.interval_seconds` while that setting is set, and follows
 * changes to it without a restart.
 */
export class PingScheduler {
  private timer: NodeJS.Timeout | null = null;
  private intervalSeconds: number | null = null;

  constructor(
    private readonly settings: DeviceSettings,
    private readonly ping: () => void,
  ) {}

  start(): void {
    this.apply(this.settings.get().ping.interval_seconds);
    this.settings.onChange((s) => this.apply(s.ping.interval_seconds));
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private apply(seconds: number | null): void {
    if (this.stopped || seconds === this.intervalSeconds) return;
    this.clear();
    this.intervalSeconds = seconds;
    if (seconds) {
      this.timer = setInterval(this.ping, seconds * 1000);
      this.timer.unref();
    }
  }
}
