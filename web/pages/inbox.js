// Inbox: what the phone received (SMS, data SMS, MMS with its parts to download), paged in SQL,
// and the refresh, which announces again what was received in a window, as webhooks.
import { useState } from '../hooks.mjs';
import { INCOMING_MESSAGE_TYPES, WEBHOOK_DELIVERY_MODES } from '../vocabulary.js';
import { api, runtime } from '../runtime.js';
import { ErrorBox, OffsetPager, html, isoOf, plural, time, useDevices, useLatestPage } from '../ui.js';

const PAGE_SIZE = 20;
const DAY_MS = 24 * 60 * 60_000;

/** A Date as a datetime-local value in the browser's time zone. */
const localValue = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

function kib(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function RefreshForm() {
  const devices = useDevices();
  const now = new Date();
  const [form, setForm] = useState({
    since: localValue(new Date(now.getTime() - DAY_MS)),
    until: localValue(new Date(now.getTime() + 60_000)),
    types: ['SMS'],
    webhookDelivery: 'Individual',
    deviceId: '',
  });
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState();
  const [error, setError] = useState();
  const toggle = (type) =>
    setForm({
      ...form,
      types: form.types.includes(type) ? form.types.filter((t) => t !== type) : [...form.types, type],
    });
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setOutcome(undefined);
    try {
      const reply = await api('POST', '/inbox/refresh', {
        since: isoOf(form.since),
        until: isoOf(form.until),
        messageTypes: form.types, // none ticked: the API's answer says what it needs
        webhookDelivery: form.webhookDelivery,
        ...(form.deviceId ? { deviceId: form.deviceId } : {}),
      });
      setOutcome(runtime.refreshOutcome(reply));
      setError(undefined);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="inline card" onSubmit=${submit} aria-label="inbox refresh" data-testid="refresh-form">
      <h3 class="card-title form-title">Refresh: announce received messages again</h3>
      <label>from<input type="datetime-local" name="since" required value=${form.since} onInput=${(e) => setForm({ ...form, since: e.target.value })} /></label>
      <label>to<input type="datetime-local" name="until" required value=${form.until} onInput=${(e) => setForm({ ...form, until: e.target.value })} /></label>
      <label>as<select name="webhookDelivery" value=${form.webhookDelivery} onChange=${(e) => setForm({ ...form, webhookDelivery: e.target.value })}>
        ${WEBHOOK_DELIVERY_MODES.map((m) => html`<option value=${m}>${m === 'Individual' ? 'Individual (one webhook each)' : m === 'Batch' ? 'Batch (up to 100 per webhook)' : 'Disabled (no webhooks)'}</option>`)}
      </select></label>
      ${
        runtime.manyDevices
          ? html`<label>device<select name="deviceId" value=${form.deviceId} onChange=${(e) => setForm({ ...form, deviceId: e.target.value })}>
            <option value="">all of your devices</option>${devices.map((d) => html`<option value=${d.id}>${d.name ?? d.id}</option>`)}
          </select></label>`
          : null
      }
      <fieldset class="checks-inline full">
        <legend class="small muted">message types</legend>
        ${INCOMING_MESSAGE_TYPES.map(
          (type) =>
            html`<label class="check"><input type="checkbox" name="type" value=${type} checked=${form.types.includes(type)} onChange=${() => toggle(type)} /> ${type}</label>`,
        )}
      </fieldset>
      <button type="submit" disabled=${busy}>Refresh inbox</button>
      <div class="full">
        <${ErrorBox} error=${error} />
        ${outcome ? html`<div class="note small flush" role="status" data-testid="refresh-outcome">${outcome}</div>` : null}
      </div>
    </form>`;
}

function InboxRow({ message }) {
  return html`
    <div class="list-row" data-testid="inbox-message" data-message-id=${message.id}>
      <div class="row">
        <span class="badge type-${message.type.toLowerCase()}" data-testid="inbox-type">${message.type}</span>
        <strong class="mono">${message.sender}</strong>
        <span class="small muted">${time(message.createdAt)}</span>
        ${message.simNumber ? html`<span class="small muted">SIM ${message.simNumber}</span>` : null}
      </div>
      <div class="wrap ${message.type === 'DATA_SMS' ? 'mono' : ''}" data-testid="inbox-preview">${message.contentPreview || html`<span class="muted">(empty)</span>`}</div>
      ${
        message.attachments?.length
          ? html`<ul class="attachments">
              ${message.attachments.map(
                (part) =>
                  html`<li><a href=${part.url} download=${part.name} data-testid="attachment">${part.name}</a> <span class="small muted">${part.contentType} · ${kib(part.size)}</span></li>`,
              )}
            </ul>`
          : null
      }
    </div>`;
}

function InboxList() {
  const [type, setType] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState();
  const [error, setError] = useState();
  const [tick, setTick] = useState(0);
  useLatestPage(
    () => {
      const query = new URLSearchParams({
        limit: String(PAGE_SIZE),
        offset: String(offset),
        includeAttachments: 'true',
      });
      if (type) query.set('type', type);
      return runtime.listInbox(`/inbox?${query}`);
    },
    (p) => (setPage(p), setError(undefined)),
    setError,
    [type, offset, tick],
  );
  return html`
    <div class="card" data-testid="inbox-list">
      <h3 class="card-title">Received</h3>
      <div class="filters" role="group" aria-label="inbox filters">
        <select aria-label="type" name="inboxType" value=${type} onChange=${(e) => (setType(e.target.value), setOffset(0))}>
          <option value="">every type</option>${INCOMING_MESSAGE_TYPES.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
        <button class="secondary" onClick=${() => setTick((n) => n + 1)}>Reload</button>
      </div>
      <${ErrorBox} error=${error} />
      ${
        !page
          ? html`<p class="muted">Loading…</p>`
          : html`
            <p class="small muted" data-testid="inbox-count">${plural(page.total, 'message')} received</p>
            ${page.items.length === 0 ? html`<p class="muted">Nothing received${type ? ` of type ${type}` : ''}.</p>` : null}
            ${page.items.map((m) => html`<${InboxRow} key=${m.id} message=${m} />`)}
            <${OffsetPager} offset=${offset} count=${page.items.length} total=${page.total} pageSize=${PAGE_SIZE} onOffset=${setOffset} />`
      }
    </div>`;
}

export function InboxPage() {
  return html`
    <h2>Inbox</h2>
    ${runtime.inboxNote ? html`<div class="note small">${runtime.inboxNote}</div>` : null}
    <${RefreshForm} />
    ${runtime.inboxListed ? html`<${InboxList} />` : null}`;
}
