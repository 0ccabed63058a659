// Devices: the device itself, or (server) every device of the user with the health it reports.
import { useCallback, useEffect, useState } from '../hooks.mjs';
import { runtime } from '../runtime.js';
import { ErrorBox, HealthBadge, HealthChecks, ago, html, time } from '../ui.js';

function DeviceCard({ card }) {
  const checks = card.health?.checks ?? {};
  const facts = card.facts ?? [
    `last seen ${ago(card.lastSeen)} (${time(card.lastSeen)})`,
    `registered ${time(card.createdAt)}`,
  ];
  return html`
    <div class="card" data-testid="device-row">
      <div class="row">
        <strong class="grow">${card.title} <span class="mono muted">${card.id}</span></strong>
        ${card.onlineBadge ? html`<span class="badge ${card.online ? 'online' : 'offline'}">${card.online ? 'online' : 'offline'}</span>` : null}
        <${HealthBadge} health=${card.health} />
      </div>
      <div class="row small muted">${facts.map((fact) => html`<span>${fact}</span>`)}</div>
      ${
        card.queueDepth === undefined
          ? html`<div class="small muted spaced">queue depth: not reported yet (the device sends its health when it connects)</div>`
          : html`<div class="row spaced">
              <span>queue depth: <strong data-testid="queue-depth">${card.queueDepth}</strong></span>
              <span class="small muted">${
                card.queueDetail ??
                `failed deliveries ${card.failedDeliveries ?? '?'} · health reported ${ago(card.health.reportedAt)} · version ${card.health.version}`
              }</span>
            </div>
            ${
              card.checksOpen
                ? html`<h3>Health checks</h3><${HealthChecks} checks=${checks} />`
                : html`<details class="small"><summary>Health checks</summary><${HealthChecks} checks=${checks} /></details>`
            }`
      }
    </div>`;
}

export function DevicesPage() {
  const [cards, setCards] = useState();
  const [error, setError] = useState();
  const load = useCallback(() => {
    runtime.listDevices().then(setCards, setError);
  }, []);
  useEffect(() => {
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [load]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!cards) return html`<p class="muted">Loading…</p>`;
  return html`
    <h2>Devices</h2>
    ${runtime.devicesNote ? html`<div class="note small">${runtime.devicesNote}</div>` : null}
    ${cards.length === 0 ? html`<p class="muted">No devices yet: start one with <span class="mono">smsgate device --server …</span></p>` : null}
    ${cards.map((card) => html`<${DeviceCard} key=${card.id} card=${card} />`)}`;
}
