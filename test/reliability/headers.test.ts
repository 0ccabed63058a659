import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { registeredRoutes } from '../../src/shared/openapi.ts';
import { startTestServer, newDevice, basic, bearer } from '../server/helpers.ts';
import { startTestDevice } from '../helpers/device.ts';

// What every answer carries, whichever route or failure produced it. Routes are taken from the
// apps themselves, so a route added later is checked too.

interface Seen {
  what: string;
  status: number;
  headers: Record<string, string>;
}

const headersOf = (response: Response): Record<string, string> => {
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => (out[name] = value));
  return out;
};

/** Raw bytes in, the status and headers of the answer out (the server closes the connection). */
function rawExchange(port: number, request: string): Promise<{ status: number; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => {
      const [head] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers });
    });
    socket.on('error', reject);
    socket.write(request);
    setTimeout(() => (socket.destroy(), reject(new Error('no answer within 5 s'))), 5000).unref();
  });
}

/** Every GET route with credentials, and the failures every app has: what each answer's headers are. */
async function collect(base: string, app: Parameters<typeof registeredRoutes>[0], authFor: (url: string) => string) {
  const seen: Seen[] = [];
  const fetchOne = async (what: string, url: string, init: RequestInit = {}) => {
    const controller = new AbortController();
    const response = await fetch(url, { ...init, signal: controller.signal });
    if (/event-stream/.test(response.headers.get('content-type') ?? '')) controller.abort();
    else await response.arrayBuffer();
    seen.push({ what, status: response.status, headers: headersOf(response) });
  };
  for (const route of registeredRoutes(app)) {
    if (route.method !== 'GET') continue;
    const path = route.url.replace(/:[A-Za-z0-9_]+/g, 'no-such-id').replace(/\*$/, 'index.html');
    await fetchOne(`GET ${route.url}`, base + path, { headers: { authorization: authFor(route.url) } });
  }
  await fetchOne('unknown route', `${base}/no/such/route`, { headers: { authorization: authFor('/') } });
  await fetchOne('no credentials', `${base}/no/such/route`);
  await fetchOne('bad %-escape', `${base}/%zz`);
  const port = Number(new URL(base).port);
  for (const [what, bytes] of [
    ['no Host', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['unknown Expect', 'GET / HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nConnection: close\r\n\r\n'],
    ['not HTTP', 'HELLO\r\n\r\n'],
  ]) {
    seen.push({ what, ...(await rawExchange(port, bytes)) });
  }
  return seen;
}

/** Answers whose Content-Type says JSON but is not exactly `application/json`. */
function jsonTypeProblems(seen: Seen[]): string[] {
  const json = seen.filter((s) => /json/.test(s.headers['content-type'] ?? ''));
  assert.ok(json.length > 5, `JSON answers seen: ${json.length}`);
  return json
    .filter((s) => s.headers['content-type'] !== 'application/json')
    .map((s) => `${s.what} (${s.status}): ${s.headers['content-type']}`);
}

/** Answers without nosniff, and HTML pages without their policy and frame protection. */
function protectionProblems(seen: Seen[]): string[] {
  const pages = seen.filter((s) => /text\/html/.test(s.headers['content-type'] ?? ''));
  assert.ok(pages.length >= 2, `pages seen: ${pages.map((p) => p.what).join(', ')}`);
  assert.ok(seen.length > 20, `answers seen: ${seen.length}`);
  return [
    ...seen
      .filter((s) => s.headers['x-content-type-options'] !== 'nosniff')
      .map((s) => `${s.what} (${s.status}): no nosniff`),
    ...pages
      .filter(
        (s) =>
          !/(^|; )default-src 'self'/.test(s.headers['content-security-policy'] ?? '') ||
          !/frame-ancestors 'none'/.test(s.headers['content-security-policy'] ?? '') ||
          s.headers['x-frame-options'] !== 'DENY',
      )
      .map(
        (s) =>
          `${s.what} (${s.status}): CSP ${s.headers['content-security-policy']}, XFO ${s.headers['x-frame-options']}`,
      ),
  ];
}

test('server: every JSON answer is `Content-Type: application/json` exactly; every answer nosniff, every page a CSP and no framing', async () => {
  const server = await startTestServer();
  try {
    const { login, password, registration } = await newDevice(server);
    const seen = await collect(server.url, server.app, (url) =>
      /^(\/api)?\/mobile\/v1\//.test(url) ? bearer(registration.token) : basic(login, password),
    );
    // a POST that fails validation, answered by the error handler
    const invalid = await fetch(`${server.thirdPartyUrl}/webhooks`, {
      method: 'POST',
      headers: { authorization: basic(login, password), 'content-type': 'application/json' },
      body: '{"url":',
    });
    seen.push({ what: 'malformed JSON', status: invalid.status, headers: headersOf(invalid) });
    assert.deepEqual(jsonTypeProblems(seen), []);
    assert.deepEqual(protectionProblems(seen), []);
  } finally {
    await server.cleanup();
  }
});

test('device: every JSON answer is `Content-Type: application/json` exactly; every answer nosniff, every page a CSP and no framing', async () => {
  const device = await startTestDevice();
  try {
    const seen = await collect(device.url, device.app, () => device.api.authorization);
    assert.deepEqual(jsonTypeProblems(seen), []);
    assert.deepEqual(protectionProblems(seen), []);
  } finally {
    await device.cleanup();
  }
});
