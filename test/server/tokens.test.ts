import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../src/shared/clock.ts';
import { startTestServer, newDevice, call, basic, bearer, officialClient, HttpStatusError } from './helpers.ts';
import type { TestServer } from './helpers.ts';
import { openStream } from '../helpers/sse.ts';

// A clock the test can move forward: tokens expire without waiting.
let skewMs = 0;
const clock = { ...systemClock, now: () => Date.now() + skewMs };

let server: TestServer;
before(async () => {
  server = await startTestServer({ clock });
});
after(async () => {
  await server.cleanup();
});

const url = (path: string) => `${server.thirdPartyUrl}${path}`;

async function issue(auth: string, scopes: string[], ttl?: number) {
  const reply = await call(url('/auth/token'), 'POST', {
    auth,
    body: ttl === undefined ? { scopes } : { scopes, ttl },
  });
  assert.equal(reply.status, 201, reply.text);
  return reply.body as {
    id: string;
    token_type: string;
    access_token: string;
    refresh_token: string;
    expires_at: string;
  };
}

test('POST /auth/token: 201 with a Bearer pair; the token works within its scopes, 403 with a message outside', async () => {
  const { login, password } = await newDevice(server);
  const auth = basic(login, password);
  const before = Date.now();
  const issued = await issue(auth, ['webhooks:list', 'messages:list'], 600);
  assert.deepEqual(Object.keys(issued).sort(), ['access_token', 'expires_at', 'id', 'refresh_token', 'token_type']);
  assert.equal(issued.token_type, 'Bearer');
  assert.match(issued.id, /^[A-Za-z0-9_-]{21}$/);
  const after = Date.now();
  const expiresAt = Date.parse(issued.expires_at);
  // whole seconds (JWT times), so up to 1 s before the request's own time + 600 s
  assert.ok(
    expiresAt >= before - 1000 + 600_000 && expiresAt <= after + 600_000,
    `expires 600 s after issue, got ${expiresAt - before} ms after the request started`,
  );

  // HS256, issuer and claims as upstream writes them
  const [header, payload] = issued.access_token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
  assert.equal(payload.iss, 'sms-gate.app');
  assert.equal(payload.jti, issued.id);
  assert.deepEqual(payload.scopes, ['webhooks:list', 'messages:list']);

  const token = bearer(issued.access_token);
  assert.equal((await call(url('/webhooks'), 'GET', { auth: token })).status, 200);
  assert.equal((await call(url('/messages'), 'GET', { auth: token })).status, 200);
  // the alias prefix takes the same token
  assert.equal((await call(`${server.url}/api/3rdparty/v1/webhooks`, 'GET', { auth: token })).status, 200);

  const denied = await call(url('/webhooks'), 'POST', {
    auth: token,
    body: { url: 'https://example.com/hook', event: 'sms:received' },
  });
  assert.equal(denied.status, 403);
  assert.deepEqual(denied.body, { message: 'scope required: webhooks:write' });
  assert.equal((await call(url('/devices'), 'GET', { auth: token })).status, 403);
  assert.equal((await call(url('/settings'), 'GET', { auth: token })).status, 403);
  // a token cannot mint tokens without tokens:manage
  const mint = await call(url('/auth/token'), 'POST', { auth: token, body: { scopes: ['webhooks:list'] } });
  assert.equal(mint.status, 403);
  assert.deepEqual(mint.body, { message: 'scope required: tokens:manage' });
  // the dashboard's pages take Basic auth only
  assert.equal((await call(`${server.url}/`, 'GET', { auth: token })).status, 403);

  // Basic keeps full access
  assert.equal((await call(url('/devices'), 'GET', { auth })).status, 200);
});

