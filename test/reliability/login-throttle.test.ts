import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, newDevice, basic, bearer, call } from '../server/helpers.ts';
import { startTestDevice, TEST_PASSWORD } from '../helpers/device.ts';
import { LoginThrottle, throttleKeyOfAddress } from '../../src/shared/login-throttle.ts';
import { systemClock, type Clock } from '../../src/shared/clock.ts';
import { TooManyRequestsError } from '../../src/shared/errors.ts';

/** A clock moved by hand. */
function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return { ...systemClock, now: () => now, advance: (ms) => void (now += ms) };
}

const refused = (fn: () => void) => {
  try {
    fn();
    return false;
  } catch (error) {
    if (error instanceof TooManyRequestsError) return true;
    throw error;
  }
};

test('one address, many clients: failures at one login never refuse another login, and never a valid device token', async () => {
  const server = await startTestServer();
  try {
    const alice = await newDevice(server);
    const bob = await newDevice(server);
    const webhooks = `${server.thirdPartyUrl}/webhooks`;
    // someone behind the same address (127.0.0.1) guesses at alice's password
    for (let i = 0; i < 20; i++)
      assert.equal((await call(webhooks, 'GET', { auth: basic(alice.login, `guess-${i}`) })).status, 401);
    const onAlice = await call(webhooks, 'GET', { auth: basic(alice.login, alice.password) });
    assert.equal(onAlice.status, 429, 'the login under attack is throttled, the right password included');
    assert.match(onAlice.body.message, new RegExp(`too many failed logins for "${alice.login}" from 127\\.0\\.0\\.1`));

    assert.equal(
      (await call(webhooks, 'GET', { auth: basic(bob.login, bob.password) })).status,
      200,
      "bob's right password is not refused because of someone else's failures",
    );
    // alice's device keeps working: a device token is a credential of its own, and cannot be guessed
    assert.equal(
      (await call(`${server.mobileUrl}/device`, 'GET', { auth: bearer(alice.registration.token) })).status,
      200,
    );
    assert.equal(
      (await call(`${server.mobileUrl}/device/ping`, 'POST', { auth: bearer(alice.registration.token) })).status,
      204,
    );
  } finally {
    await server.cleanup();
  }
});

test('credential stuffing from one address: past the per-address limit, only logins that succeeded from there before may be tried', async () => {
  const server = await startTestServer({
    loginThrottle: { maxFailures: 3, maxFailuresPerAddress: 6, maxFailuresPerLogin: 100 },
  });
  try {
    const regular = await newDevice(server);
    const newcomer = await newDevice(server);
    const webhooks = `${server.thirdPartyUrl}/webhooks`;
    assert.equal((await call(webhooks, 'GET', { auth: basic(regular.login, regular.password) })).status, 200);
    // six failures, each at another login: no login reaches its own limit
    for (let i = 0; i < 6; i++)
      assert.equal((await call(webhooks, 'GET', { auth: basic(`nobody-${i}`, 'x') })).status, 401);
    const fresh = await call(webhooks, 'GET', { auth: basic(newcomer.login, newcomer.password) });
    assert.equal(fresh.status, 429, 'a login never seen from this address waits');
    assert.match(fresh.body.message, /too many failed logins from 127\.0\.0\.1/);
    assert.equal(
      (await call(webhooks, 'GET', { auth: basic(regular.login, regular.password) })).status,
      200,
      'a login that succeeded from here before goes on',
    );
    assert.equal((await call(webhooks, 'GET', { auth: basic(regular.login, 'wrong') })).status, 401);
  } finally {
    await server.cleanup();
  }
});

test('one login guessed from many addresses: past the per-login limit only its known addresses may try it', async () => {
  const server = await startTestServer({
    loginThrottle: { maxFailures: 3, maxFailuresPerAddress: 100, maxFailuresPerLogin: 5 },
  });
  try {
    const user = await newDevice(server);
    const from = (remoteAddress: string, password: string) =>
      server.app.inject({
        method: 'GET',
        url: '/3rdparty/v1/webhooks',
        headers: { authorization: basic(user.login, password) },
        remoteAddress,
      });
    assert.equal((await from('198.51.100.10', user.password)).statusCode, 200, 'the user, at home');
    for (let i = 1; i <= 5; i++) assert.equal((await from(`203.0.113.${i}`, `guess-${i}`)).statusCode, 401);
    const elsewhere = await from('203.0.113.99', user.password);
    assert.equal(elsewhere.statusCode, 429, 'a new address may not try the login under attack');
    assert.match(elsewhere.json().message, /may be tried only from addresses it succeeded from before/);
    assert.equal((await from('198.51.100.10', user.password)).statusCode, 200, 'its usual address may');
  } finally {
    await server.cleanup();
  }
});

