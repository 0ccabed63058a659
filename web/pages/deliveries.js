// Deliveries: filtered, cursor-paginated in SQL; each delivery's attempt log and Redeliver.
import { useCallback, useEffect, useRef, useState } from '../hooks.mjs';
import { EVENT_NAMES } from '../vocabulary.js';
import { api, runtime } from '../runtime.js';
import { AttemptTable, ErrorBox, deviceName, html, plural, time, useDevices, useLatestPage } from '../ui.js';

const PAGE_SIZE = 20;

function DeliveryCard({ delivery, onChanged, refreshTick, devices }) {
  const [open, setOpen] = useState(false);
  const [detail, setDetail] = useState();
  const [error, setError] = useState();
  const [asked, setAsked] = useState();
  const loadDetail = useCallback(
    () => api('GET', `/deliveries/${encodeURIComponent(delivery.id)}`).then(setDetail, setError),
    [delivery.id],
  );
  useEffect(() => {
    if (open) loadDetail();
  }, [open, loadDetail, refreshTick, delivery.attempts, delivery.state]);
  const redeliver = async () => {
    try {
      const answer = await api('POST', `/deliveries/${encodeURIComponent(delivery.id)}/redeliver`);
      setError(undefined);
      setAsked(runtime.redeliverNote(deviceName(devices, answer?.deviceId)));
      setOpen(true);
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  return html`
    <div class="card" data-testid="delivery" data-delivery-id=${delivery.id}>
      <div class="row">
        <span class="badge ${delivery.state}" data-testid="delivery-state">${delivery.state}</span>
        <span class="badge">${delivery.event}</span>
        <span class="grow mono">${delivery.url}</span>
      </div>
      <div class="row small muted">
        <span>id <span class="mono">${delivery.id}</span></span>
        ${runtime.manyDevices ? html`<span data-testid="delivery-device">device ${deviceName(devices, delivery.deviceId)}</span>` : null}
        <span>webhook <span class="mono">${delivery.webhookId}</span> (${delivery.source})</span>
        <span>${plural(delivery.attempts, 'attempt')}</span>
        ${delivery.lastStatus != null ? html`<span>last status ${delivery.lastStatus}</span>` : null}
        ${delivery.lastError ? html`<span>last error: ${delivery.lastError}</span>` : null}
        ${delivery.nextAttemptAt ? html`<span>next attempt ${time(delivery.nextAttemptAt)}</span>` : null}
        <span>created ${time(delivery.createdAt)}</span>
      </div>
      <div class="row spaced">
        <button class="secondary" onClick=${() => setOpen(!open)} aria-expanded=${open}>${open ? 'Hide attempts' : 'Show attempts'}</button>
        <button onClick=${redeliver} disabled=${delivery.state === 'sending' || delivery.state === 'cancelled'}>Redeliver</button>
      </div>
      <${ErrorBox} error=${error} />
      ${asked ? html`<div class="note small" data-testid="redeliver-note">${asked}</div>` : null}
      ${open ? (detail ? html`<div class="spaced"><${AttemptTable} attempts=${detail.attemptLog} /></div>` : html`<p class="muted small">Loading…</p>`) : null}
    </div>`;
}

export function DeliveriesPage({ attemptTick }) {
  const [filter, setFilter] = useState({
    state: '',
    event: '',
    webhookId: '',
    ...(runtime.manyDevices ? { deviceId: '' } : {}),
  });
  const devices = useDevices();
  const [cursors, setCursors] = useState([null]); // cursor of each page seen: back = pop
  const [page, setPage] = useState();
  const [hooks, setHooks] = useState([]);
  const [error, setError] = useState();
  const [tick, setTick] = useState(0);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    runtime.webhookChoices().then(setHooks, setError);
  }, []);
  useLatestPage(
    () => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      for (const [key, value] of Object.entries(filter)) if (value) query.set(key, value);
      if (cursor) query.set('before', String(cursor));
      return api('GET', `/deliveries?${query}`);
    },
    (p) => (setPage(p), setError(undefined)),
    setError,
    [filter, cursor, tick],
  );
  // New attempts (live stream) refresh the page, at most once a second however many arrive.
  const timer = useRef();
  useEffect(() => {
    if (attemptTick === 0 || timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      setTick((n) => n + 1);
    }, 1000);
  }, [attemptTick]);
  useEffect(() => () => clearTimeout(timer.current), []);
  const setOne = (key) => (e) => {
    const value = e.target.value;
    setFilter((current) => ({ ...current, [key]: value }));
    setCursors([null]);
  };
  return html`
    <h2>Deliveries</h2>
    <div class="filters" role="group" aria-label="filters">
      <select aria-label="state" name="state" value=${filter.state} onChange=${setOne('state')}>
        <option value="">every state</option>${runtime.deliveryStates.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <select aria-label="event" name="event" value=${filter.event} onChange=${setOne('event')}>
        <option value="">every event</option>${EVENT_NAMES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <select aria-label="webhook" name="webhookId" value=${filter.webhookId} onChange=${setOne('webhookId')}>
        <option value="">every webhook</option>${hooks.map((w) => html`<option value=${w.id}>${w.id} (${w.source}, ${w.event})</option>`)}
      </select>
      ${
        runtime.manyDevices
          ? html`<select aria-label="device" name="deviceId" value=${filter.deviceId} onChange=${setOne('deviceId')}>
            <option value="">every device</option>${devices.map((d) => html`<option value=${d.id}>${d.name ?? d.id}</option>`)}
          </select>`
          : null
      }
      <button class="secondary" onClick=${() => setTick((n) => n + 1)}>Refresh</button>
    </div>
    <${ErrorBox} error=${error} />
    ${
      !page
        ? html`<p class="muted">Loading…</p>`
        : html`
          ${page.items.length === 0 ? html`<p class="muted">No deliveries match.</p>` : null}
          ${page.items.map((d) => html`<${DeliveryCard} key=${d.id} delivery=${d} devices=${devices} refreshTick=${tick} onChanged=${() => setTick((n) => n + 1)} />`)}
          <div class="pager">
            <span class="small muted">page ${cursors.length}</span>
            <button class="secondary" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
            <button class="secondary" disabled=${!page.nextCursor} onClick=${() => setCursors([...cursors, page.nextCursor])}>Older</button>
          </div>`
    }`;
}
