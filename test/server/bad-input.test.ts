import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, newDevice, call, basic, bearer, type TestServer } from './helpers.ts';
import { register, MobileClient } from '../../src/device/link/mobile-client.ts';

let server: TestServer;
let device: Awaited<ReturnType<typeof newDevice>>;
let auth: string;
let token: string;

before(async () => {
  // This file sends wrong credentials on purpose, many times from 127.0.0.1: a high login
  // throttle keeps those answers 401 (the throttle itself is tested in test/reliability/server-auth.test.ts).
  server = await startTestServer({ loginThrottle: { maxFailures: 10_000 } });
  device = await newDevice(server);
  auth = basic(device.login, device.password);
  token = bearer(device.registration.token);
});
after(async () => {
  await server.cleanup();
});

interface Case {
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  status: number;
  /** the message must mention this */
  mentions?: RegExp;
}

async function expectAll(base: string, authorization: string, cases: Case[]): Promise<void> {
  for (const c of cases) {
    const reply = await call(base + c.path, c.method, {
      auth: authorization,
      body: c.body,
      rawBody: c.rawBody,
      headers: c.headers,
    });
    const label = `${c.method} ${c.path} ${c.rawBody ?? JSON.stringify(c.body)} → ${reply.status} ${reply.text}`;
    assert.equal(reply.status, c.status, label);
    assert.equal(typeof reply.body?.message, 'string', label);
    assert.ok(reply.body.message.length > 0, label);
    if (c.mentions) assert.match(reply.body.message, c.mentions, label);
  }
}

const longId = 'x'.repeat(65);

