// Webhooks: the list this dashboard manages (the device's Local list, the server's Cloud list),
// with Edit (a POST with the same id replaces it) and a test event per webhook; the lists managed
// elsewhere are shown read-only.
import { useCallback, useEffect, useState } from '../hooks.mjs';
import { EVENT_NAMES } from '../vocabulary.js';
import { api, runtime } from '../runtime.js';
import { AttemptTable, ErrorBox, ago, html } from '../ui.js';

const POLL_MS = 500;
const POLL_TRIES = 60;

/** The test event of one webhook: what was asked, then its delivery's attempts as they come. */
function TestResult({ test }) {
  if (!test) return null;
  return html`
    <div class="note small" data-testid="test-result" role="status">
      <div>${test.note}</div>
      ${test.error ? html`<${ErrorBox} error=${test.error} />` : null}
      ${
        test.delivery
          ? html`<div>delivery <span class="mono">${test.delivery.id}</span>: <span class="badge ${test.delivery.state}" data-testid="test-state">${test.delivery.state}</span></div>
            <${AttemptTable} attempts=${test.delivery.attemptLog} />`
          : test.waiting
            ? html`<div class="muted">waiting for its attempt…</div>`
            : null
      }
    </div>`;
}

function WebhookRow({ hook, deviceLabel, onDelete, onEdit, canTest }) {
  const [test, setTest] = useState();
  const [busy, setBusy] = useState(false);
  const sendTest = async () => {
    setBusy(true);
    try {
      const asked = await runtime.testWebhook(hook);
      setTest({ note: asked.note, waiting: true });
      for (let i = 0; i < POLL_TRIES; i++) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        const delivery = await asked.attempt();
        if (delivery) setTest({ note: asked.note, delivery, waiting: delivery.attemptLog.length === 0 });
        if (delivery && delivery.attemptLog.length > 0 && delivery.state !== 'sending') break;
      }
    } catch (error) {
      setTest((t) => ({ note: t?.note ?? 'The test event was not sent.', error }));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <div class="list-row" data-testid="webhook-row" data-webhook-id=${hook.id}>
      <div class="row">
        <div class="grow">
          <div><span class="badge">${hook.event}</span> <span class="mono">${hook.url}</span></div>
          <div class="small muted">id <span class="mono">${hook.id}</span> · source ${hook.source ?? 'Cloud'} · device ${deviceLabel ?? hook.deviceId ?? 'all devices'}</div>
        </div>
        ${canTest ? html`<button class="secondary" onClick=${sendTest} disabled=${busy}>Send test event</button>` : null}
        ${onEdit ? html`<button class="secondary" onClick=${() => onEdit(hook)} aria-label=${`Edit webhook ${hook.id}`}>Edit</button>` : null}
        ${onDelete ? html`<button class="danger" onClick=${() => onDelete(hook)}>Delete</button>` : null}
      </div>
      <${TestResult} test=${test} />
    </div>`;
}

function WebhookList({ title, note, hooks, onDelete, onEdit, canTest, testid, deviceLabel }) {
  return html`
    <div class="card" data-testid=${testid}>
      <h3 class="card-title">${title} <span class="muted small">(${hooks.length})</span></h3>
      ${note ? html`<p class="small muted list-note">${note}</p>` : null}
      ${hooks.length === 0 ? html`<p class="muted small">none</p>` : null}
      ${hooks.map(
        (hook) =>
          html`<${WebhookRow} key=${hook.id} hook=${hook} deviceLabel=${deviceLabel} onDelete=${onDelete} onEdit=${onEdit} canTest=${canTest} />`,
      )}
    </div>`;
}

const EMPTY_FORM = { id: '', url: '', event: 'sms:received', deviceId: '' };

export function WebhooksPage() {
  const [lists, setLists] = useState();
  const [error, setError] = useState();
  const [form, setForm] = useState(EMPTY_FORM);
  const load = useCallback(async () => {
    try {
      setLists(await runtime.webhookLists());
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => void load(), [load]);
  const save = async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/webhooks', {
        ...(form.id ? { id: form.id } : {}),
        url: form.url,
        event: form.event,
        ...(form.deviceId ? { deviceId: form.deviceId } : {}),
      });
      setForm({ ...EMPTY_FORM, event: form.event });
      await load();
    } catch (e) {
      setError(e);
    }
  };
  const edit = (hook) => {
    setForm({ id: hook.id, url: hook.url, event: hook.event, deviceId: hook.deviceId ?? '' });
    document.querySelector('form[aria-label="webhook"] input[name="url"]')?.focus();
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
    <form class="inline card" onSubmit=${save} aria-label="webhook">
      ${form.id ? html`<p class="small full flush" data-testid="editing">Editing <span class="mono">${form.id}</span>: saving replaces it.</p>` : null}
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
      <button type="submit">${form.id ? 'Save webhook' : `Add ${runtime.webhookSource} webhook`}</button>
      ${form.id ? html`<button type="button" class="secondary" onClick=${() => setForm(EMPTY_FORM)}>Cancel edit</button>` : null}
    </form>
    ${
      !lists
        ? html`<p class="muted">Loading…</p>`
        : html`${lists.note ? html`<div class="note small">${lists.note}</div>` : null}
          <div class="grid2">
            <${WebhookList} title=${lists.editable.title} hooks=${lists.editable.hooks} onDelete=${remove} onEdit=${edit} canTest=${true} testid=${lists.editable.testid} />
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
