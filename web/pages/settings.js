// Settings: every group GET /settings answers, as a form per group. Saving a group PATCHes only the
// keys changed in it; what the API refuses is shown in its own words, beside that group.
import { useEffect, useRef, useState } from '../hooks.mjs';
import { SETTINGS_CHOICES, WRITE_ONLY_SETTINGS } from '../vocabulary.js';
import { api, runtime } from '../runtime.js';
import { ErrorBox, html } from '../ui.js';

const label = (key) => key.replace(/_/g, ' ');

/** The text an input holds for a value: null is an empty field. */
const shown = (value) => (value === null || value === undefined ? '' : String(value));

/** What a field's text means for the API, judged by the value it started from. */
function parsed(text, original, choices) {
  if (typeof original === 'boolean') return text;
  if (choices) return text;
  if (text === '') return null;
  // a number field keeps what was typed when it is not a number: the API says why it is wrong
  if (typeof original === 'number' || original === null) return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
  return text;
}

function Field({ group, name, original, value, onChange }) {
  const id = `setting-${group}-${name}`;
  const choices = SETTINGS_CHOICES[`${group}.${name}`];
  if (typeof original === 'boolean') {
    return html`<label class="check setting" for=${id}>
      <input id=${id} type="checkbox" name=${`${group}.${name}`} checked=${value} onChange=${(e) => onChange(e.target.checked)} /> ${label(name)}
    </label>`;
  }
  return html`<label class="setting" for=${id}>${label(name)}
    ${
      choices
        ? html`<select id=${id} name=${`${group}.${name}`} value=${value} onChange=${(e) => onChange(e.target.value)}>
            ${choices.map((c) => html`<option value=${c}>${c}</option>`)}
          </select>`
        : html`<input id=${id} name=${`${group}.${name}`} inputmode=${typeof original === 'number' || original === null ? 'numeric' : undefined}
            placeholder=${original === null ? 'not set' : ''} value=${value} onInput=${(e) => onChange(e.target.value)} />`
    }
  </label>`;
}

function GroupForm({ group, values, onSaved }) {
  const start = () =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'boolean' ? v : shown(v)]));
  const [draft, setDraft] = useState(start);
  const [error, setError] = useState();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  // New values from the API (a save, a change elsewhere) start the draft over. Not on mount: the
  // draft already starts from them, and an effect run after the first paint would throw away what
  // was typed in between.
  const valuesKey = JSON.stringify(values);
  const draftFrom = useRef(valuesKey);
  useEffect(() => {
    if (draftFrom.current === valuesKey) return;
    draftFrom.current = valuesKey;
    setDraft(start());
  }, [valuesKey]);
  const changes = Object.fromEntries(
    Object.entries(draft)
      .map(([k, text]) => [k, parsed(text, values[k], SETTINGS_CHOICES[`${group}.${k}`])])
      .filter(([k, v]) => v !== values[k]),
  );
  const dirty = Object.keys(changes).length > 0;
  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    setSaved(false);
    try {
      const settings = await api('PATCH', '/settings', { [group]: changes });
      setError(undefined);
      setSaved(true);
      onSaved(settings);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="card settings-group" onSubmit=${save} aria-label=${`${group} settings`} data-testid=${`settings-${group}`}>
      <h3 class="card-title">${label(group)}</h3>
      <div class="fields">
        ${Object.keys(values).map(
          (name) => html`<${Field} key=${name} group=${group} name=${name} original=${values[name]} value=${draft[name]}
            onChange=${(v) => (setDraft({ ...draft, [name]: v }), setSaved(false))} />`,
        )}
      </div>
      <${ErrorBox} error=${error} />
      <div class="row">
        <button type="submit" disabled=${!dirty || busy}>Save ${label(group)}</button>
        ${dirty ? html`<button type="button" class="secondary" onClick=${() => (setDraft(start()), setError(undefined))}>Undo changes</button>` : null}
        ${saved && !dirty ? html`<span class="small ok-text" role="status" data-testid="saved">✓ Saved</span>` : null}
        ${dirty ? html`<span class="small muted">${Object.keys(changes).length} unsaved change${Object.keys(changes).length === 1 ? '' : 's'}</span>` : null}
      </div>
    </form>`;
}

/**
 * The write-only settings (a passphrase, a token): the API never shows them, so each field starts
 * empty. Saving sends what was typed; Clear sends null.
 */
function WriteOnlyForm() {
  const [draft, setDraft] = useState({});
  const [error, setError] = useState();
  const [done, setDone] = useState();
  const [busy, setBusy] = useState(false);
  const send = async (key, value) => {
    const [group, name] = key.split('.');
    setBusy(true);
    setDone(undefined);
    try {
      await api('PATCH', '/settings', { [group]: { [name]: value } });
      setError(undefined);
      setDraft({ ...draft, [key]: '' });
      setDone(value === null ? `${label(name)} cleared` : `${label(name)} set`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section class="card settings-group" aria-label="write-only settings" data-testid="settings-write-only">
      <h3 class="card-title">Write-only</h3>
      <p class="small muted">Set here, never shown again: the API does not read these back.</p>
      ${WRITE_ONLY_SETTINGS.map((key) => {
        const id = `setting-${key.replace('.', '-')}`;
        const value = draft[key] ?? '';
        return html`<form class="row" key=${key} onSubmit=${(e) => (e.preventDefault(), send(key, value))}>
          <label class="setting" for=${id}>${key.replace(/_/g, ' ')}
            <input id=${id} name=${key} type="password" autocomplete="new-password" value=${value}
              onInput=${(e) => setDraft({ ...draft, [key]: e.target.value })} />
          </label>
          <button type="submit" disabled=${busy || value === ''}>Set</button>
          <button type="button" class="secondary" disabled=${busy} onClick=${() => send(key, null)}>Clear</button>
        </form>`;
      })}
      <${ErrorBox} error=${error} />
      ${done ? html`<span class="small ok-text" role="status" data-testid="write-only-saved">✓ ${done}</span>` : null}
    </section>`;
}

export function SettingsPage() {
  const [settings, setSettings] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    api('GET', '/settings').then(setSettings, setError);
  }, []);
  return html`
    <h2>Settings</h2>
    <div class="note small">${runtime.settingsNote} An empty number field means “not set”.</div>
    <${ErrorBox} error=${error} />
    ${
      !settings
        ? error
          ? null
          : html`<p class="muted">Loading…</p>`
        : html`<div class="grid2">
            ${Object.entries(settings).map(
              ([group, values]) =>
                html`<${GroupForm} key=${group} group=${group} values=${values} onSaved=${setSettings} />`,
            )}
            <${WriteOnlyForm} />
          </div>`
    }`;
}
