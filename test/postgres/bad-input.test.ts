import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { basic, bearer, call, newDevice, tempDir } from '../server/helpers.ts';
import { createTestDatabase, type TestDatabase } from './helpers.ts';

/**
 * Values PostgreSQL refuses that a schema lets through (a NUL byte in a text) get a 400 that says
 * so, never a 500: on the older routes and on the activity report alike.
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
