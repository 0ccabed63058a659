import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { registeredRoutes } from '../../src/shared/openapi.ts';
import type { App } from '../../src/shared/http.ts';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { startTestServer, newDevice, basic, call, tempDir } from '../server/helpers.ts';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { createTestDatabase } from '../postgres/helpers.ts';

// Ids are checked alike on every route of both runtimes and whatever the store: an id SQLite would
// take but PostgreSQL not (a NUL) is refused at the door with a 400 that says why, on SQLite too;
// and an item a report cannot carry costs only itself.

const NUL_ID = 'a%00b';
const LONG_ID = 'x'.repeat(65);

/** Every route with an id in its path, with a NUL id and an over-long one: `METHOD url kind → status message`. */
async function pathIdAnswers(base: string, app: App, authorization: string): Promise<string[]> {
  const lines: string[] = [];
  for (const route of registeredRoutes(app)) {
    if (!/:(id|jti)\b/.test(route.url) || route.method === 'HEAD') continue;
    for (const [kind, id] of [
      ['NUL', NUL_ID],
      ['65 characters', LONG_ID],
    ]) {
      const url = base + route.url.replace(/:(id|jti)\b/, id).replace(/:[A-Za-z0-9_]+/g, '1');
      const reply = await call(url, route.method, {
        auth: authorization,
        ...(['POST', 'PUT', 'PATCH'].includes(route.method) ? { body: {} } : {}),
      });
      lines.push(`${route.method} ${route.url} ${kind} → ${reply.status} ${reply.body?.message}`);
    }
  }
  return lines;
}

const wrongAnswers = (lines: string[]) =>
  lines.filter(
    (line) =>
      !/ NUL → 400 invalid params: (id|jti) must not contain control characters/.test(line) &&
      !/ 65 characters → 400 invalid params: (id|jti) must NOT have more than 64 characters/.test(line),
  );

/** Webhook ids in bodies: what each bad one gets, and that none was stored. */
async function bodyIdAnswers(webhooksUrl: string, authorization: string): Promise<string[]> {
  const answers: string[] = [];
  for (const [what, body] of [
    ['NUL id', { id: 'nul\u0000id', url: 'https://example.com/h', event: 'sms:received' }],
    ['line break id', { id: 'a\nb', url: 'https://example.com/h', event: 'sms:received' }],
    ['37-character id', { id: 'y'.repeat(37), url: 'https://example.com/h', event: 'sms:received' }],
    ['NUL deviceId', { url: 'https://example.com/h', event: 'sms:received', deviceId: 'd\u0000' }],
  ] as const) {
    const reply = await call(webhooksUrl, 'POST', { auth: authorization, body });
    answers.push(`${what} → ${reply.status} ${reply.body?.message}`);
  }
  const listed = await call(webhooksUrl, 'GET', { auth: authorization });
  assert.deepEqual(listed.body, [], 'no webhook was stored');
  return answers;
}

const EXPECTED_BODY_ANSWERS = [
  'NUL id → 400 invalid body: id must not contain control characters (a NUL, a line break, an escape)',
  'line break id → 400 invalid body: id must not contain control characters (a NUL, a line break, an escape)',
  '37-character id → 400 invalid body: id must NOT have more than 36 characters',
  'NUL deviceId → 400 invalid body: deviceId must not contain control characters (a NUL, a line break, an escape)',
];

test('ids with control characters or too long get the same 400 on every route, on SQLite, on PostgreSQL and on the device', async () => {
  const sqlite = await startTestServer();
  const database = await createTestDatabase();
  const pgDir = tempDir();
  let postgres: RunningServer | undefined;
  const device = await startTestDevice();
  try {
    postgres = await createServer({ dataDir: pgDir.path, port: 0, host: '127.0.0.1', db: database.url });
    const answers: Record<string, string[]> = {};
    for (const [name, server] of [
      ['sqlite', sqlite],
      ['postgres', postgres],
    ] as const) {
      const { login, password } = await newDevice(server);
      const auth = basic(login, password);
      const paths = await pathIdAnswers(server.url, server.app, auth);
      assert.deepEqual(wrongAnswers(paths), [], name);
      assert.ok(paths.length >= 2 * 10, `${name}: ${paths.length} answers`);
      answers[name] = paths;
      assert.deepEqual(await bodyIdAnswers(`${server.thirdPartyUrl}/webhooks`, auth), EXPECTED_BODY_ANSWERS, name);
    }
    assert.deepEqual(answers.postgres, answers.sqlite, 'both stores answer alike');

    const devicePaths = await pathIdAnswers(device.url, device.app, device.api.authorization);
    assert.deepEqual(wrongAnswers(devicePaths), [], 'device');
    assert.ok(devicePaths.length >= 2 * 5, `device: ${devicePaths.length} answers`);
    assert.deepEqual(await bodyIdAnswers(`${device.url}/webhooks`, device.api.authorization), EXPECTED_BODY_ANSWERS);
  } finally {
    await device.cleanup();
    await sqlite.cleanup();
    await postgres?.close();
    pgDir.remove();
    await database.drop();
  }
});