test('all:any grants every route; tokens:manage mints and revokes; a token stays in its user', async () => {
  const a = await newDevice(server);
  const b = await newDevice(server);
  const manager = await issue(basic(a.login, a.password), ['tokens:manage']);
  const all = await issue(bearer(manager.access_token), ['all:any']);
  assert.equal((await call(url('/devices'), 'GET', { auth: bearer(all.access_token) })).status, 200);
  const devices = (await call(url('/devices'), 'GET', { auth: bearer(all.access_token) })).body as { id: string }[];
  assert.deepEqual(
    devices.map((d) => d.id),
    [a.registration.id],
    "the token sees its user's devices only",
  );
  // B cannot revoke A's token: 204 (as for any unknown id), and A's token still works
  const bToken = await issue(basic(b.login, b.password), ['tokens:manage']);
  assert.equal((await call(url(`/auth/token/${all.id}`), 'DELETE', { auth: bearer(bToken.access_token) })).status, 204);
  assert.equal((await call(url('/devices'), 'GET', { auth: bearer(all.access_token) })).status, 200);
  // A's manager token revokes it
  assert.equal(
    (await call(url(`/auth/token/${all.id}`), 'DELETE', { auth: bearer(manager.access_token) })).status,
    204,
  );
  const revoked = await call(url('/devices'), 'GET', { auth: bearer(all.access_token) });
  assert.equal(revoked.status, 401);
  assert.match(revoked.body.message, /revoked/);
});

test('bad token requests get 400 with a message', async () => {
  const { login, password } = await newDevice(server);
  const auth = basic(login, password);
  for (const body of [
    { scopes: [] },
    { scopes: ['messages:fly'] },
    { scopes: ['tokens:refresh'] },
    { scopes: ['messages:send'], ttl: -1 },
    { scopes: ['messages:send'], ttl: 1.5 },
    { scopes: 'messages:send' },
    {},
  ]) {
    const reply = await call(url('/auth/token'), 'POST', { auth, body });
    assert.equal(reply.status, 400, JSON.stringify(body));
    assert.equal(typeof reply.body.message, 'string');
  }
  const unknown = await call(url('/auth/token'), 'POST', { auth, body: { scopes: ['messages:fly'] } });
  assert.match(unknown.body.message, /unknown "messages:fly"/);
  // a ttl above the most is cut to it
  const long = await issue(auth, ['messages:send'], 10 * 24 * 3600);
  assert.ok(Date.parse(long.expires_at) - Date.now() <= 24 * 3600 * 1000 + 1000);
});

test('an expired token gets 401; a forged or foreign one too', async () => {
  const { login, password } = await newDevice(server);
  const issued = await issue(basic(login, password), ['devices:list'], 60);
  const auth = bearer(issued.access_token);
  assert.equal((await call(url('/devices'), 'GET', { auth })).status, 200);
  skewMs = 61_000;
  try {
    const expired = await call(url('/devices'), 'GET', { auth });
    assert.equal(expired.status, 401);
    assert.match(expired.body.message, /expired/);
  } finally {
    skewMs = 0;
  }
  // the same claims signed with another key
  const [h, p] = issued.access_token.split('.');
  const forged = `${h}.${p}.${Buffer.alloc(32, 7).toString('base64url')}`;
  assert.equal((await call(url('/devices'), 'GET', { auth: bearer(forged) })).status, 401);
  assert.equal((await call(url('/devices'), 'GET', { auth: bearer('not-a-jwt') })).status, 401);
});

