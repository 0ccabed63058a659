// The smsgate dashboard: Preact + htm as plain ES modules (no build step). The page is served
// behind the API's Basic auth, so the browser sends the same credentials with every fetch and
// with the EventSource (which cannot set headers itself).
import { h, render } from 'preact';
import { useEffect, useState, useCallback, useRef } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const MODE = document.querySelector('meta[name="smsgate-mode"]').content; // 'device' | 'server'
const API = MODE === 'server' ? '/3rdparty/v1' : '';
const EVENTS = ['sms:received', 'sms:sent', 'sms:delivered', 'sms:failed', 'system:ping'];
// The server's copy has no "sending": devices report an attempt once it has finished.
const STATES = MODE === 'server' ? ['pending', 'succeeded', 'failed'] : ['pending', 'sending', 'succeeded', 'failed'];
const PAGE_SIZE = 20;

async function api(method, path, body) {
  const response = await fetch(API + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new Error(data?.message ?? `${method} ${path}: HTTP ${response.status}`);
  return data;
}

const time = (value) => (value ? new Date(value).toLocaleString() : '—');
const ago = (value) => {
  if (!value) return 'never';
  const s = Math.round((Date.now() - new Date(value).getTime()) / 1000);
  return s < 60
    ? `${Math.max(s, 0)} s ago`
    : s < 3600
      ? `${Math.round(s / 60)} min ago`
      : `${Math.round(s / 3600)} h ago`;
};
const statusClass = (status) => (status == null ? 'error' : `s${String(status)[0]}xx`);

// ---- live stream: one EventSource for the whole page, so nothing is missed between pages. The
// device streams what it does; the server streams what its devices report (within about a second).

function useLiveStream() {
  const [items, setItems] = useState([]);
  const [connected, setConnected] = useState(false);
  const [attemptTick, setAttemptTick] = useState(0);
  useEffect(() => {
    const source = new EventSource(`${API}/events/stream`);
    let wasOpen = false;
    source.onopen = () => {
      setConnected(true);
      // back after a break: what happened meanwhile was not streamed, so the lists reload
      if (wasOpen) setAttemptTick((n) => n + 1);
      wasOpen = true;
    };
    source.onerror = () => setConnected(false);
    // Frames are batched and rendered at most four times a second, so a busy device (thousands of
    // attempts a second) does not re-render the page on every frame.
    let pending = [];
    let deliveriesChanged = false;
    let seq = 0;
    // A report sent again after its answer was lost repeats its events: show each once.
    const seen = new Set();
    const flush = setInterval(() => {
      if (pending.length > 0) {
        const batch = pending.reverse();
        pending = [];
        setItems((list) => [...batch, ...list].slice(0, 200));
      }
      if (deliveriesChanged) setAttemptTick((n) => n + 1);
      deliveriesChanged = false;
    }, 250);
    const add = (kind) => (message) => {
      const data = JSON.parse(message.data);
      // an attempt, or (server) a delivery that changed: the Deliveries page reloads
      if (kind !== 'event') deliveriesChanged = true;
      if (kind === 'delivery') return;
      const id = kind === 'event' ? data.eventId : `${data.deliveryId}/${data.attempt}`;
      if (seen.has(id)) return;
      seen.add(id);
      if (seen.size > 2000) seen.delete(seen.values().next().value);
      pending.push({ kind, data, key: `${kind}-${seq++}`, at: Date.now() });
      if (pending.length > 200) pending.splice(0, pending.length - 200);
    };
    source.addEventListener('event', add('event'));
    source.addEventListener('attempt', add('attempt'));
    source.addEventListener('delivery', add('delivery'));
    return () => (source.close(), clearInterval(flush));
  }, []);
  return { items, connected, attemptTick };
}

/** Server mode: the user's devices (id → name), for labels and filters. */
function useDevices() {
  const [devices, setDevices] = useState([]);
  useEffect(() => {
    if (MODE === 'server') api('GET', '/devices').then(setDevices, () => {});
  }, []);
  return devices;
}
const deviceName = (devices, id) => devices.find((d) => d.id === id)?.name ?? id;

/**
 * Server mode: every device's Local webhook list, as each last reported it. They are managed on
 * the devices; the server shows them.
 */
async function loadLocalLists(devices) {
  const byDevice = new Map((await api('GET', '/devices/webhooks')).map((list) => [list.deviceId, list]));
  return devices.map((device) => ({
    device,
    ...(byDevice.get(device.id) ?? { deviceId: device.id, reportedAt: null, webhooks: [] }),
  }));
}

// ---- pages

function ErrorBox({ error }) {
  return error ? html`<div class="error-box" role="alert">${String(error.message ?? error)}</div>` : null;
}

function HealthBadge({ health }) {
  if (!health) return html`<span class="badge">unknown</span>`;
  return html`<span class="badge ${health.status}">${health.status}</span>`;
}

/** One row per check; on a narrow screen each row stacks (name and status, then value, then description). */
function HealthChecks({ checks }) {
  return html`
    <table class="checks">
      <tbody>
        ${Object.entries(checks).map(
          ([name, check]) => html`<tr>
            <td class="mono">${name}</td>
            <td><span class="badge ${check.status}">${check.status}</span></td>
            <td>${check.observedValue} ${check.observedUnit}</td>
            <td class="muted wide">${check.description}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}

function DevicesPage() {
  const [data, setData] = useState();
  const [error, setError] = useState();
  const load = useCallback(() => {
    const request = MODE === 'device' ? api('GET', '/dashboard/overview') : api('GET', '/devices');
    request.then(setData, setError);
  }, []);
  useEffect(() => {
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [load]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">Loading…</p>`;
  if (MODE === 'device') {
    const { device, health, queue } = data;
    return html`
      <h2>Devices</h2>
      <div class="card" data-testid="device-row">
        <div class="row">
          <strong class="grow">This device <span class="mono">${device.id}</span></strong>
          <${HealthBadge} health=${health} />
        </div>
        <div class="row small muted">
          <span>last seen: now (this page is served by it)</span>
          <span>${device.cloudId ? html`linked to a server as <span class="mono">${device.cloudId}</span>` : 'Local mode (not linked)'}</span>
          <span>network: ${device.online ? 'online' : 'offline'}</span>
          <span>time zone: ${device.timeZone}</span>
        </div>
        <div class="row" style="margin-top:.5rem">
          <span>queue depth: <strong data-testid="queue-depth">${queue.pending + queue.sending}</strong></span>
          <span class="small muted">pending ${queue.pending} · sending ${queue.sending} · succeeded ${queue.succeeded} · failed ${queue.failed}</span>
        </div>
        <h3>Health checks</h3>
        <${HealthChecks} checks=${health.checks} />
      </div>`;
  }
  return html`
    <h2>Devices</h2>
    <div class="note small">Each linked device reports its health every 30 s and whenever it reconnects; queue depth is its
      webhook deliveries waiting or in flight. The devices deliver the webhooks and report what they did: see Deliveries and Live events.</div>
    ${data.length === 0 ? html`<p class="muted">No devices yet: start one with <span class="mono">smsgate device --server …</span></p>` : null}
    ${data.map((device) => {
      const online = device.lastSeen && Date.now() - new Date(device.lastSeen).getTime() < 60_000;
      const checks = device.health?.checks ?? {};
      const queue = checks['webhooks:queue'];
      const failed = checks['webhooks:failed'];
      return html`
        <div class="card" data-testid="device-row">
          <div class="row">
            <strong class="grow">${device.name ?? '(unnamed)'} <span class="mono muted">${device.id}</span></strong>
            <span class="badge ${online ? 'online' : 'offline'}">${online ? 'online' : 'offline'}</span>
            <${HealthBadge} health=${device.health} />
          </div>
          <div class="row small muted"><span>last seen ${ago(device.lastSeen)} (${time(device.lastSeen)})</span><span>registered ${time(device.createdAt)}</span></div>
          ${
            device.health
              ? html`<div class="row" style="margin-top:.5rem">
                <span>queue depth: <strong data-testid="queue-depth">${queue ? queue.observedValue : 'not reported'}</strong></span>
                <span class="small muted">failed deliveries ${failed ? failed.observedValue : '?'} · health reported ${ago(device.health.reportedAt)} · version ${device.health.version}</span>
              </div>
              <details class="small"><summary>Health checks</summary><${HealthChecks} checks=${checks} /></details>`
              : html`<div class="small muted" style="margin-top:.5rem">queue depth: not reported yet (the device sends its health when it connects)</div>`
          }
        </div>`;
    })}`;
}

function WebhookList({ title, note, hooks, onDelete, testid, deviceLabel }) {
  return html`
    <div class="card" data-testid=${testid}>
      <h3 style="margin-top:0">${title} <span class="muted small">(${hooks.length})</span></h3>
      ${note ? html`<p class="small muted" style="margin:-.3rem 0 .4rem">${note}</p>` : null}
      ${hooks.length === 0 ? html`<p class="muted small">none</p>` : null}
      ${hooks.map(
        (hook) => html`
          <div class="row" style="border-top:1px solid var(--line);padding:.4rem 0" data-testid="webhook-row">
            <div class="grow">
              <div><span class="badge">${hook.event}</span> <span class="mono">${hook.url}</span></div>
              <div class="small muted">id <span class="mono">${hook.id}</span> · source ${hook.source ?? 'Cloud'} · device ${deviceLabel ?? hook.deviceId ?? 'all devices'}</div>
            </div>
            ${onDelete ? html`<button class="danger" onClick=${() => onDelete(hook)}>Delete</button>` : null}
          </div>`,
      )}
    </div>`;
}

function WebhooksPage() {
  const [lists, setLists] = useState();
  const [devices, setDevices] = useState([]);
  const [error, setError] = useState();
  const [form, setForm] = useState({ url: '', event: 'sms:received', deviceId: '' });
  const load = useCallback(async () => {
    try {
      if (MODE === 'device') {
        const overview = await api('GET', '/dashboard/overview');
        setLists(overview.webhooks);
      } else {
        const [cloud, devs] = await Promise.all([api('GET', '/webhooks'), api('GET', '/devices')]);
        setLists({ cloud, local: await loadLocalLists(devs) });
        setDevices(devs);
      }
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => void load(), [load]);
  const add = async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/webhooks', {
        url: form.url,
        event: form.event,
        ...(form.deviceId ? { deviceId: form.deviceId } : {}),
      });
      setForm({ ...form, url: '' });
      await load();
    } catch (e) {
      setError(e);
    }
  };
  const remove = async (hook) => {
    try {
      await api('DELETE', `/webhooks/${encodeURIComponent(hook.id)}`);
      await load();
    } catch (e) {
      setError(e);
    }
  };
  return html`
    <h2>Webhooks</h2>
    <${ErrorBox} error=${error} />
    <form class="inline card" onSubmit=${add} aria-label="add a webhook">
      <label>URL<input name="url" type="url" required placeholder="https://example.com/hook" value=${form.url} onInput=${(e) => setForm({ ...form, url: e.target.value })} /></label>
      <label>Event<select name="event" value=${form.event} onChange=${(e) => setForm({ ...form, event: e.target.value })}>
        ${EVENTS.map((name) => html`<option value=${name}>${name}</option>`)}
      </select></label>
      ${
        MODE === 'server'
          ? html`<label>Device<select name="deviceId" value=${form.deviceId} onChange=${(e) => setForm({ ...form, deviceId: e.target.value })}>
            <option value="">all devices</option>
            ${devices.map((d) => html`<option value=${d.id}>${d.name ?? d.id}</option>`)}
          </select></label>`
          : null
      }
      <button type="submit">Add ${MODE === 'server' ? 'Cloud' : 'Local'} webhook</button>
    </form>
    ${
      !lists
        ? html`<p class="muted">Loading…</p>`
        : MODE === 'device'
          ? html`<div class="grid2">
            <${WebhookList} title="Local (this device's API)" hooks=${lists.local} onDelete=${remove} testid="local-webhooks" />
            <${WebhookList} title="Cloud (synced from the server; edit them there)" hooks=${lists.cloud} testid="cloud-webhooks" />
          </div>`
          : html`<div class="note small">This server holds the Cloud list: every device of yours delivers it (or the one it is bound to).
              Local webhooks are managed on each device (its Local API or its own dashboard); they are shown here as the device last
              reported them, read-only.</div>
            <div class="grid2">
              <${WebhookList} title="Cloud (this server)" hooks=${lists.cloud} onDelete=${remove} testid="cloud-webhooks" />
              ${lists.local.map(
                ({ device, webhooks, reportedAt }) => html`<${WebhookList}
                  key=${device.id}
                  title=${`Local on ${device.name ?? device.id}`}
                  note=${`managed on the device; ${reportedAt ? `reported ${ago(reportedAt)}` : 'not reported yet'}`}
                  hooks=${webhooks}
                  deviceLabel=${device.name ?? device.id}
                  testid="local-webhooks"
                />`,
              )}
            </div>`
    }`;
}

function AttemptTable({ attempts }) {
  if (attempts.length === 0) return html`<p class="muted small">No attempt yet.</p>`;
  return html`
    <table class="attempts">
      <thead><tr><th>#</th><th>started</th><th>status</th><th>duration</th><th>error</th><th>response preview</th></tr></thead>
      <tbody>
        ${attempts.map(
          (a) => html`<tr data-testid="attempt-row">
            <td data-label="attempt">${a.number}</td>
            <td data-label="started">${time(a.startedAt)}</td>
            <td data-label="status"><span class="badge ${statusClass(a.status)}" data-testid="attempt-status">${a.status ?? 'no answer'}</span></td>
            <td data-label="duration">${a.durationMs} ms</td>
            <td data-label="error" class="wide">${a.error ?? ''}</td>
            <td data-label="preview" class="mono wide">${a.responsePreview ?? ''}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}

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
      // the server asks the device, which sends it and reports the new attempt
      if (MODE === 'server')
        setAsked(
          `Asked ${deviceName(devices, answer.deviceId)} to send it again; the new attempt shows here once the device reports it.`,
        );
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
        ${MODE === 'server' ? html`<span data-testid="delivery-device">device ${deviceName(devices, delivery.deviceId)}</span>` : null}
        <span>webhook <span class="mono">${delivery.webhookId}</span> (${delivery.source})</span>
        <span>${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}</span>
        ${delivery.lastStatus != null ? html`<span>last status ${delivery.lastStatus}</span>` : null}
        ${delivery.lastError ? html`<span>last error: ${delivery.lastError}</span>` : null}
        ${delivery.nextAttemptAt ? html`<span>next attempt ${time(delivery.nextAttemptAt)}</span>` : null}
        <span>created ${time(delivery.createdAt)}</span>
      </div>
      <div class="row" style="margin-top:.4rem">
        <button class="secondary" onClick=${() => setOpen(!open)} aria-expanded=${open}>${open ? 'Hide attempts' : 'Show attempts'}</button>
        <button onClick=${redeliver} disabled=${delivery.state === 'sending'}>Redeliver</button>
      </div>
      <${ErrorBox} error=${error} />
      ${asked ? html`<div class="note small" data-testid="redeliver-note">${asked}</div>` : null}
      ${open ? (detail ? html`<div style="margin-top:.5rem"><${AttemptTable} attempts=${detail.attemptLog} /></div>` : html`<p class="muted small">Loading…</p>`) : null}
    </div>`;
}

function DeliveriesPage({ attemptTick }) {
  const [filter, setFilter] = useState({
    state: '',
    event: '',
    webhookId: '',
    ...(MODE === 'server' ? { deviceId: '' } : {}),
  });
  const devices = useDevices();
  const [cursors, setCursors] = useState([null]); // cursor of each page seen: back = pop
  const [page, setPage] = useState();
  const [hooks, setHooks] = useState([]);
  const [error, setError] = useState();
  const [tick, setTick] = useState(0);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    if (MODE === 'device') {
      api('GET', '/dashboard/overview').then((o) => setHooks([...o.webhooks.local, ...o.webhooks.cloud]), setError);
    } else if (devices.length > 0) {
      Promise.all([api('GET', '/webhooks'), loadLocalLists(devices)]).then(
        ([cloud, local]) =>
          setHooks([...cloud.map((w) => ({ ...w, source: 'Cloud' })), ...local.flatMap((l) => l.webhooks)]),
        setError,
      );
    }
  }, [devices]);
  const load = useCallback(() => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [key, value] of Object.entries(filter)) if (value) query.set(key, value);
    if (cursor) query.set('before', String(cursor));
    api('GET', `/deliveries?${query}`).then((p) => (setPage(p), setError(undefined)), setError);
  }, [filter, cursor]);
  useEffect(() => load(), [load, tick]);
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
    setFilter({ ...filter, [key]: e.target.value });
    setCursors([null]);
  };
  return html`
    <h2>Deliveries</h2>
    <div class="filters" role="group" aria-label="filters">
      <select aria-label="state" name="state" value=${filter.state} onChange=${setOne('state')}>
        <option value="">every state</option>${STATES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <select aria-label="event" name="event" value=${filter.event} onChange=${setOne('event')}>
        <option value="">every event</option>${EVENTS.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <select aria-label="webhook" name="webhookId" value=${filter.webhookId} onChange=${setOne('webhookId')}>
        <option value="">every webhook</option>${hooks.map((w) => html`<option value=${w.id}>${w.id} (${w.source}, ${w.event})</option>`)}
      </select>
      ${
        MODE === 'server'
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

function LivePage({ live }) {
  const devices = useDevices();
  // server frames name the device, and carry counts and ids where the device's carry lists and URLs
  const from = (data) =>
    MODE === 'server' ? html`<span class="small muted"> on ${deviceName(devices, data.deviceId)}</span>` : null;
  const queued = (data) => data.deliveryIds?.length ?? data.deliveries;
  return html`
    <h2>Live events</h2>
    <p class="small muted">
      SMS events and delivery attempts, newest first, ${MODE === 'server' ? 'as your devices report them (within about a second)' : 'as they happen'}, over
      Server-Sent Events. ${live.connected ? 'Stream connected.' : 'Connecting…'}
    </p>
    <div class="card feed" data-testid="live-feed">
      ${
        live.items.length === 0
          ? html`<p class="muted small">Nothing yet: ${MODE === 'server' ? 'send an SMS on the Send test page, or make one arrive on a device.' : 'inject an SMS on the Send test page.'}</p>`
          : null
      }
      ${live.items.map((item) =>
        item.kind === 'event'
          ? html`<div class="item" data-testid="live-event">
              <span class="small muted">${new Date(item.at).toLocaleTimeString()}</span>
              <div><span class="badge">${item.data.event}</span>
                ${item.data.payload?.phoneNumber ? html` <span class="mono">${item.data.payload.phoneNumber}</span>` : null}
                ${item.data.payload?.message ? html` “${item.data.payload.message}”` : null}
                ${from(item.data)}
                <div class="small muted">${queued(item.data)} deliver${queued(item.data) === 1 ? 'y' : 'ies'} queued</div></div>
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

function SendPage() {
  const [send, setSend] = useState({ to: '+15557654321', text: 'Hello from the dashboard' });
  const [incoming, setIncoming] = useState({ from: '+15551234567', text: 'Hello, gateway' });
  const [results, setResults] = useState([]);
  const [error, setError] = useState();
  const note = (line) => setResults((list) => [{ line, at: Date.now() }, ...list].slice(0, 20));
  const doSend = async (event) => {
    event.preventDefault();
    try {
      const state = await api('POST', MODE === 'server' ? '/messages' : '/message', {
        textMessage: { text: send.text },
        phoneNumbers: [send.to],
      });
      setError(undefined);
      note(`message ${state.id}: ${state.state}`);
      // watch it move through the carrier
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const now = await api('GET', `${MODE === 'server' ? '/messages' : '/message'}/${encodeURIComponent(state.id)}`);
        if (now.state !== state.state) {
          note(`message ${state.id}: ${now.state}`);
          state.state = now.state;
        }
        if (['Delivered', 'Failed'].includes(now.state)) break;
      }
    } catch (e) {
      setError(e);
    }
  };
  const doInject = async (event) => {
    event.preventDefault();
    try {
      const result = await api('POST', '/sim/v1/incoming', { from: incoming.from, text: incoming.text });
      setError(undefined);
      note(
        `incoming SMS recorded as event ${result.eventId}: ${result.deliveryIds.length} deliver${result.deliveryIds.length === 1 ? 'y' : 'ies'} queued`,
      );
    } catch (e) {
      setError(e);
    }
  };
  return html`
    <h2>Send test</h2>
    <${ErrorBox} error=${error} />
    <div class="grid2">
      <form class="card inline" onSubmit=${doSend} aria-label="send an SMS">
        <h3 style="flex-basis:100%;margin:0">Send an SMS${MODE === 'server' ? ' through your most recently seen device' : ' through the virtual carrier'}</h3>
        <label>To<input name="to" value=${send.to} onInput=${(e) => setSend({ ...send, to: e.target.value })} /></label>
        <label style="flex-basis:100%">Text<input name="text" value=${send.text} onInput=${(e) => setSend({ ...send, text: e.target.value })} /></label>
        <button type="submit">Send</button>
        <p class="small muted" style="flex-basis:100%;margin:0">+15550000001…3 fail, +15550000004 is sent but never delivered.</p>
      </form>
      ${
        MODE === 'device'
          ? html`<form class="card inline" onSubmit=${doInject} aria-label="inject an incoming SMS">
            <h3 style="flex-basis:100%;margin:0">Inject an incoming SMS</h3>
            <label>From<input name="from" value=${incoming.from} onInput=${(e) => setIncoming({ ...incoming, from: e.target.value })} /></label>
            <label style="flex-basis:100%">Text<input name="text" value=${incoming.text} onInput=${(e) => setIncoming({ ...incoming, text: e.target.value })} /></label>
            <button type="submit">Inject</button>
          </form>`
          : html`<div class="card small muted">Incoming SMS are simulated on the device: use its dashboard's Send test page.</div>`
      }
    </div>
    <div class="card" data-testid="send-log">
      <h3 style="margin-top:0">What happened</h3>
      ${results.length === 0 ? html`<p class="muted small">Nothing sent yet.</p>` : null}
      ${results.map((r) => html`<div class="small"><span class="muted">${new Date(r.at).toLocaleTimeString()}</span> ${r.line}</div>`)}
    </div>`;
}

// ---- shell

const PAGES = [
  { id: 'devices', title: 'Devices', component: DevicesPage },
  { id: 'webhooks', title: 'Webhooks', component: WebhooksPage },
  { id: 'deliveries', title: 'Deliveries', component: DeliveriesPage },
  { id: 'live', title: 'Live events', component: LivePage },
  { id: 'send', title: 'Send test', component: SendPage },
];

function currentPage() {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.find((page) => page.id === id) ?? PAGES[0];
}

function App() {
  const [page, setPage] = useState(currentPage());
  const live = useLiveStream();
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const Page = page.component;
  return html`
    <header>
      <h1>smsgate</h1>
      <span class="mode">${MODE === 'server' ? 'server' : 'device'}</span>
      <nav>${PAGES.map((p) => html`<a href="#/${p.id}" class=${p === page ? 'active' : ''} aria-current=${p === page ? 'page' : undefined}>${p.title}</a>`)}</nav>
      <span class="stream ${live.connected ? 'on' : 'off'}">${live.connected ? 'live' : 'offline'}</span>
      <a href="/docs" style="color:#c9d2e3;font-size:.8rem">API docs</a>
    </header>
    <main><${Page} live=${live} attemptTick=${live.attemptTick} /></main>`;
}

const root = document.getElementById('app');
root.replaceChildren(); // drop the loading note
render(html`<${App} />`, root);