test('a message id with a control character is refused (400 naming the rule) when sent and when a device reports it', async () => {
  const server = await startTestServer();
  const device = await startTestDevice();
  const rule = 'must not contain control characters (a NUL, a line break, an escape)';
  try {
    const { login, password, registration } = await newDevice(server);
    const auth = basic(login, password);
    const body = { id: 'msg\u0000id', textMessage: { text: 'hi' }, phoneNumbers: ['+15551230000'] };
    for (const [where, url, authorization] of [
      ['server', `${server.thirdPartyUrl}/messages`, auth],
      ['device', `${device.url}/message`, device.api.authorization],
    ] as const) {
      const sent = await call(url, 'POST', { auth: authorization, body });
      assert.equal(sent.status, 400, `${where}: ${sent.text}`);
      assert.equal(sent.body.message, `invalid body: id ${rule}`, where);
    }
    const reported = await call(`${server.mobileUrl}/message`, 'PATCH', {
      auth: `Bearer ${registration.token}`,
      body: [{ id: 'msg\u0000id', state: 'Sent', recipients: [{ phoneNumber: '+15551230000', state: 'Sent' }] }],
    });
    assert.equal(reported.status, 400, reported.text);
    assert.match(reported.body.message, new RegExp(`id ${rule.replace(/[()]/g, '\\$&')}`));
  } finally {
    await device.cleanup();
    await server.cleanup();
  }
});

test('a device whose store holds a webhook id the server cannot take still gets the rest of its activity to the server', async () => {
  const serverDir = tempDir();
  const deviceDir = tempDir();
  const receiver = await new TestReceiver().start();
  const server = await createServer({ dataDir: serverDir.path, port: 0, host: '127.0.0.1' });
  const log: string[] = [];
  const link = {
    serverUrl: server.url,
    privateToken: server.privateToken,
    name: 'phone of an older version',
    reconnect: { minDelayMs: 100, maxDelayMs: 500 },
    log: (line: string) => log.push(line),
  };
  let device = await startTestDevice({ dataDir: deviceDir.path, link });
  try {
    const auth = basic(device.link!.registration.login, device.link!.createdPassword!);
    const good = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/good`, event: 'sms:received' });
    assert.equal(good.status, 201);
    await device.stop();
    // what an older version let the Local API store
    const db = new Database(join(deviceDir.path, 'device.db'));
    db.prepare(
      `INSERT INTO webhooks (source, id, url, event, device_id, created_at) VALUES ('Local', ?, ?, 'sms:received', NULL, 1)`,
    ).run('bad\u0000id', `${receiver.url}/bad`);
    db.close();
    device = await startTestDevice({ dataDir: deviceDir.path, link });

    const injected = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550199', text: 'two webhooks' });
    assert.equal(injected.status, 202, JSON.stringify(injected.body));
    assert.equal(injected.body.deliveryIds.length, 2);
    await receiver.waitFor(2);
    // every delivery but the one of the bad webhook reaches the server's copy
    const onServer = await eventually(async () => {
      const replies = await Promise.all(
        injected.body.deliveryIds.map((id: string) =>
          call(`${server.thirdPartyUrl}/deliveries/${id}`, 'GET', { auth }),
        ),
      );
      const found = replies.filter((r) => r.status === 200 && r.body.state === 'succeeded');
      return found.length === 1 ? found[0].body : undefined;
    }, "the good webhook's delivery on the server");
    assert.equal(onServer.webhookId, good.body.id);
    await eventually(
      () =>
        log.some((line) =>
          /left \d+ item\(s\) out of an activity report and took the rest: .*webhookId must not contain control characters/.test(
            line,
          ),
        ),
      'the device says what the server left out',
    );
    assert.ok(!log.some((line) => /activity report refused/.test(line)), log.join('\n'));
  } finally {
    await device.cleanup();
    await server.close();
    await receiver.stop();
    serverDir.remove();
    deviceDir.remove();
  }
});