test('refresh: a new pair, the old refresh token spent; replaying it revokes the whole family', async () => {
  const { login, password } = await newDevice(server);
  const first = await issue(basic(login, password), ['devices:list']);

  // an access token cannot refresh, a refresh token cannot do anything else
  const wrong = await call(url('/auth/token/refresh'), 'POST', { auth: bearer(first.access_token) });
  assert.equal(wrong.status, 403);
  assert.deepEqual(wrong.body, { message: 'scope required: tokens:refresh' });
  const refreshAsAccess = await call(url('/devices'), 'GET', { auth: bearer(first.refresh_token) });
  assert.equal(refreshAsAccess.status, 403);
  assert.equal((await call(url('/auth/token/refresh'), 'POST', { auth: basic(login, password) })).status, 403);

  const refreshed = await call(url('/auth/token/refresh'), 'POST', { auth: bearer(first.refresh_token) });
  assert.equal(refreshed.status, 201, refreshed.text);
  const second = refreshed.body;
  assert.equal(second.token_type, 'Bearer');
  assert.notEqual(second.access_token, first.access_token);
  assert.notEqual(second.refresh_token, first.refresh_token);
  assert.equal((await call(url('/devices'), 'GET', { auth: bearer(second.access_token) })).status, 200);
  assert.equal(
    (await call(url('/webhooks'), 'GET', { auth: bearer(second.access_token) })).status,
    403,
    'the scopes carry over, no more',
  );

  // the spent refresh token again: 401, and everything of the family is revoked
  const replay = await call(url('/auth/token/refresh'), 'POST', { auth: bearer(first.refresh_token) });
  assert.equal(replay.status, 401);
  assert.match(replay.body.message, /used already/);
  for (const token of [first.access_token, second.access_token]) {
    assert.equal((await call(url('/devices'), 'GET', { auth: bearer(token) })).status, 401);
  }
  assert.equal((await call(url('/auth/token/refresh'), 'POST', { auth: bearer(second.refresh_token) })).status, 401);
});

test("GET /auth/token lists the user's grants newest first with their state, never a token; a refreshed grant is listed once, by its newest access token", async () => {
  const { login, password } = await newDevice(server);
  const auth = basic(login, password);
  const other = await newDevice(server);
  await issue(basic(other.login, other.password), ['devices:list']);
  const short = await issue(auth, ['devices:list'], 60);
  const revoked = await issue(auth, ['webhooks:list']);
  const refreshedFrom = await issue(auth, ['messages:list', 'messages:send']);
  const refreshed = await call(url('/auth/token/refresh'), 'POST', { auth: bearer(refreshedFrom.refresh_token) });
  assert.equal(refreshed.status, 201);
  assert.equal((await call(url(`/auth/token/${revoked.id}`), 'DELETE', { auth })).status, 204);
  const list = async () => {
    const reply = await call(url('/auth/token'), 'GET', { auth });
    assert.equal(reply.status, 200, reply.text);
    return reply.body as { id: string; scopes: string[]; state: string; issuedAt: string; revokedAt: string | null }[];
  };
  const grants = await list();
  const byId = (a: string[], b: string[]) => (a[0] < b[0] ? -1 : 1);
  assert.deepEqual(
    grants.map((g) => [g.id, g.scopes, g.state]).sort(byId as never),
    (
      [
        [refreshed.body.id, ['messages:list', 'messages:send'], 'active'],
        [revoked.id, ['webhooks:list'], 'revoked'],
        [short.id, ['devices:list'], 'active'],
      ] as never[]
    ).sort(byId as never),
  );
  const issued = grants.map((g) => Date.parse(g.issuedAt));
  assert.deepEqual(
    issued,
    [...issued].sort((a, b) => b - a),
    'newest first',
  );
  const revokedAt = grants.find((g) => g.id === revoked.id)!.revokedAt;
  assert.ok(revokedAt && Date.parse(revokedAt) <= Date.now());
  assert.ok(!JSON.stringify(grants).includes(short.access_token.split('.')[2]), 'no token in the list');
  skewMs = 61_000;
  try {
    assert.equal((await list()).find((g) => g.id === short.id)?.state, 'renewable', 'its refresh token still works');
  } finally {
    skewMs = 0;
  }
  // a token with tokens:manage may list; one without it may not
  const manager = await issue(auth, ['tokens:manage']);
  assert.equal((await call(url('/auth/token'), 'GET', { auth: bearer(manager.access_token) })).status, 200);
  assert.equal((await call(url('/auth/token'), 'GET', { auth: bearer(short.access_token) })).status, 403);
});

