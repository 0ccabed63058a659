import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { basic, bearer, call, eventually, newDevice, tempDir } from '../server/helpers.ts';
import { createTestDatabase, query, type TestDatabase } from './helpers.ts';

/**
 * One server on PostgreSQL, in process: what only PostgreSQL does to a request (refuse a NUL byte
 * in a text) and to the dashboards' live streams (a lost LISTEN connection).
 */
let database: TestDatabase;
let server: RunningServer;
let dir: ReturnType<typeof tempDir>;

before(async () => {
  database = await createTestDatabase();
  dir = tempDir();
  server = await createServer({ dataDir: dir.path, port: 0, db: database.url });
});

after(async () => {
  await server.close();
  await database.drop();
  dir.remove();
});

// Values PostgreSQL refuses that a schema lets through get a 400 that says so, never a 500.
test('PostgreSQL: a NUL byte anywhere in a request gets a 400 with a message', async () => {
  const phone = await newDevice(server, 'nul phone');
  const auth = basic(phone.login, phone.password);
  const device = bearer(phone.registration.token);
  for (const path of ['/messages/a%00b', '/deliveries/a%00b', '/deliveries?deviceId=a%00b', '/devices/a%00b/webhooks']) {
    const reply = await call(`${server.thirdPartyUrl}${path}`, 'GET', { auth });
    assert.equal(reply.status, 400, path);
    assert.match(reply.body.message, /cannot be stored|invalid/, path);
  }
  const delivery = {
    id: 'd1', eventId: 'e1', event: 'sms:received', webhookId: 'w', source: 'Local', url: 'https://e.com/h\u0000', state: 'pending',
    attempts: 0, nextAttemptAt: 1, lastStatus: null, lastError: null, createdAt: 1, updatedAt: 1, attemptLog: [],
  };
  const refused = await call(`${server.mobileUrl}/device/activity`, 'POST', { auth: device, body: { deliveries: [delivery] } });
  assert.equal(refused.status, 400);
  assert.match(refused.body.message, /cannot be stored/);
  // the same report without the NUL byte is stored
  const stored = await call(`${server.mobileUrl}/device/activity`, 'POST', { auth: device, body: { deliveries: [{ ...delivery, url: 'https://e.com/h' }] } });
  assert.equal(stored.status, 204);
  assert.equal((await call(`${server.thirdPartyUrl}/deliveries/d1`, 'GET', { auth })).body.url, 'https://e.com/h');
});

test("PostgreSQL: when the node's LISTEN connection is lost, its dashboards' live streams end (so they reconnect and reload) instead of silently missing notices", async () => {
  const phone = await newDevice(server, 'streamed phone');
  const controller = new AbortController();
  const response = await fetch(`${server.thirdPartyUrl}/events/stream`, { headers: { authorization: basic(phone.login, phone.password) }, signal: controller.signal });
  assert.equal(response.status, 200);
  let ended = false;
  const reading = (async () => {
    for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>);
    ended = true;
  })().catch(() => {});
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ended, false, 'the stream stays open while nothing is wrong');
    const pid = (server.context.hub as unknown as { listener: { processID: number } }).listener.processID;
    const [killed] = await query(database.url, 'SELECT pg_terminate_backend($1) AS ok', [pid]);
    assert.equal(killed.ok, true);
    await eventually(() => ended, 'the live stream to end after the gap', 5000);
  } finally {
    controller.abort();
    await reading;
  }
});
