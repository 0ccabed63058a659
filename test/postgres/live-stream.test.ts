import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { basic, eventually, newDevice, tempDir } from '../server/helpers.ts';
import { createTestDatabase, query, type TestDatabase } from './helpers.ts';

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
