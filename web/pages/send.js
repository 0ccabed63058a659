// Send test: send an SMS and watch its state; on a device, inject an incoming SMS.
import { useState } from '../hooks.mjs';
import { api, runtime } from '../runtime.js';
import { ErrorBox, html, plural } from '../ui.js';

export function SendPage() {
  const [send, setSend] = useState({ to: '+15557654321', text: 'Hello from the dashboard' });
  const [incoming, setIncoming] = useState({ from: '+15551234567', text: 'Hello, gateway' });
  const [results, setResults] = useState([]);
  const [error, setError] = useState();
  const note = (line) => setResults((list) => [{ line, at: Date.now() }, ...list].slice(0, 20));
  const doSend = async (event) => {
    event.preventDefault();
    try {
      const state = await api('POST', runtime.messagesPath, {
        textMessage: { text: send.text },
        phoneNumbers: [send.to],
      });
      setError(undefined);
      note(`message ${state.id}: ${state.state}`);
      // watch it move through the carrier
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const now = await api('GET', `${runtime.messagesPath}/${encodeURIComponent(state.id)}`);
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
        `incoming SMS recorded as event ${result.eventId}: ${plural(result.deliveryIds.length, 'delivery', 'deliveries')} queued`,
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
        <h3 class="form-title">Send an SMS ${runtime.sendThrough}</h3>
        <label>To<input name="to" value=${send.to} onInput=${(e) => setSend({ ...send, to: e.target.value })} /></label>
        <label class="full">Text<input name="text" value=${send.text} onInput=${(e) => setSend({ ...send, text: e.target.value })} /></label>
        <button type="submit">Send</button>
        <p class="small muted full flush">+15550000001…3 fail, +15550000004 is sent but never delivered.</p>
      </form>
      ${
        runtime.canInjectIncoming
          ? html`<form class="card inline" onSubmit=${doInject} aria-label="inject an incoming SMS">
            <h3 class="form-title">Inject an incoming SMS</h3>
            <label>From<input name="from" value=${incoming.from} onInput=${(e) => setIncoming({ ...incoming, from: e.target.value })} /></label>
            <label class="full">Text<input name="text" value=${incoming.text} onInput=${(e) => setIncoming({ ...incoming, text: e.target.value })} /></label>
            <button type="submit">Inject</button>
          </form>`
          : html`<div class="card small muted">Incoming SMS are simulated on the device: use its dashboard's Send test page.</div>`
      }
    </div>
    <div class="card" data-testid="send-log">
      <h3 class="card-title">What happened</h3>
      ${results.length === 0 ? html`<p class="muted small">Nothing sent yet.</p>` : null}
      ${results.map((r) => html`<div class="small"><span class="muted">${new Date(r.at).toLocaleTimeString()}</span> ${r.line}</div>`)}
    </div>`;
}
