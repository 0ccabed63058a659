// Messages: outgoing messages with each recipient's state, filtered by state, device and time,
// paged in SQL (offset, X-Total-Count); a Pending one can be cancelled.
import { useState } from '../hooks.mjs';
import { MESSAGE_STATES } from '../vocabulary.js';
import { runtime } from '../runtime.js';
import { ErrorBox, OffsetPager, deviceName, html, isoOf, time, useDevices, useLatestPage } from '../ui.js';

const PAGE_SIZE = 20;

function MessageCard({ message, devices, onChanged }) {
  const [error, setError] = useState();
  const [busy, setBusy] = useState(false);
  const cancel = async () => {
    setBusy(true);
    try {
      await runtime.cancelMessage(message.id);
      setError(undefined);
    } catch (e) {
      setError(e); // kept across the reload: the card is keyed by the message's id
    } finally {
      setBusy(false);
      onChanged(); // either way, show the state the message is in now
    }
  };
  return html`
    <div class="card" data-testid="message" data-message-id=${message.id}>
      <div class="row">
        <span class="badge ${message.state.toLowerCase()}" data-testid="message-state">${message.state}</span>
        <span class="grow">${message.textMessage ? `“${message.textMessage.text}”` : html`<span class="muted">${message.isHashed ? '(hashed: only a digest of the text and numbers is kept)' : '(text not shown)'}</span>`}</span>
        ${
          message.state === 'Pending'
            ? html`<button class="danger" onClick=${cancel} disabled=${busy} aria-label=${`Cancel message ${message.id}`}>Cancel</button>`
            : null
        }
      </div>
      <${ErrorBox} error=${error} />
      <div class="row small muted">
        <span>id <span class="mono">${message.id}</span></span>
        ${runtime.manyDevices ? html`<span data-testid="message-device">device ${deviceName(devices, message.deviceId)}</span>` : null}
        ${Object.entries(message.states ?? {}).map(([state, at]) => html`<span>${state} ${time(at)}</span>`)}
      </div>
      <table class="recipients">
        <thead><tr><th>recipient</th><th>state</th><th>error</th></tr></thead>
        <tbody>
          ${message.recipients.map(
            (r) => html`<tr data-testid="recipient-row">
              <td class="mono" data-label="recipient">${r.phoneNumber}</td>
              <td data-label="state"><span class="badge ${r.state.toLowerCase()}" data-testid="recipient-state">${r.state}</span></td>
              <td data-label="error">${r.error ?? ''}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
}

export function MessagesPage() {
  const devices = useDevices();
  const [filter, setFilter] = useState({ state: '', deviceId: '', from: '', to: '' });
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState();
  const [error, setError] = useState();
  const [tick, setTick] = useState(0);
  useLatestPage(
    () => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset), includeContent: 'true' });
      if (filter.state) query.set('state', filter.state);
      if (filter.deviceId) query.set('deviceId', filter.deviceId);
      if (filter.from) query.set('from', isoOf(filter.from));
      if (filter.to) query.set('to', isoOf(filter.to));
      return runtime.listMessages(`${runtime.messagesPath}?${query}`);
    },
    (p) => (setPage(p), setError(undefined)),
    setError,
    [filter, offset, tick],
  );
  const setOne = (key) => (e) => {
    const value = e.target.value;
    setFilter((current) => ({ ...current, [key]: value }));
    setOffset(0);
  };
  return html`
    <h2>Messages</h2>
    <div class="filters" role="group" aria-label="filters">
      <select aria-label="state" name="state" value=${filter.state} onChange=${setOne('state')}>
        <option value="">every state</option>${MESSAGE_STATES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      ${
        runtime.manyDevices
          ? html`<select aria-label="device" name="deviceId" value=${filter.deviceId} onChange=${setOne('deviceId')}>
            <option value="">every device</option>${devices.map((d) => html`<option value=${d.id}>${d.name ?? d.id}</option>`)}
          </select>`
          : null
      }
      <label class="small">from <input type="datetime-local" name="from" value=${filter.from} onChange=${setOne('from')} /></label>
      <label class="small">to <input type="datetime-local" name="to" value=${filter.to} onChange=${setOne('to')} /></label>
      <button class="secondary" onClick=${() => setTick((n) => n + 1)}>Refresh</button>
    </div>
    <${ErrorBox} error=${error} />
    ${
      !page
        ? html`<p class="muted">Loading…</p>`
        : html`
          <p class="small muted" data-testid="message-count">${page.total} message${page.total === 1 ? '' : 's'} match</p>
          ${page.items.length === 0 ? html`<p class="muted">No messages match.</p>` : null}
          ${page.items.map((m) => html`<${MessageCard} key=${m.id} message=${m} devices=${devices} onChanged=${() => setTick((n) => n + 1)} />`)}
          <${OffsetPager} offset=${offset} count=${page.items.length} total=${page.total} pageSize=${PAGE_SIZE} onOffset=${setOffset} />`
    }`;
}
