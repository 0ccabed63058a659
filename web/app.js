// The smsgate dashboard: Preact + htm as plain ES modules (no build step), one module per page
// (pages/), one adapter for the device's and the server's API (runtime.js). The page is served
// behind the API's Basic auth, so the browser sends the same credentials with every fetch and with
// the EventSource (which cannot set headers itself).
import { render } from './preact.mjs';
import { useEffect, useState } from './hooks.mjs';
import { runtime } from './runtime.js';
import { html } from './ui.js';
import { useLiveStream } from './live-stream.js';
import { OverviewPage } from './pages/overview.js';
import { DevicesPage } from './pages/devices.js';
import { WebhooksPage } from './pages/webhooks.js';
import { DeliveriesPage } from './pages/deliveries.js';
import { MessagesPage } from './pages/messages.js';
import { InboxPage } from './pages/inbox.js';
import { TokensPage } from './pages/tokens.js';
import { SettingsPage } from './pages/settings.js';
import { LivePage } from './pages/live.js';
import { SendPage } from './pages/send.js';

const PAGES = [
  { id: 'overview', title: 'Overview', component: OverviewPage },
  { id: 'devices', title: 'Devices', component: DevicesPage },
  { id: 'webhooks', title: 'Webhooks', component: WebhooksPage },
  { id: 'deliveries', title: 'Deliveries', component: DeliveriesPage },
  { id: 'messages', title: 'Messages', component: MessagesPage },
  { id: 'inbox', title: 'Inbox', component: InboxPage },
  { id: 'live', title: 'Live events', component: LivePage },
  { id: 'send', title: 'Send test', component: SendPage },
  { id: 'tokens', title: 'Tokens', component: TokensPage },
  { id: 'settings', title: 'Settings', component: SettingsPage },
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
      <span class="mode">${runtime.mode}</span>
      <nav>${PAGES.map((p) => html`<a href="#/${p.id}" class=${p === page ? 'active' : ''} aria-current=${p === page ? 'page' : undefined}>${p.title}</a>`)}</nav>
      <span class="stream ${live.connected ? 'on' : 'off'}">${live.connected ? 'live' : 'offline'}</span>
      <a class="docs-link" href="/docs">API docs</a>
    </header>
    <main><${Page} live=${live} attemptTick=${live.attemptTick} /></main>`;
}

const root = document.getElementById('app');
root.replaceChildren(); // drop the loading note
render(html`<${App} />`, root);