test('3rdparty webhooks: every bad input is a 4xx with a message naming the problem', async () => {
  const hook = { url: 'https://example.com/h', event: 'sms:received' };
  await expectAll(server.thirdPartyUrl, auth, [
    {
      method: 'POST',
      path: '/webhooks',
      rawBody: '{"url": ',
      headers: { 'content-type': 'application/json' },
      status: 400,
      mentions: /JSON/,
    },
    {
      method: 'POST',
      path: '/webhooks',
      rawBody: 'url=x',
      headers: { 'content-type': 'text/plain' },
      status: 415,
      mentions: /application\/json/,
    },
    { method: 'POST', path: '/webhooks', rawBody: '', headers: { 'content-type': 'application/json' }, status: 400 },
    { method: 'POST', path: '/webhooks', body: [], status: 400 },
    { method: 'POST', path: '/webhooks', body: { event: 'sms:received' }, status: 400, mentions: /url/ },
    { method: 'POST', path: '/webhooks', body: { url: 'https://example.com' }, status: 400, mentions: /event/ },
    { method: 'POST', path: '/webhooks', body: { ...hook, event: 'sms:nope' }, status: 400, mentions: /event/ },
    { method: 'POST', path: '/webhooks', body: { ...hook, url: 'not a url' }, status: 400, mentions: /absolute URL/ },
    {
      method: 'POST',
      path: '/webhooks',
      body: { ...hook, url: 'http://example.com/h' },
      status: 400,
      mentions: /https/,
    },
    {
      method: 'POST',
      path: '/webhooks',
      body: { ...hook, url: 'ftp://example.com/h' },
      status: 400,
      mentions: /https/,
    },
    {
      method: 'POST',
      path: '/webhooks',
      body: { ...hook, url: ' https://example.com/h ' },
      status: 400,
      mentions: /spaces/,
    },
    {
      method: 'POST',
      path: '/webhooks',
      body: { ...hook, url: 'https://example.com/a\u0000b' },
      status: 400,
      mentions: /control characters/,
    },
    {
      method: 'POST',
      path: '/webhooks',
      body: { ...hook, url: 'https://example.com:0/h' },
      status: 400,
      mentions: /port 0/,
    },
    { method: 'POST', path: '/webhooks', body: { ...hook, id: 'x'.repeat(37) }, status: 400, mentions: /id/ },
    { method: 'POST', path: '/webhooks', body: { ...hook, id: 7 }, status: 400, mentions: /id/ },
    {
      method: 'POST',
      path: '/webhooks',
      body: { ...hook, deviceId: 'not-my-device' },
      status: 400,
      mentions: /deviceId/,
    },
    { method: 'POST', path: '/webhooks', body: { ...hook, deviceId: 5 }, status: 400, mentions: /deviceId/ },
    { method: 'POST', path: '/webhooks', body: { ...hook, extra: 1 }, status: 400, mentions: /unknown key/ },
    {
      method: 'POST',
      path: '/webhooks',
      rawBody: JSON.stringify({ ...hook, url: 'https://e.com/' + 'a'.repeat(1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
      status: 413,
    },
    { method: 'DELETE', path: `/webhooks/${longId}`, status: 400 },
  ]);
  assert.deepEqual((await call(server.thirdPartyUrl + '/webhooks', 'GET', { auth })).body, [], 'nothing was stored');
});

test('3rdparty messages: every bad input is a 4xx with a message', async () => {
  const msg = { message: 'hi', phoneNumbers: ['+15551234567'] };
  await call(server.thirdPartyUrl + '/messages', 'POST', { auth, body: { ...msg, id: 'taken' } });
  for (const base of ['/messages', '/message']) {
    await expectAll(server.thirdPartyUrl, auth, [
      { method: 'POST', path: base, body: { message: 'hi' }, status: 400, mentions: /phoneNumbers/ },
      { method: 'POST', path: base, body: { ...msg, phoneNumbers: [] }, status: 400, mentions: /phoneNumbers/ },
      {
        method: 'POST',
        path: base,
        body: { ...msg, phoneNumbers: Array(101).fill('+15551234567') },
        status: 400,
        mentions: /phoneNumbers/,
      },
      {
        method: 'POST',
        path: base,
        body: { ...msg, phoneNumbers: ['call me'] },
        status: 400,
        mentions: /phone number/,
      },
      { method: 'POST', path: base, body: { phoneNumbers: ['+15551234567'] }, status: 400, mentions: /message/ },
      {
        method: 'POST',
        path: base,
        body: { ...msg, textMessage: { text: 'also' } },
        status: 400,
        mentions: /exactly one of textMessage, dataMessage and message/,
      },
      { method: 'POST', path: base, body: { ...msg, message: '' }, status: 400, mentions: /text message is empty/ },
      { method: 'POST', path: base, body: { ...msg, simNumber: 0 }, status: 400, mentions: /simNumber/ },
      { method: 'POST', path: base, body: { ...msg, ttl: -1 }, status: 400, mentions: /ttl/ },
      {
        method: 'POST',
        path: base,
        body: { ...msg, ttl: 60, validUntil: '2030-01-01T00:00:00Z' },
        status: 400,
        mentions: /not both/,
      },
      { method: 'POST', path: base, body: { ...msg, validUntil: 'tomorrow' }, status: 400, mentions: /validUntil/ },
      // Date.parse would read these as dates (2001, or 2 March)
      {
        method: 'POST',
        path: base,
        body: { ...msg, validUntil: 'March 7' },
        status: 400,
        mentions: /validUntil must be an ISO 8601/,
      },
      {
        method: 'POST',
        path: base,
        body: { ...msg, validUntil: '2030-02-30T00:00:00Z' },
        status: 400,
        mentions: /validUntil/,
      },
      // beyond any date: it once made every pull of the device fail
      { method: 'POST', path: base, body: { ...msg, ttl: 10_000_000_000_000 }, status: 400, mentions: /ttl/ },
      { method: 'POST', path: base, body: { ...msg, ttl: 1e20 }, status: 400, mentions: /ttl/ },
      {
        method: 'POST',
        path: base,
        body: { ...msg, withDeliveryReport: 'yes' },
        status: 400,
        mentions: /withDeliveryReport/,
      },
      { method: 'POST', path: base, body: { ...msg, id: 'x'.repeat(37) }, status: 400, mentions: /id/ },
      // the words clients match, then the detail
      {
        method: 'POST',
        path: base,
        body: { ...msg, id: 'taken' },
        status: 409,
        mentions: /^message with the same ID already exists: .*taken/,
      },
      {
        method: 'POST',
        path: base,
        body: { ...msg, phoneNumbers: ['+15550100', '+1 555 01 77', '+1 (555) 0100'] },
        status: 400,
        mentions:
          /^failed to validate: Key: 'Message\.PhoneNumbers' Error:Field validation for 'PhoneNumbers' failed on the 'unique' tag$/,
      },
      { method: 'POST', path: base, body: { ...msg, deviceId: 'not-mine' }, status: 400, mentions: /deviceId/ },
      {
        method: 'POST',
        path: `${base}?skipPhoneValidation=maybe`,
        body: msg,
        status: 400,
        mentions: /skipPhoneValidation/,
      },
      { method: 'GET', path: `${base}/${longId}`, status: 400 },
      { method: 'GET', path: `${base}/missing`, status: 404, mentions: /no message/ },
      { method: 'GET', path: `${base}?limit=0`, status: 400, mentions: /limit/ },
      { method: 'GET', path: `${base}?limit=lots`, status: 400, mentions: /limit/ },
      { method: 'GET', path: `${base}?offset=-1`, status: 400, mentions: /offset/ },
      { method: 'GET', path: `${base}?state=Lost`, status: 400, mentions: /state/ },
      { method: 'GET', path: `${base}?from=yesterday`, status: 400, mentions: /from/ },
      { method: 'GET', path: `${base}?from=1`, status: 400, mentions: /from/ },
      { method: 'GET', path: `${base}?to=later`, status: 400, mentions: /to/ },
    ]);
  }
  // ISO 8601 as people write it: a date alone, or a space for the T
  for (const from of ['2020-01-01', '2020-01-01 10:00:00', '2020-01-01T10:00:00.5+07:00']) {
    assert.equal(
      (await call(`${server.thirdPartyUrl}/messages?from=${encodeURIComponent(from)}`, 'GET', { auth })).status,
      200,
      from,
    );
  }
  const odd = await call(server.thirdPartyUrl + '/messages?skipPhoneValidation=true', 'POST', {
    auth,
    body: { ...msg, phoneNumbers: ['call me'] },
  });
  assert.equal(odd.status, 202, 'skipPhoneValidation lets an unusual number through');
});

test('3rdparty devices, settings, logs and unknown routes: 4xx with a message', async () => {
  await expectAll(server.thirdPartyUrl, auth, [
    { method: 'DELETE', path: '/devices/missing', status: 404, mentions: /no device/ },
    { method: 'DELETE', path: `/devices/${longId}`, status: 400 },
    { method: 'PATCH', path: '/settings', body: { sms: {} }, status: 400, mentions: /unknown key/ },
    { method: 'PATCH', path: '/settings', body: { webhooks: { retries: 3 } }, status: 400, mentions: /unknown key/ },
    {
      method: 'PATCH',
      path: '/settings',
      body: { webhooks: { retry_count: 0 } },
      status: 400,
      mentions: /retry_count/,
    },
    {
      method: 'PATCH',
      path: '/settings',
      body: { webhooks: { retryCount: 'many' } },
      status: 400,
      mentions: /retry_count/,
    },
    {
      method: 'PATCH',
      path: '/settings',
      body: { webhooks: { signing_key: '' } },
      status: 400,
      mentions: /signing_key/,
    },
    {
      method: 'PATCH',
      path: '/settings',
      body: { messages: { limit_period: 'Weekly' } },
      status: 400,
      mentions: /limit_period/,
    },
    {
      method: 'PATCH',
      path: '/settings',
      body: { messages: { send_interval_min: 10, send_interval_max: 5 } },
      status: 400,
      mentions: /send_interval_min \(10\) is greater than messages.send_interval_max \(5\)/,
    },
    {
      method: 'PATCH',
      path: '/settings',
      body: { messages: { limit_value: 100_001 } },
      status: 400,
      mentions: /limit_value/,
    },
    { method: 'PATCH', path: '/settings', body: [1], status: 400 },
    {
      method: 'PUT',
      path: '/settings',
      body: { messages: { send_interval_min: 2, send_interval_max: 1 } },
      status: 400,
      mentions: /send_interval_min/,
    },
    {
      method: 'PUT',
      path: '/settings',
      body: { ping: { interval_seconds: 0 } },
      status: 400,
      mentions: /interval_seconds/,
    },
    { method: 'PUT', path: '/settings', body: 'x', status: 400 },
    { method: 'GET', path: '/logs', status: 501, mentions: /device/ },
    { method: 'POST', path: '/inbox/export', body: {}, status: 400, mentions: /since/ },
    { method: 'POST', path: '/inbox/refresh', body: { since: 'x', until: 'y' }, status: 400, mentions: /since/ },
    { method: 'GET', path: '/nothing-here', status: 404, mentions: /no route/ },
  ]);
  const settings = await call(server.thirdPartyUrl + '/settings', 'GET', { auth });
  assert.equal(settings.body.webhooks.retry_count, 14, 'no bad PATCH changed anything');
});

test('mobile API: every bad input is a 4xx with a message', async () => {
  await expectAll(server.mobileUrl, `Bearer ${server.privateToken}`, [
    { method: 'POST', path: '/device', body: { name: 5 }, status: 400, mentions: /name/ },
    { method: 'POST', path: '/device', body: { name: 'n'.repeat(129) }, status: 400, mentions: /name/ },
    { method: 'POST', path: '/device', body: [], status: 400 },
    {
      method: 'POST',
      path: '/device',
      body: { simCards: [{ slotIndex: -1, simNumber: 1 }] },
      status: 400,
      mentions: /slotIndex/,
    },
    { method: 'POST', path: '/device', body: { simCards: 'two' }, status: 400, mentions: /simCards/ },
    {
      method: 'POST',
      path: '/device',
      rawBody: '{',
      headers: { 'content-type': 'application/json' },
      status: 400,
      mentions: /JSON/,
    },
  ]);
  const report = { id: 'm', state: 'Sent', recipients: [{ phoneNumber: '+1555', state: 'Sent' }] };
  await expectAll(server.mobileUrl, token, [
    { method: 'PATCH', path: '/device', body: { pushToken: 5 }, status: 400, mentions: /pushToken/ },
    {
      method: 'PATCH',
      path: '/device',
      body: { simCards: [{ slotIndex: 0, simNumber: 0 }] },
      status: 400,
      mentions: /simNumber/,
    },
    {
      method: 'PATCH',
      path: '/user/password',
      body: { currentPassword: 'x', newPassword: 'short' },
      status: 400,
      mentions: /newPassword/,
    },
    { method: 'PATCH', path: '/message', body: report, status: 400, mentions: /array/ },
    { method: 'PATCH', path: '/message', body: [{ ...report, id: undefined }], status: 400, mentions: /id/ },
    { method: 'PATCH', path: '/message', body: [{ ...report, state: 'Teleported' }], status: 400, mentions: /state/ },
    {
      method: 'PATCH',
      path: '/message',
      body: [{ ...report, recipients: 'all' }],
      status: 400,
      mentions: /recipients/,
    },
    {
      method: 'PATCH',
      path: '/message',
      body: [{ ...report, recipients: [{ phoneNumber: '+1555', state: 'Nope' }] }],
      status: 400,
      mentions: /state/,
    },
    {
      method: 'PATCH',
      path: '/message',
      body: [{ ...report, states: { Teleported: new Date().toISOString() } }],
      status: 400,
      mentions: /Teleported/,
    },
    {
      method: 'PATCH',
      path: '/message',
      body: [{ ...report, states: { Sent: 'soon' } }],
      status: 400,
      mentions: /Sent/,
    },
    {
      method: 'PATCH',
      path: '/user/password',
      body: { newPassword: 'long-enough-1' },
      status: 400,
      mentions: /currentPassword/,
    },
    { method: 'GET', path: '/nothing-here', status: 404 },
  ]);
});

test('public mode: registration is open, and a signing key cannot be set', async () => {
  const open = await startTestServer({ public: true, loginThrottle: { maxFailures: 10_000 } });
  try {
    assert.equal(open.mode, 'public');
    assert.equal(open.privateToken, undefined);
    const registration = await register(open.url, { name: 'anyone' });
    assert.ok(registration.password);
    const userAuth = basic(registration.login, registration.password!);
    const refused = await call(open.thirdPartyUrl + '/settings', 'PATCH', {
      auth: userAuth,
      body: { webhooks: { signingKey: 'k' } },
    });
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /signing_key cannot be set on a public server/);
    const refusedPut = await call(open.thirdPartyUrl + '/settings', 'PUT', {
      auth: userAuth,
      body: { webhooks: { signing_key: 'k' } },
    });
    assert.equal(refusedPut.status, 400);
    assert.deepEqual(await new MobileClient(open.url, registration.token).getSettings(), {});
  } finally {
    await open.cleanup();
  }
});

test('private mode: the signing key is kept for the devices through PUT, and never shown to integrators', async () => {
  const { mobile, login, password } = await newDevice(server);
  const userAuth = basic(login, password);
  await call(server.thirdPartyUrl + '/settings', 'PATCH', {
    auth: userAuth,
    body: { webhooks: { signing_key: 'device-key' } },
  });
  const put = await call(server.thirdPartyUrl + '/settings', 'PUT', {
    auth: userAuth,
    body: { webhooks: { retry_count: 2 } },
  });
  assert.equal(put.status, 200);
  assert.ok(!put.text.includes('device-key'));
  assert.deepEqual(await mobile.getSettings(), { webhooks: { retry_count: 2, signing_key: 'device-key' } });
  await call(server.thirdPartyUrl + '/settings', 'PATCH', { auth: userAuth, body: { ping: { interval_seconds: 10 } } });
  await call(server.thirdPartyUrl + '/settings', 'PATCH', {
    auth: userAuth,
    body: { ping: { interval_seconds: null } },
  });
  assert.deepEqual(
    (await mobile.getSettings()).ping,
    { interval_seconds: null },
    'a reset to the default reaches the device as null',
  );
});
