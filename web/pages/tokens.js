// Tokens: issue an access token with chosen scopes (shown once, with its refresh token), list the
// grants made so far and revoke one (which revokes every token refreshed from it).
import { useCallback, useEffect, useState } from '../hooks.mjs';
import { TOKEN_SCOPES } from '../vocabulary.js';
import { api } from '../runtime.js';
import { ErrorBox, html, time } from '../ui.js';

const STATE_CLASS = { active: 'succeeded', renewable: 'pending', expired: 'cancelled', revoked: 'failed' };
const STATE_WORDS = {
  active: 'works now',
  renewable: 'expired; its refresh token still gets a new one',
  expired: 'expired',
  revoked: 'revoked',
};

function Issued({ issued, onDismiss }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard?.writeText(issued.access_token).then(
      () => setCopied(true),
      () => {},
    );
  };
  return html`
    <div class="card issued" role="status" data-testid="issued-token">
      <h3 class="card-title">New token <span class="mono small">${issued.id}</span></h3>
      <p class="small">Copy it now: it is shown only this once (only its hash is kept). It expires ${time(issued.expires_at)}.</p>
      <label class="small muted" for="access-token">access token (Authorization: Bearer …)</label>
      <textarea id="access-token" class="mono secret" readonly rows="3" data-testid="access-token" value=${issued.access_token}></textarea>
      <label class="small muted" for="refresh-token">refresh token (POST /auth/token/refresh, once)</label>
      <textarea id="refresh-token" class="mono secret" readonly rows="3" data-testid="refresh-token" value=${issued.refresh_token}></textarea>
      <div class="row spaced">
        <button type="button" onClick=${copy}>${copied ? '✓ Copied' : 'Copy access token'}</button>
        <button type="button" class="secondary" onClick=${onDismiss}>Done</button>
      </div>
    </div>`;
}

function GrantRow({ grant, onRevoke }) {
  return html`
    <tr data-testid="token-row" data-token-id=${grant.id}>
      <td data-label="token" class="mono">${grant.id}</td>
      <td data-label="state"><span class="badge ${STATE_CLASS[grant.state]}" data-testid="token-state" title=${STATE_WORDS[grant.state]}>${grant.state}</span></td>
      <td data-label="scopes" class="wide">${grant.scopes.map((s) => html`<span class="chip mono">${s}</span> `)}</td>
      <td data-label="issued">${time(grant.issuedAt)}</td>
      <td data-label="expires">${time(grant.expiresAt)}</td>
      <td>${grant.state === 'revoked' ? null : html`<button class="danger" onClick=${() => onRevoke(grant)} aria-label=${`Revoke token ${grant.id}`}>Revoke</button>`}</td>
    </tr>`;
}

export function TokensPage() {
  const [grants, setGrants] = useState();
  const [error, setError] = useState();
  const [scopes, setScopes] = useState([]);
  const [ttl, setTtl] = useState('');
  const [issued, setIssued] = useState();
  const load = useCallback(async () => {
    try {
      setGrants(await api('GET', '/auth/token'));
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => void load(), [load]);
  const toggle = (scope) => setScopes(scopes.includes(scope) ? scopes.filter((s) => s !== scope) : [...scopes, scope]);
  const create = async (event) => {
    event.preventDefault();
    try {
      // what was typed goes as it is: the API says what a lifetime must be
      const lifetime = ttl.trim() === '' ? undefined : /^\d+$/.test(ttl.trim()) ? Number(ttl) : ttl;
      setIssued(await api('POST', '/auth/token', { scopes, ...(lifetime === undefined ? {} : { ttl: lifetime }) }));
      setScopes([]);
      setTtl('');
      await load();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (grant) => {
    try {
      await api('DELETE', `/auth/token/${encodeURIComponent(grant.id)}`);
      await load();
    } catch (e) {
      setError(e);
    }
  };
  return html`
    <h2>Tokens</h2>
    <div class="note small">An access token works instead of the password, for the scopes it names (all:any: every one), until it expires or is revoked. Send it as <span class="mono">Authorization: Bearer …</span>.</div>
    <${ErrorBox} error=${error} />
    ${issued ? html`<${Issued} issued=${issued} onDismiss=${() => setIssued(undefined)} />` : null}
    <form class="card" onSubmit=${create} aria-label="new token">
      <h3 class="card-title">New token</h3>
      <fieldset class="scope-grid">
        <legend class="small muted">scopes</legend>
        ${TOKEN_SCOPES.map(
          (scope) =>
            html`<label class="check"><input type="checkbox" name="scope" value=${scope} checked=${scopes.includes(scope)} onChange=${() => toggle(scope)} /> <span class="mono">${scope}</span></label>`,
        )}
      </fieldset>
      <div class="row spaced">
        <label class="small">lifetime (seconds, empty: 1 hour)<input name="ttl" inputmode="numeric" value=${ttl} onInput=${(e) => setTtl(e.target.value)} /></label>
        <button type="submit">Create token</button>
      </div>
    </form>
    <div class="card" data-testid="token-list">
      <h3 class="card-title">Issued <span class="muted small">(${grants?.length ?? '…'})</span></h3>
      ${grants?.length === 0 ? html`<p class="muted small">No token issued yet.</p>` : null}
      ${
        grants?.length
          ? html`<table class="attempts tokens">
              <thead><tr><th>token</th><th>state</th><th>scopes</th><th>issued</th><th>expires</th><th></th></tr></thead>
              <tbody>${grants.map((g) => html`<${GrantRow} key=${g.id} grant=${g} onRevoke=${revoke} />`)}</tbody>
            </table>`
          : null
      }
    </div>`;
}
