import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { redactUrl, redactUrlsIn, keepMaskedCredentials } from '../../src/protocol/redact.ts';
import {
  startTestServer,
  newDevice,
  basic,
  bearer,
  call,
  spawnSmsgate,
  runSmsgate,
  tempDir,
} from '../server/helpers.ts';
import { startSmsgate } from '../helpers/process.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { eventually } from '../helpers/common.ts';
import { createTestDatabase } from '../postgres/helpers.ts';

// Credentials that ride in URLs (a webhook's user:pass@ or ?token=, a database URL's password) never
// show in logs, errors or API answers; the URL as given is still what is stored and called.

const SECRETS = /s3cret|t0ken|c0de/;

test('redactUrl masks user info and secret query values, and leaves other URLs exactly as they are', () => {
  for (const [given, shown] of [
    ['https://user:s3cret@example.com/h?x=1&token=t0ken', 'https://user:***@example.com/h?x=1&token=***'],
    ['https://t0ken@example.com/hook', 'https://***@example.com/hook'],
    ['https://fn.example.net/api/hook?code=c0de&name=a%20b', 'https://fn.example.net/api/hook?code=***&name=a+b'],
    ['https://example.com/h?api_key=s3cret&sig=x&Password=y', 'https://example.com/h?api_key=***&sig=***&Password=***'],
    ['postgres://app:s3cret@db:5432/sms?sslmode=require', 'postgres://app:***@db:5432/sms?sslmode=require'],
    ['https://example.com/h?page=2', 'https://example.com/h?page=2'],
    ['https://example.com:8443/a/b', 'https://example.com:8443/a/b'],
    ['not a url //user:s3cret@host', 'not a url //***@host'],
  ]) {
    assert.equal(redactUrl(given), shown, given);
  }
  assert.equal(
    redactUrlsIn('{"msg":"attempt","url":"https://u:s3cret@h.io/x?token=t0ken","to":"http://127.0.0.1:9/h"}'),
    '{"msg":"attempt","url":"https://u:***@h.io/x?token=***","to":"http://127.0.0.1:9/h"}',
  );
  // a URL sent back as shown keeps what it hid; any other is taken as sent
  const stored = 'https://user:s3cret@example.com/h?token=t0ken';
  assert.equal(keepMaskedCredentials(redactUrl(stored), stored), stored);
  assert.equal(
    keepMaskedCredentials('https://user:***@example.com/other', stored),
    'https://user:***@example.com/other',
  );
  assert.equal(keepMaskedCredentials('https://example.com/new', stored), 'https://example.com/new');
  assert.equal(keepMaskedCredentials(redactUrl(stored), undefined), redactUrl(stored));
});

