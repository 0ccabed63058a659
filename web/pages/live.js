// Live events: SMS events and delivery attempts from the page's one live stream, newest first.
import { runtime } from '../runtime.js';
import { deviceName, html, plural, statusClass, useDevices } from '../ui.js';

export function LivePage({ live }) {
  const devices = useDevices();
  // server frames name the device, and carry counts and ids where the device's carry lists and URLs
  const from = (data) =>
    runtime.manyDevices ? html`<span class="small muted"> on ${deviceName(devices, data.deviceId)}</span>` : null;
  const queued = (data) => data.deliveryIds?.length ?? data.deliveries;
  return html`
    <h2>Live events</h2>
    <p class="small muted">
      SMS events and delivery attempts, newest first, ${runtime.liveTiming}, over
      Server-Sent Events. ${live.connected ? 'Stream connected.' : 'Connecting…'}
    </p>
    <div class="card feed" data-testid="live-feed">
      ${live.items.length === 0 ? html`<p class="muted small">Nothing yet: ${runtime.liveEmptyHint}</p>` : null}
      ${live.items.map((item) =>
        item.kind === 'event'
          ? html`<div class="item" data-testid="live-event">
              <span class="small muted">${new Date(item.at).toLocaleTimeString()}</span>
              <div><span class="badge">${item.data.event}</span>
                ${item.data.payload?.phoneNumber ? html` <span class="mono">${item.data.payload.phoneNumber}</span>` : null}
                ${item.data.payload?.message ? html` “${item.data.payload.message}”` : null}
                ${from(item.data)}
                <div class="small muted">${plural(queued(item.data), 'delivery', 'deliveries')} queued</div></div>
            </div>`
          : html`<div class="item" data-testid="live-attempt">
              <span class="small muted">${new Date(item.at).toLocaleTimeString()}</span>
              <div><span class="badge ${item.data.outcome}">attempt ${item.data.attempt}: ${item.data.outcome}</span>
                <span class="badge ${statusClass(item.data.status)}">${item.data.status ?? item.data.error}</span>
                <span class="small muted"> ${item.data.durationMs} ms → ${
                  item.data.url
                    ? html`<span class="mono">${item.data.url}</span>`
                    : html`webhook <span class="mono">${item.data.webhookId}</span>`
                }</span>
                ${from(item.data)}</div>
            </div>`,
      )}
    </div>`;
}
