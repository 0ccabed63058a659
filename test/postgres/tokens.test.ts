import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { createTestDatabase, type TestDatabase } from './helpers.ts';
import { newDevice, call, basic, bearer, eventually } from '../server/helpers.ts';
import { openStream } from '../helpers/sse.ts';

/**
 * Two server nodes on one PostgreSQL database, each with its own pool and LISTEN connection (what
 * runs behind a load balancer): tokens, revocations and password changes made on one hold on the
 * other at once.
 */
let db: TestDatabase;
let nodeA: RunningServer;
let nodeB: RunningServer;

before(async () => {
  db = await createTestDatabase();
  nodeA = await createServer({ db: db.url, port: 0, privateToken: 'tokens-test-private-token' });
  nodeB = await createServer({ db: db.url, port: 0, privateToken: 'tokens-test-private-token' });
});

after(async () => {
  await nodeA?.close();
  await nodeB?.close();
  await db?.drop();
});

const on = (node: RunningServer, path: string) => `${node.thirdPartyUrl}${path}`;

async function issue(node: RunningServer, auth: string, scopes: string[]) {
  const reply = await call(on(node, '/auth/token'), 'POST', { auth, body: { scopes } });
  assert.equal(reply.status, 201, reply.text);
  return reply.body as { id: string; access_token: string; refresh_token: string };
}

const endsWithin = (stream: { ended: Promise<void> }, ms: number) =>
  Promise.race([stream.ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test('a token issued on one node works on the other, and once revoked there, fails on both at once', async () => {
  const { login, password } = await newDevice(nodeA);
  const issued = await issue(nodeA, basic(login, password), ['devices:list', 'deliveries:read']);
  const auth = bearer(issued.access_token);
  assert.equal((await call(on(nodeB, '/devices'), 'GET', { auth })).status, 200);
  assert.equal((await call(on(nodeB, '/webhooks'), 'GET', { auth })).status, 403, 'scopes hold on node B too');

  const stream = await openStream(on(nodeB, '/events/stream'), auth);
  assert.equal(
    (await call(on(nodeA, `/auth/token/${issued.id}`), 'DELETE', { auth: basic(login, password) })).status,
    204,
  );
  // no waiting: every request checks the database
  assert.equal((await call(on(nodeB, '/devices'), 'GET', { auth })).status, 401);
  assert.equal((await call(on(nodeA, '/devices'), 'GET', { auth })).status, 401);
  assert.equal(await endsWithin(stream, 2000), true, "node B ended the revoked token's stream");
  const listed = await call(on(nodeB, '/auth/token'), 'GET', { auth: basic(login, password) });
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(
    listed.body.map((g: { id: string; state: string; scopes: string[] }) => [g.id, g.state, g.scopes]),
    [[issued.id, 'revoked', ['devices:list', 'deliveries:read']]],
    'node B lists the grant as revoked',
  );
});

test('the same refresh token on both nodes at once yields at most one pair, and it is revoked', async () => {
  const { login, password } = await newDevice(nodeA);
  for (let round = 0; round < 5; round++) {
    const issued = await issue(nodeA, basic(login, password), ['devices:list']);
    const replies = await Promise.all(
      [nodeA, nodeB, nodeA, nodeB].map((node) =>
        call(on(node, '/auth/token/refresh'), 'POST', { auth: bearer(issued.refresh_token) }),
      ),
    );
    const pairs = replies.filter((r) => r.status === 201);
    assert.ok(pairs.length <= 1, `round ${round}: ${replies.map((r) => r.status).join()}`);
    assert.ok(replies.every((r) => r.status === 201 || r.status === 401));
    for (const pair of pairs) {
      for (const node of [nodeA, nodeB]) {
        assert.equal((await call(on(node, '/devices'), 'GET', { auth: bearer(pair.body.access_token) })).status, 401);
      }
    }
  }
});

test('a password changed on one node stops working on the other at once, and ends its streams there', async () => {
  const { login, password, registration } = await newDevice(nodeA);
  const oldAuth = basic(login, password);
  // node B has verified the old password and remembers it (for 30 s by default)
  assert.equal((await call(on(nodeB, '/devices'), 'GET', { auth: oldAuth })).status, 200);
  assert.equal((await call(on(nodeB, '/devices'), 'GET', { auth: oldAuth })).status, 200);
  const live = await openStream(on(nodeB, '/events/stream'), oldAuth);

  const changed = await call(`${nodeA.mobileUrl}/user/password`, 'PATCH', {
    auth: bearer(registration.token),
    body: { currentPassword: password, newPassword: 'another password, 14+' },
  });
  assert.equal(changed.status, 204, changed.text);
  const changedAt = Date.now();
  // The NOTIFY takes milliseconds to arrive, not the 30 s the remembered login would last.
  await eventually(
    async () => (await call(on(nodeB, '/devices'), 'GET', { auth: oldAuth })).status === 401,
    'the old password refused on node B',
    1000,
    5,
  );
  assert.ok(Date.now() - changedAt < 1000);
  assert.equal(await endsWithin(live, 2000), true, 'the stream opened with the old password ended on node B');
  assert.equal((await call(on(nodeB, '/devices'), 'GET', { auth: basic(login, 'another password, 14+') })).status, 200);
});

test('a device deleted through one node loses its push stream on the other', async () => {
  const { login, password, registration } = await newDevice(nodeA);
  const push = await openStream(`${nodeB.mobileUrl}/events`, bearer(registration.token));
  assert.equal(await endsWithin(push, 200), false);
  assert.equal(
    (await call(on(nodeA, `/devices/${registration.id}`), 'DELETE', { auth: basic(login, password) })).status,
    204,
  );
  assert.equal(await endsWithin(push, 2000), true, 'node B ended the deleted device’s stream');
  assert.equal((await call(`${nodeB.mobileUrl}/message`, 'GET', { auth: bearer(registration.token) })).status, 401);
});