test('IPv6 clients are counted by their /64: fresh addresses of one network do not buy fresh guesses', async () => {
  assert.equal(throttleKeyOfAddress('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(throttleKeyOfAddress('2001:0db8:0001:0002::ffff'), '2001:db8:1:2::/64');
  assert.equal(throttleKeyOfAddress('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(throttleKeyOfAddress('::1'), '0:0:0:0::/64');
  assert.equal(throttleKeyOfAddress('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(throttleKeyOfAddress('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(throttleKeyOfAddress('192.0.2.1'), '192.0.2.1');

  const server = await startTestServer({ loginThrottle: { maxFailures: 5 } });
  try {
    const user = await newDevice(server);
    const from = (remoteAddress: string, password: string) =>
      server.app.inject({
        method: 'GET',
        url: '/3rdparty/v1/webhooks',
        headers: { authorization: basic(user.login, password) },
        remoteAddress,
      });
    for (let i = 1; i <= 5; i++) assert.equal((await from(`2001:db8:7:7::${i.toString(16)}`, 'guess')).statusCode, 401);
    assert.equal((await from('2001:db8:7:7:ffff:1:2:3', user.password)).statusCode, 429, 'the same /64');
    assert.equal((await from('2001:db8:7:8::1', user.password)).statusCode, 200, 'another /64');
  } finally {
    await server.cleanup();
  }
});

test('throttle memory is bounded, and a blocked address stays blocked through a spray of others', async () => {
  const server = await startTestServer({ loginThrottle: { maxFailures: 3 } });
  try {
    const wrongToken = (remoteAddress: string) =>
      server.app.inject({
        method: 'GET',
        // not /mobile/v1/device, which answers anyone with their address, as the original does
        url: '/mobile/v1/message',
        headers: { authorization: bearer('not-a-device-token') },
        remoteAddress,
      });
    for (let i = 0; i < 3; i++) assert.equal((await wrongToken('198.51.100.66')).statusCode, 401);
    assert.equal((await wrongToken('198.51.100.66')).statusCode, 429, 'blocked');
    // more addresses than the old bound (10,000), each failing once
    for (let i = 0; i < 10_500; i++) await wrongToken(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal((await wrongToken('198.51.100.66')).statusCode, 429, 'still blocked');
  } finally {
    await server.cleanup();
  }

  // The bound itself, in the throttle: a small table, sprayed far past it.
  const clock = manualClock();
  const throttle = new LoginThrottle(clock, { maxFailures: 3, maxTracked: 1_000 });
  for (let i = 0; i < 3; i++) throttle.failed('198.51.100.66', 'alice');
  assert.ok(refused(() => throttle.check('198.51.100.66', 'alice')));
  for (let i = 0; i < 20_000; i++) {
    throttle.failed(`2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::1`, `login-${i}`);
    clock.advance(1);
  }
  const tracked = throttle.tracked();
  for (const [table, size] of Object.entries(tracked)) assert.ok(size <= 1_000, `${table}: ${size} keys`);
  assert.ok(
    refused(() => throttle.check('198.51.100.66', 'alice')),
    'the blocked pair was kept',
  );
  clock.advance(60_000);
  assert.equal(
    refused(() => throttle.check('198.51.100.66', 'alice')),
    false,
    'until its window passed',
  );
});

test('behind a trusted proxy the throttle counts the client address from X-Forwarded-For; untrusted, the header is ignored', async () => {
  const proxied = await startTestServer({ trustProxy: ['127.0.0.1'], loginThrottle: { maxFailures: 3 } });
  try {
    const user = await newDevice(proxied);
    const via = (client: string, password: string) =>
      call(`${proxied.thirdPartyUrl}/webhooks`, 'GET', {
        auth: basic(user.login, password),
        headers: { 'x-forwarded-for': client },
      });
    for (let i = 0; i < 3; i++) assert.equal((await via('198.51.100.1', 'guess')).status, 401);
    assert.equal((await via('198.51.100.1', user.password)).status, 429, 'the guessing client is throttled');
    assert.equal((await via('198.51.100.2', user.password)).status, 200, 'another client of the proxy is not');
    const device = await call(`${proxied.mobileUrl}/device`, 'GET', {
      auth: bearer(user.registration.token),
      headers: { 'x-forwarded-for': '198.51.100.2' },
    });
    assert.equal(device.body.externalIp, '198.51.100.2');
  } finally {
    await proxied.cleanup();
  }

  const direct = await startTestServer({ loginThrottle: { maxFailures: 3 } });
  try {
    const user = await newDevice(direct);
    const spoofing = (client: string, password: string) =>
      call(`${direct.thirdPartyUrl}/webhooks`, 'GET', {
        auth: basic(user.login, password),
        headers: { 'x-forwarded-for': client },
      });
    for (let i = 0; i < 3; i++) assert.equal((await spoofing(`198.51.100.${i}`, 'guess')).status, 401);
    assert.equal(
      (await spoofing('198.51.100.200', user.password)).status,
      429,
      'a forged X-Forwarded-For does not buy fresh guesses',
    );
  } finally {
    await direct.cleanup();
  }
  await assert.rejects(startTestServer({ trustProxy: ['10.0.0.0/33'] }), /not an IP address or CIDR range/);
});

test('Local API: failures at another user name do not refuse the right password from the same address', async () => {
  const device = await startTestDevice({ loginThrottle: { maxFailures: 5 } });
  try {
    const wrong = { authorization: 'Basic ' + Buffer.from('admin:admin').toString('base64') };
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${device.url}/webhooks`, { headers: wrong })).status, 401);
    assert.equal((await fetch(`${device.url}/webhooks`, { headers: wrong })).status, 429);
    assert.equal((await device.api.call('GET', '/webhooks')).status, 200, `sms with ${TEST_PASSWORD} goes on`);
  } finally {
    await device.cleanup();
  }
});
