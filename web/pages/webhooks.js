// Webhooks: the list this dashboard manages (the device's Local list, the server's Cloud list)
// and, read-only, the lists managed elsewhere.
import { useCallback, useEffect, useState } from '/ui/hooks.mjs';
import { EVENT_NAMES } from '/ui/vocabulary.js';
import { api, runtime } from '../runtime.js';
import { ErrorBox, ago, html } from '../ui.js';

function WebhookList({ title, note, hooks, onDelete, testid, deviceLabel }) {
  return html`
    <div class="card" data-testid=${testid}>
      <h3 class="card-title">${title} <span class="muted small">(${hooks.length})</span></h3>
      ${note ? html`<p class="small muted list-note">${note}</p>` : null}
      ${hooks.length === 0 ? html`<p class="muted small">none</p>` : null}
      ${hooks.map(
        (hook) => html`
          <div class="row list-row" data-testid="webhook-row">
            <div class="grow">
              <div><span class="badge">${hook.event}</span> <span class="mono">${hook.url}</span></div>
              <div class="small muted">id <span class="mono">${hook.id}</span> · source ${hook.source ?? 'Cloud'} · device ${deviceLabel ?? hook.deviceId ?? 'all devices'}</div>
            </div>
            ${onDelete ? html`<button class="danger" onClick=${() => onDelete(hook)}>Delete</button>` : null}
          </div>`,
      )}
    </div>`;
}

export function WebhooksPage() {
  const [lists, setLists] = useState();
  const [error, setError] = useState();
  const [form, setForm] = useState({ url: '', event: 'sms:received', deviceId: '' });
  const load = useCallback(async () => {
    try {
      setLists(await runtime.webhookLists());
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
        ${EVENT_NAMES.map((name) => html`<option value=${name}>${name}</option>`)}
      </select></label>
      ${
        runtime.manyDevices
          ? html`<label>Device<select name="deviceId" value=${form.deviceId} onChange=${(e) => setForm({ ...form, deviceId: e.target.value })}>
            <option value="">all devices</option>
            ${(lists?.devices ?? []).map((d) => html`<option value=${d.id}>${d.name ?? d.id}</option>`)}
          </select></label>`
          : null
      }
      <button type="submit">Add ${runtime.webhookSource} webhook</button>
    </form>
    ${
      !lists
        ? html`<p class="muted">Loading…</p>`
        : html`${lists.note ? html`<div class="note small">${lists.note}</div>` : null}
          <div class="grid2">
            <${WebhookList} title=${lists.editable.title} hooks=${lists.editable.hooks} onDelete=${remove} testid=${lists.editable.testid} />
            ${lists.shown.map(
              (list) => html`<${WebhookList}
                key=${list.key}
                title=${list.title}
                note=${list.reportedAt === undefined ? undefined : `managed on the device; ${list.reportedAt ? `reported ${ago(list.reportedAt)}` : 'not reported yet'}`}
                hooks=${list.hooks}
                deviceLabel=${list.deviceLabel}
                testid=${list.testid}
              />`,
            )}
          </div>`
    }`;
}
