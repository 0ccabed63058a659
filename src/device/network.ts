/**
 * The device's own view of connectivity, the way a phone knows it has internet. On the virtual
 * carrier it is simulated (POST /sim/v1/network); nothing ever probes a public host.
 */
export class NetworkState {
  private online = true;
  private readonly listeners: ((online: boolean) => void)[] = [];

  isOnline(): boolean {
    return this.online;
  }

  set(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    for (const listener of this.listeners) listener(online);
  }

  onChange(listener: (online: boolean) => void): void {
    this.listeners.push(listener);
  }
}