test('refresh: the same refresh token twice at once yields at most one pair, and that pair is revoked', async () => {
  const { login, password } = await newDevice(server);
  for (let round = 0; round < 5; round++) {
    const issued = await issue(basic(login, password), ['devices:list']);
    const replies = await Promise.all(
      [0, 1, 2].map(() => call(url('/auth/token/refresh'), 'POST', { auth: bearer(issued.refresh_token) })),
    );
    const pairs = replies.filter((r) => r.status === 201);
    assert.ok(pairs.length <= 1, `round ${round}: ${pairs.length} pairs`);
    assert.ok(
      replies.every((r) => r.status === 201 || r.status === 401),
      replies.map((r) => r.status).join(),
    );
    for (const pair of pairs) {
      assert.equal((await call(url('/devices'), 'GET', { auth: bearer(pair.body.access_token) })).status, 401);
    }
    assert.equal((await call(url('/devices'), 'GET', { auth: bearer(issued.access_token) })).status, 401);
  }
});

test('the official client\'s token mode: login "" and the token as password', async () => {
  const { login, password, registration } = await newDevice(server);
  const issued = await issue(basic(login, password), ['devices:list', 'webhooks:list']);
  const client = officialClient('', issued.access_token, server.thirdPartyUrl);
  assert.deepEqual(
    (await client.getDevices()).map((d) => d.id),
    [registration.id],
  );
  assert.deepEqual(await client.getWebhooks(), []);
  await assert.rejects(
    client.send({ message: 'hi', phoneNumbers: ['+15551234567'] }),
    (error: unknown) =>
      error instanceof HttpStatusError && error.status === 403 && /scope required: messages:send/.test(error.body),
  );
  assert.equal((await call(url(`/auth/token/${issued.id}`), 'DELETE', { auth: basic(login, password) })).status, 204);
  await assert.rejects(
    client.getDevices(),
    (error: unknown) => error instanceof HttpStatusError && error.status === 401,
  );
});

test('streams end when what opened them stops counting: a revoked token, a changed password, a deleted device', async () => {
  const { login, password, registration } = await newDevice(server);
  const auth = basic(login, password);
  const issued = await issue(auth, ['deliveries:read']);
  const other = await issue(auth, ['deliveries:read']);

  const byToken = await openStream(url('/events/stream'), bearer(issued.access_token));
  const byOtherToken = await openStream(url('/events/stream'), bearer(other.access_token));
  const byPassword = await openStream(url('/events/stream'), auth);
  const devicePush = await openStream(`${server.mobileUrl}/events`, bearer(registration.token));
  const settled = (s: { ended: Promise<void> }) =>
    Promise.race([s.ended.then(() => true), new Promise((r) => setTimeout(() => r(false), 300))]);

  assert.equal((await call(url(`/auth/token/${issued.id}`), 'DELETE', { auth })).status, 204);
  assert.equal(await settled(byToken), true, 'the revoked token’s stream ended');
  assert.equal(await settled(byOtherToken), false, 'another token’s stream stays');
  assert.equal(await settled(byPassword), false);

  const changed = await call(`${server.mobileUrl}/user/password`, 'PATCH', {
    auth: bearer(registration.token),
    body: { currentPassword: password, newPassword: 'a new password of 14+' },
  });
  assert.equal(changed.status, 204, changed.text);
  assert.equal(await settled(byPassword), true, 'the stream opened with the old password ended');
  assert.equal(await settled(byOtherToken), true, 'and so did the user’s other live streams');
  assert.equal(await settled(devicePush), false, 'the device’s push stream is not the password’s');
  assert.equal((await call(url('/devices'), 'GET', { auth })).status, 401, 'the old password stopped at once');

  const newAuth = basic(login, 'a new password of 14+');
  assert.equal((await call(url(`/devices/${registration.id}`), 'DELETE', { auth: newAuth })).status, 204);
  assert.equal(await settled(devicePush), true, 'the deleted device’s push stream ended');
});

