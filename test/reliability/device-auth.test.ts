import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDevice, TEST_PASSWORD } from '../helpers/device.ts';

test('repeated failed logins from one address are throttled with 429 and Retry-After', async () => {
  const device = await startTestDevice({ loginThrottle: { maxFailures: 5, windowMs: 60_000 } });
  try {
    const wrong = { authorization: 'Basic ' + Buffer.from('sms:guess').toString('base64') };
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${device.url}/webhooks`, { headers: wrong })).status, 401);
    const throttled = await fetch(`${device.url}/webhooks`, { headers: wrong });
    assert.equal(throttled.status, 429);
    const retryAfter = Number(throttled.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.match((await throttled.json()).message, /too many failed logins/);
    // While throttled, even the right password is not checked (that is what stops guessing).
    assert.equal((await device.api.call('GET', '/webhooks')).status, 429);
    // Health stays open.
    assert.equal((await fetch(`${device.url}/health`)).status, 200);
  } finally {
    await device.cleanup();
  }
});

test('a throttled address cannot keep guessing, not even against recent logins; a success does not reset it', async () => {
  const device = await startTestDevice({ loginThrottle: { maxFailures: 3 } });
  try {
    assert.equal((await device.api.call('GET', '/webhooks')).status, 200, 'logged in: the credentials are now cached');
    const wrong = { authorization: 'Basic ' + Buffer.from('sms:guess').toString('base64') };
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${device.url}/webhooks`, { headers: wrong })).status, 401);
    assert.equal((await device.api.call('GET', '/webhooks')).status, 200);
    assert.equal(
      (await fetch(`${device.url}/webhooks`, { headers: wrong })).status,
      401,
      'the success in between did not reset the count',
    );
    assert.equal((await fetch(`${device.url}/webhooks`, { headers: wrong })).status, 429);
    assert.equal(
      (await device.api.call('GET', '/webhooks')).status,
      429,
      'the cached password is not an open door while throttled',
    );
  } finally {
    await device.cleanup();
  }
});

test('the Local API password is kept only as a scrypt hash', async () => {
  const device = await startTestDevice();
  try {
    const stored = device.context.meta.get('local_password_hash')!;
    assert.match(stored, /^scrypt\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    device.context.db.pragma('wal_checkpoint(TRUNCATE)');
    const file = readFileSync(join(device.context.db.name));
    assert.equal(
      file.includes(Buffer.from(TEST_PASSWORD)),
      false,
      'the password itself is nowhere in the database file',
    );
  } finally {
    await device.cleanup();
  }
});

test('without credentials only health, metrics and the docs answer; even an unknown route asks for them', async () => {
  const device = await startTestDevice();
  try {
    for (const path of ['/webhooks', '/deliveries', '/settings', '/', '/ui/app.js', '/no/such/route']) {
      const response = await fetch(`${device.url}${path}`);
      assert.equal(response.status, 401, path);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Basic /, path);
    }
    for (const path of ['/health', '/metrics', '/docs/openapi.json']) {
      assert.equal((await fetch(`${device.url}${path}`)).status, 200, path);
    }
    assert.equal((await device.api.call('GET', '/no/such/route')).status, 404, 'with credentials: not found');
  } finally {
    await device.cleanup();
  }
});
