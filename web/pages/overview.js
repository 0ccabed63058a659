// Overview, the landing page: what the deliveries and messages did over the last hour or day, from
// the stats route, which aggregates in SQL (one-minute buckets), never from every delivery.
import { useEffect, useMemo, useState } from '../hooks.mjs';
import { api } from '../runtime.js';
import { TimeChart } from '../chart.js';
import { ErrorBox, html, time } from '../ui.js';

const REFRESH_MS = 5000;
const OK = '#17803d';
const WARN = '#a05a00';
const BAD = '#c0262d';
const SOLID = [];
const DASHED = [8, 4];
const DOTTED = [2, 3];

/** Every minute of the range, with the buckets that had something in them (the rest are zero). */
function perMinute(stats, rows, keys, empty) {
  const step = stats.bucketSeconds;
  const first = Date.parse(stats.since) / 1000;
  const last = Math.floor(Date.parse(stats.until) / 1000 / step) * step;
  const x = [];
  for (let t = first; t <= last; t += step) x.push(t);
  const index = new Map(x.map((t, i) => [t, i]));
  const columns = Object.fromEntries(keys.map((key) => [key, x.map(() => empty)]));
  for (const row of rows) {
    const i = index.get(Date.parse(row.at) / 1000);
    if (i === undefined) continue;
    for (const key of keys) columns[key][i] = row[key];
  }
  return { x, columns };
}

const total = (rows, key) => rows.reduce((n, row) => n + row[key], 0);

function Tile({ label, value, testid }) {
  return html`<div class="tile"><span class="small muted">${label}</span><strong data-testid=${testid}>${value}</strong></div>`;
}

export function OverviewPage() {
  const [range, setRange] = useState('hour');
  const [stats, setStats] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    let live = true;
    const load = () =>
      api('GET', `/stats?range=${range}`).then(
        (s) => live && (setStats(s), setError(undefined)),
        (e) => live && setError(e),
      );
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => ((live = false), clearInterval(timer));
  }, [range]);
  const charts = useMemo(() => {
    if (!stats) return undefined;
    const attempts = perMinute(stats, stats.attempts, ['succeeded', 'retried', 'failed'], 0);
    const latency = perMinute(stats, stats.attempts, ['p50Ms', 'p99Ms'], null);
    const messages = perMinute(stats, stats.messages, ['sent', 'delivered', 'failed'], 0);
    const queue = perMinute(stats, stats.queue, ['depth'], null);
    return {
      queue: {
        x: queue.x,
        series: [{ label: 'queue depth', color: WARN, dash: SOLID, values: queue.columns.depth }],
      },
      attempts: {
        x: attempts.x,
        series: [
          { label: 'succeeded', color: OK, dash: SOLID, values: attempts.columns.succeeded },
          { label: 'retried', color: WARN, dash: DASHED, values: attempts.columns.retried },
          { label: 'failed', color: BAD, dash: DOTTED, values: attempts.columns.failed },
        ],
      },
      latency: {
        x: latency.x,
        series: [
          { label: 'p50', color: '#2457d6', dash: SOLID, values: latency.columns.p50Ms },
          { label: 'p99', color: '#7a3bc4', dash: DASHED, values: latency.columns.p99Ms },
        ],
      },
      messages: {
        x: messages.x,
        series: [
          { label: 'sent', color: '#2457d6', dash: SOLID, values: messages.columns.sent },
          { label: 'delivered', color: OK, dash: DASHED, values: messages.columns.delivered },
          { label: 'failed', color: BAD, dash: DOTTED, values: messages.columns.failed },
        ],
      },
    };
  }, [stats]);
  const span = range === 'hour' ? 'the last hour' : 'the last day';
  return html`
    <h2>Overview</h2>
    <div class="filters" role="group" aria-label="range">
      ${['hour', 'day'].map(
        (r) =>
          html`<button class=${r === range ? '' : 'secondary'} aria-pressed=${r === range} onClick=${() => setRange(r)}>Last ${r}</button>`,
      )}
    </div>
    <${ErrorBox} error=${error} />
    ${
      !stats
        ? html`<p class="muted">Loading…</p>`
        : html`
          <div class="tiles">
            <${Tile} label="queue depth now" value=${stats.queueDepth} testid="stat-queue-depth" />
            <${Tile} label=${`attempts succeeded, ${span}`} value=${total(stats.attempts, 'succeeded')} testid="stat-succeeded" />
            <${Tile} label="retried" value=${total(stats.attempts, 'retried')} testid="stat-retried" />
            <${Tile} label="failed" value=${total(stats.attempts, 'failed')} testid="stat-failed" />
            <${Tile} label="messages sent" value=${total(stats.messages, 'sent')} testid="stat-sent" />
            <${Tile} label="delivered" value=${total(stats.messages, 'delivered')} testid="stat-delivered" />
          </div>
          <div class="grid2">
            <${TimeChart} title="Delivery attempts per minute" testid="chart-attempts" unit="attempts" x=${charts.attempts.x} series=${charts.attempts.series}
              summary=${`${total(stats.attempts, 'succeeded')} succeeded, ${total(stats.attempts, 'retried')} retried, ${total(stats.attempts, 'failed')} failed over ${span}`} />
            <${TimeChart} title="Attempt duration" testid="chart-latency" unit="ms" x=${charts.latency.x} series=${charts.latency.series}
              summary=${`median and 99th percentile attempt duration per minute over ${span}`} />
            <${TimeChart} title="Queue depth" testid="chart-queue" unit="deliveries" x=${charts.queue.x} series=${charts.queue.series}
              summary=${`webhook deliveries waiting or in flight at the end of each minute over ${span}; ${stats.queueDepth} now, at most ${Math.max(0, ...stats.queue.map((b) => b.depth))}`} />
            <${TimeChart} title="Messages per minute" testid="chart-messages" unit="messages" x=${charts.messages.x} series=${charts.messages.series}
              summary=${`${total(stats.messages, 'sent')} sent, ${total(stats.messages, 'delivered')} delivered, ${total(stats.messages, 'failed')} failed over ${span}`} />
            <div class="card" data-testid="failing-webhooks">
              <h3 class="card-title">Most failing webhooks</h3>
              ${stats.failingWebhooks.length === 0 ? html`<p class="muted small">No failed attempt in ${span}.</p>` : null}
              ${stats.failingWebhooks.map(
                (w) => html`<div class="list-row" data-testid="failing-webhook">
                  <div><strong>${w.failures}</strong> failed attempt${w.failures === 1 ? '' : 's'} · <span class="mono">${w.url}</span></div>
                  <div class="small muted">webhook <span class="mono">${w.webhookId}</span> · last ${time(w.lastFailedAt)}: ${w.lastError}</div>
                </div>`,
              )}
            </div>
          </div>`
    }`;
}