test('a stream opened with an access token ends when the token expires; one opened with a password stays', async () => {
  const { login, password } = await newDevice(server);
  const auth = basic(login, password);
  const issued = await issue(auth, ['deliveries:read'], 2); // JWT times are whole seconds: 1–2 s from now
  const byToken = await openStream(url('/events/stream'), bearer(issued.access_token));
  const byPassword = await openStream(url('/events/stream'), auth);
  const started = Date.now();
  const endedAt = byToken.ended.then(() => Date.now());
  try {
    const open = await Promise.race([
      byToken.ended.then(() => false),
      new Promise((r) => setTimeout(() => r(true), 500)),
    ]);
    assert.equal(open, true, 'open before the expiry');
    const ended = await Promise.race([endedAt, new Promise<number>((r) => setTimeout(() => r(-1), 4000))]);
    assert.notEqual(ended, -1, 'the stream ended at the expiry');
    assert.ok(ended - started <= Date.parse(issued.expires_at) - started + 1000, 'at the expiry, not much later');
    const stays = await Promise.race([
      byPassword.ended.then(() => false),
      new Promise((r) => setTimeout(() => r(true), 200)),
    ]);
    assert.equal(stays, true, 'a password has no expiry');
    assert.equal((await call(url('/events/stream'), 'GET', { auth: bearer(issued.access_token) })).status, 401);
  } finally {
    byToken.close();
    byPassword.close();
  }
});

test('a device rotates its token: the new one works, the old one and its stream stop at once', async () => {
  const { registration } = await newDevice(server);
  const push = await openStream(`${server.mobileUrl}/events`, bearer(registration.token));
  const rotated = await call(`${server.mobileUrl}/device/token`, 'POST', { auth: bearer(registration.token) });
  assert.equal(rotated.status, 201, rotated.text);
  assert.match(rotated.body.token, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(rotated.body.token, registration.token);
  // GET /mobile/v1/device answers anyone (with their address), so the old token is probed where it must be valid
  assert.equal((await call(`${server.mobileUrl}/message`, 'GET', { auth: bearer(registration.token) })).status, 401);
  const me = await call(`${server.mobileUrl}/device`, 'GET', { auth: bearer(rotated.body.token) });
  assert.equal(me.status, 200);
  assert.equal(me.body.device.id, registration.id);
  const ended = await Promise.race([push.ended.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]);
  assert.equal(ended, true, 'the stream opened with the old token ended');

  // two rotations with the same token at once: one new token, never two
  const both = await Promise.all(
    [0, 1].map(() => call(`${server.mobileUrl}/device/token`, 'POST', { auth: bearer(rotated.body.token) })),
  );
  const winners = both.filter((r) => r.status === 201);
  assert.equal(winners.length, 1, both.map((r) => `${r.status} ${r.text}`).join(' | '));
  assert.ok(
    // the loser's token is spent (401) or in use (409); after the wrong tokens other tests in this
    // file sent from this address, the login throttle may answer first (429)
    both.some((r) => r.status === 409 || r.status === 401 || r.status === 429),
    both.map((r) => `${r.status} ${r.text}`).join(' | '),
  );
  assert.equal((await call(`${server.mobileUrl}/message`, 'GET', { auth: bearer(winners[0].body.token) })).status, 200);
});

test('tokens are stored as hashes: neither token is in the database file', async () => {
  const { login, password } = await newDevice(server);
  const issued = await issue(basic(login, password), ['devices:list']);
  const files = readdirSync(server.dataDir).filter((f) => f.startsWith('server.db'));
  assert.ok(files.length > 0);
  const content = Buffer.concat(files.map((f) => readFileSync(join(server.dataDir, f))));
  for (const token of [issued.access_token, issued.refresh_token]) {
    assert.equal(content.includes(token.split('.')[2]), false, 'the signature part is nowhere');
  }
  assert.equal(content.includes(issued.id), true, 'the id is (the check reads the file at all)');
});
