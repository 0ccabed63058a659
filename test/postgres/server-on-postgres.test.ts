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
test('PostgreSQL: a NUL byte in a request gets a 400 with a message, except in what a device relays from receivers', async () => {
  const phone = await newDevice(server, 'nul phone');
  const auth = basic(phone.login, phone.password);
  const device = bearer(phone.registration.token);
  for (const path of [
    '/messages/a%00b',
    '/deliveries/a%00b',
    '/deliveries?deviceId=a%00b',
    '/devices/a%00b/webhooks',
  ]) {
    const reply = await call(`${server.thirdPartyUrl}${path}`, 'GET', { auth });
    assert.equal(reply.status, 400, path);
    assert.match(reply.body.message, /cannot be stored|invalid/, path);
  }
  // What a device reports relays what receivers answered: a NUL there is replaced, never the reason
  // to refuse a batch that holds other deliveries too.
  const delivery = {
    id: 'd1',
    eventId: 'e1',
    event: 'sms:received',
    webhookId: 'w',
    source: 'Local',
    url: 'https://e.com/h',
    state: 'failed',
    attempts: 1,
    nextAttemptAt: null,
    lastStatus: 500,
    lastError: 'HTTP 500',
    createdAt: 1,
    updatedAt: 2,
    attemptLog: [
      {
        number: 1,
        startedAt: 1,
        durationMs: 3,
        status: 500,
        error: 'HTTP 500',
        responsePreview: 'bad\u0000answer',
        outcome: 'failed',
      },
    ],
  };
  const clean = {
    ...delivery,
    id: 'd2',
    state: 'succeeded',
    lastStatus: 200,
    lastError: null,
    attemptLog: [{ ...delivery.attemptLog[0], status: 200, error: null, responsePreview: 'ok', outcome: 'succeeded' }],
  };
  const stored = await call(`${server.mobileUrl}/device/activity`, 'POST', {
    auth: device,
    body: { deliveries: [delivery, clean] },
  });
  assert.equal(stored.status, 204, JSON.stringify(stored.body));
  const kept = (await call(`${server.thirdPartyUrl}/deliveries/d1`, 'GET', { auth })).body;
  assert.equal(kept.attemptLog[0].responsePreview, 'bad\uFFFDanswer');
  assert.equal(
    (await call(`${server.thirdPartyUrl}/deliveries/d2`, 'GET', { auth })).body.state,
    'succeeded',
    'the clean delivery of the same report is stored',
  );
});

test("PostgreSQL: when the node's LISTEN connection is lost, its dashboards' live streams end (so they reconnect and reload) instead of silently missing notices", async () => {
  const phone = await newDevice(server, 'streamed phone');
  const controller = new AbortController();
  const response = await fetch(`${server.thirdPartyUrl}/events/stream`, {
    headers: { authorization: basic(phone.login, phone.password) },
    signal: controller.signal,
  });
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
