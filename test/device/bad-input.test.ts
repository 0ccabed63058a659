import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice } from '../helpers/device.ts';

let device: Awaited<ReturnType<typeof startTestDevice>>;
before(async () => {
  // Every route is probed with wrong credentials here, far past the default login throttle.
  device = await startTestDevice({ loginThrottle: { maxFailures: 10_000 } });
});
after(() => device.cleanup());

const PROTECTED: [string, string][] = [
  ['GET', '/webhooks'],
  ['POST', '/webhooks'],
  ['GET', '/webhook'],
  ['POST', '/webhook'],
  ['DELETE', '/webhooks/x'],
  ['DELETE', '/webhook/x'],
  ['POST', '/message'],
  ['POST', '/messages'],
  ['GET', '/message/x'],
  ['GET', '/messages/x'],
  ['GET', '/settings'],
  ['PUT', '/settings'],
  ['PATCH', '/settings'],
  ['GET', '/deliveries'],
  ['GET', '/deliveries/x'],
  ['POST', '/deliveries/x/redeliver'],
  ['POST', '/sim/v1/incoming'],
  ['GET', '/sim/v1/network'],
  ['POST', '/sim/v1/network'],
  ['GET', '/device'],
];

async function raw(method: string, path: string, init: { auth?: string | null; body?: string; type?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.auth !== null) headers.authorization = init.auth ?? device.api.authorization;
  if (init.body !== undefined) headers['content-type'] = init.type ?? 'application/json';
  const response = await fetch(device.url + path, { method, headers, body: init.body });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: (() => {
      try {
        return JSON.parse(text);
      } catch {
        return undefined;
      }
    })(),
  };
}

function assertClientError(reply: { status: number; text: string; json: any }, status: number, pattern?: RegExp) {
  assert.equal(reply.status, status, `expected ${status}, got ${reply.status}: ${reply.text}`);
  assert.equal(typeof reply.json?.message, 'string', `body is {"message"}: ${reply.text}`);
  assert.deepEqual(Object.keys(reply.json), ['message']);
  if (pattern) assert.match(reply.json.message, pattern);
}

test('every protected route answers 401 {"message"} without or with wrong credentials', async () => {
  const wrong = 'Basic ' + Buffer.from('sms:wrong').toString('base64');
  const garbage = 'Basic %%%';
  for (const [method, path] of PROTECTED) {
    assertClientError(await raw(method, path, { auth: null }), 401);
    assertClientError(await raw(method, path, { auth: wrong }), 401);
    assertClientError(await raw(method, path, { auth: garbage }), 401);
    assertClientError(await raw(method, path, { auth: 'Bearer abc' }), 401);
  }
});

test('webhook registration rejects what the contract rejects, naming the field', async () => {
  const cases: [unknown, RegExp][] = [
    [{ url: 'https://example.com/h', event: 'sms:nope' }, /event/],
    [{ url: 'ftp://example.com/h', event: 'sms:received' }, /https/],
    [{ url: '/relative/path', event: 'sms:received' }, /absolute URL/],
    [{ url: 'http://example.com/h', event: 'sms:received' }, /https/],
    [{ url: 'http://192.168.1.10/h', event: 'sms:received' }, /loopback/],
    [{ url: 'https://example.com/a\nb', event: 'sms:received' }, /control characters/],
    [{ url: 'http://127.0.0.1:0/h', event: 'sms:received' }, /port 0/],
    [{ event: 'sms:received' }, /url/],
    [{ url: 'https://example.com/h' }, /event/],
    [{ url: 42, event: 'sms:received' }, /url/],
    [{ url: 'https://example.com/h', event: 'sms:received', id: 'x'.repeat(37) }, /id/],
    [{ url: 'https://example.com/h', event: 'sms:received', deviceId: 'another-device' }, /Device ID mismatch/],
    [{ url: 'https://example.com/h', event: 'sms:received', extra: 1 }, /extra|additional/],
    [[1, 2], /object/],
  ];
  for (const [body, pattern] of cases) {
    assertClientError(await raw('POST', '/webhooks', { body: JSON.stringify(body) }), 400, pattern);
  }
  assertClientError(await raw('POST', '/webhooks', { body: '{"url": "https://x", ' }), 400, /JSON/);
  assertClientError(await raw('POST', '/webhooks', { body: '' }), 400);
  assertClientError(await raw('POST', '/webhooks', { body: 'url=x', type: 'text/plain' }), 415);
  assertClientError(
    await raw('POST', '/webhooks', {
      body: JSON.stringify({ url: 'https://e.com/' + 'a'.repeat(1_100_000), event: 'sms:received' }),
    }),
    413,
  );
  // http:// to loopback is fine, ids up to 36 characters are kept
  const ok = await raw('POST', '/webhooks', {
    body: JSON.stringify({ id: 'x'.repeat(36), url: 'http://localhost:9/h', event: 'sms:sent' }),
  });
  assert.equal(ok.status, 201);
  assert.equal(ok.json.id, 'x'.repeat(36));
  await raw('DELETE', `/webhooks/${'x'.repeat(36)}`);
});

