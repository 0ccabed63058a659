import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDevice, tempDir } from '../helpers/device.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { openStream } from '../helpers/sse.ts';

let skewMs = 0;
const clock = { ...systemClock, now: () => Date.now() + skewMs };

let device: Awaited<ReturnType<typeof startTestDevice>>;
before(async () => {
  device = await startTestDevice({ clock });
});
after(async () => {
  await device.cleanup();
});

const withToken = (token: string) => ({ authorization: `Bearer ${token}` });

async function issue(scopes: string[], ttl?: number) {
  const reply = await device.api.call('POST', '/auth/token', ttl === undefined ? { scopes } : { scopes, ttl });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body as {
    id: string;
    token_type: string;
    access_token: string;
    refresh_token: string;
    expires_at: string;
  };
}

test('Local API: a token works within its scopes; all:any everywhere; 403 with a message outside', async () => {
  const issued = await issue(['webhooks:list']);
  assert.equal(issued.token_type, 'Bearer');
  const token = withToken(issued.access_token);
  assert.equal((await device.api.call('GET', '/webhooks', undefined, token)).status, 200);
  const denied = await device.api.call('POST', '/message', { message: 'hi', phoneNumbers: ['+15551234567'] }, token);
  assert.equal(denied.status, 403);
  assert.deepEqual(denied.body, { message: 'scope required: messages:send' });

  const all = withToken((await issue(['all:any'])).access_token);
  const sent = await device.api.call('POST', '/message', { message: 'hi', phoneNumbers: ['+15551234567'] }, all);
  assert.equal(sent.status, 202);
  assert.equal((await device.api.call('GET', '/dashboard/overview', undefined, all)).status, 200);
  // a request for no route: a valid token gets the 404, not a 403
  assert.equal((await device.api.call('GET', '/no/such/route', undefined, all)).status, 404);
  assert.equal((await device.api.call('GET', '/no/such/route', undefined, withToken('nope'))).status, 401);
});

test('Local API: a stream opened with an access token ends when the token expires; one opened with the password stays', async () => {
  const issued = await issue(['deliveries:read'], 2);
  const byToken = await openStream(`${device.url}/events/stream`, `Bearer ${issued.access_token}`);
  const byPassword = await openStream(`${device.url}/events/stream`, device.api.authorization);
  try {
    const open = await Promise.race([
      byToken.ended.then(() => false),
      new Promise((r) => setTimeout(() => r(true), 500)),
    ]);
    assert.equal(open, true, 'open before the expiry');
    const ended = await Promise.race([
      byToken.ended.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 4000)),
    ]);
    assert.equal(ended, true, 'the stream ended at the expiry');
    const stays = await Promise.race([
      byPassword.ended.then(() => false),
      new Promise((r) => setTimeout(() => r(true), 200)),
    ]);
    assert.equal(stays, true, 'a password has no expiry');
  } finally {
    byToken.close();
    byPassword.close();
  }
});

test('Local API: expired, revoked and replayed tokens get 401', async () => {
  const short = await issue(['webhooks:list'], 30);
  skewMs = 31_000;
  try {
    assert.equal((await device.api.call('GET', '/webhooks', undefined, withToken(short.access_token))).status, 401);
  } finally {
    skewMs = 0;
  }

  const issued = await issue(['webhooks:list']);
  const refreshed = await device.api.call('POST', '/auth/token/refresh', undefined, withToken(issued.refresh_token));
  assert.equal(refreshed.status, 201);
  assert.equal(
    (await device.api.call('GET', '/webhooks', undefined, withToken(refreshed.body.access_token))).status,
    200,
  );
  const replay = await device.api.call('POST', '/auth/token/refresh', undefined, withToken(issued.refresh_token));
  assert.equal(replay.status, 401);
  assert.equal(
    (await device.api.call('GET', '/webhooks', undefined, withToken(refreshed.body.access_token))).status,
    401,
    'the replay revoked the pair it had bought',
  );

  const other = await issue(['webhooks:list']);
  assert.equal((await device.api.call('DELETE', `/auth/token/${other.id}`)).status, 204);
  assert.equal((await device.api.call('GET', '/webhooks', undefined, withToken(other.access_token))).status, 401);
});

test('Local API: tokens survive a restart (the key is kept in device.db) and are stored as hashes', async () => {
  const dataDir = tempDir();
  try {
    const first = await startTestDevice({ dataDir: dataDir.path });
    const issued = (await first.api.call('POST', '/auth/token', { scopes: ['webhooks:list'] })).body as {
      access_token: string;
    };
    await first.cleanup();
    const content = Buffer.concat(
      readdirSync(dataDir.path)
        .filter((f) => f.startsWith('device.db'))
        .map((f) => readFileSync(join(dataDir.path, f))),
    );
    assert.equal(content.includes(issued.access_token.split('.')[2]), false);
    const second = await startTestDevice({ dataDir: dataDir.path });
    try {
      assert.equal((await second.api.call('GET', '/webhooks', undefined, withToken(issued.access_token))).status, 200);
    } finally {
      await second.cleanup();
    }
  } finally {
    dataDir.remove();
  }
});
