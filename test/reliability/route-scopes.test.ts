import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, basic } from '../server/helpers.ts';
import { register } from '../../src/device/link/mobile-client.ts';
import { startTestDevice } from '../helpers/device.ts';
import { SCOPES, REFRESH_SCOPE } from '../../src/shared/scopes.ts';

interface Operation {
  method: string;
  path: string;
  scopes: string[];
}

/** Every operation the OpenAPI document says takes an access token, with the scopes it names. */
async function tokenOperations(baseUrl: string): Promise<Operation[]> {
  const doc = (await (await fetch(`${baseUrl}/docs/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
  };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const scopes = operation.security?.find((s) => s.jwtAuth)?.jwtAuth;
      if (scopes) operations.push({ method: method.toUpperCase(), path, scopes });
    }
  }
  return operations;
}

/** Status of one request; a stream is let go once its status is known. */
async function statusOf(baseUrl: string, op: Operation, token: string): Promise<{ status: number; body: string }> {
  const controller = new AbortController();
  const path = op.path.replace(/\{[^}]+\}/g, 'no-such-id').replace(/\*$/, 'x');
  const response = await fetch(baseUrl + path, {
    method: op.method,
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    controller.abort();
    return { status: response.status, body: '' };
  }
  return { status: response.status, body: await response.text() };
}

/**
 * Every route that takes an access token, read from each runtime's OpenAPI document (so a route
 * added later is covered without naming it here): a token without the route's scope gets 403 with
 * a message naming it; a token with exactly that scope gets past the check (any answer but 401/403).
 */
async function checkEveryRoute(baseUrl: string, issue: (scopes: string[]) => Promise<string>): Promise<number> {
  const operations = await tokenOperations(baseUrl);
  assert.ok(operations.length > 20, `found ${operations.length} operations`);
  const tokens = new Map<string, string>();
  const tokenFor = async (scopes: string[]) => {
    const key = scopes.join(' ');
    if (!tokens.has(key)) tokens.set(key, await issue(scopes));
    return tokens.get(key)!;
  };
  const failures: string[] = [];
  let checked = 0;
  for (const op of operations) {
    if (op.scopes.includes(REFRESH_SCOPE)) continue; // a refresh token: covered by the token tests
    const other = SCOPES.find((s) => !op.scopes.includes(s))!;
    const denied = await statusOf(baseUrl, op, await tokenFor([other]));
    if (denied.status !== 403 || !denied.body.includes(`scope required: ${op.scopes[0]}`))
      failures.push(`${op.method} ${op.path} with ${other}: ${denied.status} ${denied.body.slice(0, 120)}`);
    const allowed = await statusOf(baseUrl, op, await tokenFor(op.scopes));
    if (allowed.status === 401 || allowed.status === 403)
      failures.push(
        `${op.method} ${op.path} with ${op.scopes.join(',')}: ${allowed.status} ${allowed.body.slice(0, 120)}`,
      );
    checked++;
  }
  assert.deepEqual(failures, []);
  return checked;
}

test('server: every route that takes an access token checks its own scope', async () => {
  const server = await startTestServer();
  try {
    const phone = await register(server.url, { privateToken: server.privateToken });
    const auth = basic(phone.login, phone.password!);
    const checked = await checkEveryRoute(server.url, async (scopes) => {
      const reply = await fetch(`${server.thirdPartyUrl}/auth/token`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ scopes }),
      });
      assert.equal(reply.status, 201, await reply.clone().text());
      return ((await reply.json()) as { access_token: string }).access_token;
    });
    assert.ok(checked > 20);
  } finally {
    await server.cleanup();
  }
});

test('device Local API: every route that takes an access token checks its own scope', async () => {
  const device = await startTestDevice();
  try {
    const checked = await checkEveryRoute(device.url, async (scopes) => {
      const reply = await device.api.call('POST', '/auth/token', { scopes });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body.access_token as string;
    });
    assert.ok(checked > 20);
  } finally {
    await device.cleanup();
  }
});