test('messages, settings, deliveries and simulation routes reject bad input with 4xx', async () => {
  const cases: [string, string, unknown, number, RegExp?][] = [
    ['POST', '/message', { message: 'x' }, 400, /phoneNumbers/],
    ['POST', '/message', { message: 'x', phoneNumbers: [] }, 400, /phoneNumbers/],
    ['POST', '/message', { message: 'x', phoneNumbers: Array(101).fill('+1') }, 400, /phoneNumbers/],
    ['POST', '/message', { phoneNumbers: ['+15551234567'] }, 400, /message/],
    [
      'POST',
      '/message',
      { message: 'x', textMessage: { text: 'y' }, phoneNumbers: ['+15551234567'] },
      400,
      /exactly one of textMessage, dataMessage and message/,
    ],
    ['POST', '/message', { message: 'x', phoneNumbers: ['+15551234567'], simNumber: 7 }, 400, /SIM/],
    ['POST', '/message', { message: 'x', phoneNumbers: ['+15551234567'], simNumber: 'one' }, 400, /simNumber/],
    ['POST', '/message', { message: 'x', phoneNumbers: [5] }, 400],
    ['POST', '/message', { message: 'x', phoneNumbers: ['+15551234567'], validUntil: 'tomorrow' }, 400, /validUntil/],
    [
      'POST',
      '/message',
      { message: 'x', phoneNumbers: ['+15551234567'], validUntil: '12/31/2030' },
      400,
      /validUntil must be an ISO 8601/,
    ],
    ['POST', '/message', { message: 'x', phoneNumbers: ['+15551234567'], ttl: 10_000_000_000_000 }, 400, /ttl/],
    ['PATCH', '/settings', { webhooks: { retry_count: 0 } }, 400, /retry_count/],
    ['PATCH', '/settings', { webhooks: { retry_count: 'many' } }, 400],
    ['PATCH', '/settings', { webhooks: { unknown_key: 1 } }, 400],
    ['PATCH', '/settings', { nonsense: {} }, 400],
    ['PUT', '/settings', { ping: { interval_seconds: -5 } }, 400],
    ['PUT', '/settings', 'null', 400],
    ['GET', '/deliveries?state=bogus', undefined, 400, /state/],
    ['GET', '/deliveries?limit=abc', undefined, 400, /limit/],
    ['GET', '/deliveries?limit=100000', undefined, 400, /limit/],
    ['GET', '/deliveries/unknown', undefined, 404],
    ['POST', '/deliveries/unknown/redeliver', undefined, 404],
    ['GET', '/message/unknown', undefined, 404],
    ['POST', '/sim/v1/incoming', { from: '+1' }, 400, /text/],
    ['POST', '/sim/v1/incoming', { from: '+1', text: 'x', simNumber: 9 }, 400, /SIM/],
    ['POST', '/sim/v1/network', { online: 'yes' }, 400],
    ['GET', '/no/such/route', undefined, 404, /no route/],
    ['GET', '/webhooks/../../etc/passwd', undefined, 404],
  ];
  for (const [method, path, body, status, pattern] of cases) {
    const reply = await raw(
      method,
      path,
      body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) },
    );
    assertClientError(reply, status, pattern);
  }
  const duplicate = { id: 'dup-id', message: 'x', phoneNumbers: ['+15551110000'] };
  assert.equal((await raw('POST', '/message', { body: JSON.stringify(duplicate) })).status, 202);
  // the words clients match, then the detail
  assertClientError(
    await raw('POST', '/message', { body: JSON.stringify(duplicate) }),
    409,
    /^message with the same ID already exists: "dup-id"/,
  );
  const twice = { message: 'x', phoneNumbers: ['+15551110000', '+1-555-111-0000'] };
  assertClientError(
    await raw('POST', '/message', { body: JSON.stringify(twice) }),
    400,
    /^failed to validate: Key: 'Message\.PhoneNumbers' Error:Field validation for 'PhoneNumbers' failed on the 'unique' tag$/,
  );
});

test("settings accept the official clients' camelCase and answer snake_case", async () => {
  const reply = await raw('PATCH', '/settings', {
    body: JSON.stringify({ webhooks: { retryCount: 5, internetRequired: false } }),
  });
  assert.equal(reply.status, 200);
  assert.equal(reply.json.webhooks.retry_count, 5);
  assert.equal(reply.json.webhooks.internet_required, false);
  const put = await raw('PUT', '/settings', { body: JSON.stringify({ logs: { lifetime_days: 7 } }) });
  assert.equal(put.json.webhooks.retry_count, 14, 'PUT resets what it does not name to defaults');
  assert.equal(put.json.webhooks.signing_key, reply.json.webhooks.signing_key, 'but keeps the signing key');
  assert.equal(put.json.logs.lifetime_days, 7);
});