test('server: the 3rdparty API shows webhook URLs masked, the device gets them whole, and an edit sent back masked keeps them', async () => {
  const server = await startTestServer();
  try {
    const { login, password, registration } = await newDevice(server);
    const auth = basic(login, password);
    const secretUrl = 'https://user:s3cret@example.com/hook?token=t0ken&x=1';
    const shown = 'https://user:***@example.com/hook?token=***&x=1';
    const created = await call(`${server.thirdPartyUrl}/webhooks`, 'POST', {
      auth,
      body: { id: 'secret-hook', url: secretUrl, event: 'sms:received' },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.url, shown);
    const listed = await call(`${server.thirdPartyUrl}/webhooks`, 'GET', { auth });
    assert.deepEqual(
      listed.body.map((w: { url: string }) => w.url),
      [shown],
    );
    assert.doesNotMatch(listed.text, SECRETS);
    const forDevice = async () =>
      (await call(`${server.mobileUrl}/webhooks`, 'GET', { auth: bearer(registration.token) })).body[0].url;
    assert.equal(await forDevice(), secretUrl, 'the device calls the URL as given');

    // the dashboard's edit form sends the URL back as it was shown, with another event
    const edited = await call(`${server.thirdPartyUrl}/webhooks`, 'POST', {
      auth,
      body: { id: 'secret-hook', url: shown, event: 'sms:sent' },
    });
    assert.equal(edited.status, 201, edited.text);
    assert.equal(await forDevice(), secretUrl, 'the credentials survive an edit');
    await call(`${server.thirdPartyUrl}/webhooks`, 'POST', {
      auth,
      body: { id: 'secret-hook', url: 'https://example.com/plain', event: 'sms:sent' },
    });
    assert.equal(await forDevice(), 'https://example.com/plain', 'a new URL replaces it');

    // what a device reports (deliveries, its Local list) is kept masked, whatever the device sends
    const report = await call(`${server.mobileUrl}/device/activity`, 'POST', {
      auth: bearer(registration.token),
      body: {
        webhooks: [{ id: 'local-1', url: secretUrl, event: 'sms:received', deviceId: null }],
        deliveries: [
          {
            id: 'reported-1',
            eventId: 'e1',
            event: 'sms:received',
            webhookId: 'local-1',
            source: 'Local',
            url: secretUrl,
            state: 'pending',
            attempts: 0,
            nextAttemptAt: 1,
            lastStatus: null,
            lastError: null,
            createdAt: 1,
            updatedAt: 1,
            attemptLog: [],
          },
        ],
      },
    });
    assert.equal(report.status, 204, report.text);
    const local = await call(`${server.thirdPartyUrl}/devices/${registration.id}/webhooks`, 'GET', { auth });
    assert.equal(local.body.webhooks[0].url, shown);
    const delivery = await call(`${server.thirdPartyUrl}/deliveries/reported-1`, 'GET', { auth });
    assert.equal(delivery.body.url, shown);
  } finally {
    await server.cleanup();
  }
});

test('device: its log, Local API and live data never show a webhook URL’s secrets, while the receiver gets the query as given', async () => {
  const dir = tempDir();
  const receiver = await new TestReceiver().start();
  const device = await startSmsgate(
    ['device', '--data-dir', join(dir.path, 'device'), '--port', '0', '--password', 'url-test-password'],
    { SMSGATE_LOG_LEVEL: 'info', SMSGATE_TIME_SCALE: '0.05' },
  );
  try {
    const auth = basic(device.ready.username, 'url-test-password');
    const port = new URL(receiver.url).port;
    const secretUrl = `http://user:s3cret@127.0.0.1:${port}/hook?token=t0ken`;
    const hook = await call(`${device.ready.url}/webhooks`, 'POST', {
      auth,
      body: { url: secretUrl, event: 'sms:received' },
    });
    assert.equal(hook.status, 201, hook.text);
    assert.equal(hook.body.url, `http://user:***@127.0.0.1:${port}/hook?token=***`);
    const sms = await call(`${device.ready.url}/sim/v1/incoming`, 'POST', {
      auth,
      body: { from: '+15550142', text: 'hello' },
    });
    assert.equal(sms.status, 202, sms.text);
    await receiver.waitFor(1);
    assert.equal(receiver.requests[0].path, '/hook?token=t0ken', 'the receiver is called as registered');
    const deliveries = await eventually(async () => {
      const reply = await call(`${device.ready.url}/deliveries`, 'GET', { auth });
      return reply.body.items?.[0]?.state === 'succeeded' ? reply : undefined;
    }, 'the delivery listed as succeeded');
    for (const reply of [deliveries, await call(`${device.ready.url}/webhooks`, 'GET', { auth })]) {
      assert.doesNotMatch(reply.text, SECRETS);
    }
    await eventually(() => device.output.some((line) => /"msg":"attempt"/.test(line)), 'the attempt logged');
    const attempt = device.output.find((line) => /"msg":"attempt"/.test(line))!;
    assert.match(attempt, /"url":"http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/hook\?token=\*\*\*"/);
    assert.deepEqual(
      device.output.filter((line) => SECRETS.test(line)),
      [],
    );
  } finally {
    device.child.kill('SIGTERM');
    await device.exited;
    await receiver.stop();
    dir.remove();
  }
});

test('server: a database URL’s password shows in no output, ready line and errors included', async () => {
  const database = await createTestDatabase();
  const dir = tempDir();
  try {
    const url = new URL(database.url);
    url.password = 's3cret'; // trust auth on loopback ignores it
    const server = await spawnSmsgate(['server', '--port', '0', '--data-dir', dir.path, '--db', url.toString()], {
      env: { SMSGATE_LOG_LEVEL: 'info' },
    });
    try {
      assert.ok(server.output.length > 0);
      assert.deepEqual(
        server.output.filter((line) => SECRETS.test(line)),
        [],
      );
    } finally {
      await server.stop();
    }
    for (const db of ['mysql://app:s3cret@db.example/sms', 'postgres://app:s3cret@127.0.0.1:1/sms']) {
      const refused = await runSmsgate(['server', '--port', '0', '--data-dir', dir.path, '--db', db]);
      assert.notEqual(refused.code, 0, db);
      assert.match(refused.stderr, /app:\*\*\*@|app@/, db);
      assert.doesNotMatch(refused.stdout + refused.stderr, SECRETS, db);
    }
  } finally {
    dir.remove();
    await database.drop();
  }
});
