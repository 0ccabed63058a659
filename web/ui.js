// Pieces every page uses: the htm binding, formatting, and small components.
import { h } from './preact.mjs';
import { useEffect, useState } from './hooks.mjs';
import htm from './htm.mjs';
import { runtime } from './runtime.js';

export const html = htm.bind(h);

export const time = (value) => (value ? new Date(value).toLocaleString() : '—');
export const ago = (value) => {
  if (!value) return 'never';
  const s = Math.round((Date.now() - new Date(value).getTime()) / 1000);
  return s < 60
    ? `${Math.max(s, 0)} s ago`
    : s < 3600
      ? `${Math.round(s / 60)} min ago`
      : `${Math.round(s / 3600)} h ago`;
};
export const statusClass = (status) => (status == null ? 'error' : `s${String(status)[0]}xx`);
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** A datetime-local value (the browser's time zone) as ISO 8601, or undefined. */
export const isoOf = (local) => (local ? new Date(local).toISOString() : undefined);

/** Newer / Older over a list paged by offset, with where this page sits among `total`. */
export function OffsetPager({ offset, count, total, pageSize, onOffset }) {
  return html`
    <div class="pager">
      <span class="small muted">${total === 0 ? '' : `${offset + 1}–${offset + count} of ${total}`}</span>
      <button class="secondary" disabled=${offset === 0} onClick=${() => onOffset(Math.max(0, offset - pageSize))}>Newer</button>
      <button class="secondary" disabled=${offset + pageSize >= total} onClick=${() => onOffset(offset + pageSize)}>Older</button>
    </div>`;
}

export function ErrorBox({ error }) {
  return error ? html`<div class="error-box" role="alert">${String(error.message ?? error)}</div>` : null;
}

export function HealthBadge({ health }) {
  if (!health) return html`<span class="badge">unknown</span>`;
  return html`<span class="badge ${health.status}">${health.status}</span>`;
}

/** One row per check; on a narrow screen each row stacks (name and status, then value, then description). */
export function HealthChecks({ checks }) {
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

export function AttemptTable({ attempts }) {
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

export const deviceName = (devices, id) => devices.find((d) => d.id === id)?.name ?? id;

/** The user's devices (id → name), for labels and filters: the server's; none on a device. */
export function useDevices() {
  const [devices, setDevices] = useState([]);
  useEffect(() => {
    runtime.devices().then(setDevices, () => {});
  }, []);
  return devices;
}

/**
 * A list page's load: `request()` runs whenever `deps` change and its page reaches `onPage`, its
 * failure `onError`, unless a newer load began meanwhile. Two loads can be in flight at once (a
 * filter changed twice in a row) and answer out of order; the older answer must not replace the
 * newer list.
 */
export function useLatestPage(request, onPage, onError, deps) {
  useEffect(() => {
    let current = true;
    request().then(
      (page) => current && onPage(page),
      (error) => current && onError(error),
    );
    return () => {
      current = false;
    };
  }, deps);
}
