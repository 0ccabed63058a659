import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, spawnSmsgate, runSmsgate, call, basic } from './helpers.ts';
import { register, MobileClient } from '../../src/device/link/mobile-client.ts';
import { createServer } from '../../src/server/server.ts';
import { randomSecret } from '../../src/shared/ids.ts';

test('`smsgate server` prints its URLs and a generated private token, which survives a restart', async () => {
  const dir = tempDir();
  try {
    const first = await spawnSmsgate(['server', '--data-dir', dir.path, '--port', '0']);
    let token: string;
    let deviceToken: string;
    try {
      const { ready } = first;
      assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(ready.thirdPartyUrl, `${ready.url}/3rdparty/v1`);
      assert.equal(ready.mobileUrl, `${ready.url}/mobile/v1`);
      assert.equal(ready.mode, 'private');
      assert.ok(typeof ready.privateToken === 'string' && ready.privateToken.length >= 20);
      token = ready.privateToken;
      assert.ok(existsSync(join(dir.path, 'server.db')));
      deviceToken = (await register(ready.url, { privateToken: token })).token;
    } finally {
      await first.stop();
    }
    const second = await spawnSmsgate(['server', '--port', '0'], { env: { SMSGATE_DATA_DIR: dir.path } });
    try {
      assert.equal(second.ready.privateToken, token, 'the same token after a restart');
      const { device } = await new MobileClient(second.ready.url, deviceToken).getDevice();
      assert.ok(device.id, 'a device registered before the restart still works');
    } finally {
      await second.stop();
    }
  } finally {
    dir.remove();
  }
});

test('`smsgate server --public`, `--private-token` and `--db sqlite:` do what they say; bad combinations fail clearly', async () => {
  const dir = tempDir();
  try {
    const open = await spawnSmsgate([
      'server',
      '--public',
      '--port',
      '0',
      '--db',
      `sqlite:${join(dir.path, 'elsewhere.db')}`,
    ]);
    try {
      assert.equal(open.ready.mode, 'public');
      assert.equal(open.ready.privateToken, undefined);
      assert.ok(existsSync(join(dir.path, 'elsewhere.db')));
      assert.ok((await register(open.ready.url, {})).password);
    } finally {
      await open.stop();
    }

    const fixed = await spawnSmsgate([
      'server',
      '--data-dir',
      dir.path,
      '--port',
      '0',
      '--private-token',
      'my-own-token',
    ]);
    try {
      assert.equal(fixed.ready.privateToken, undefined, 'a token the user gave is not printed');
      assert.ok((await register(fixed.ready.url, { privateToken: 'my-own-token' })).token);
    } finally {
      await fixed.stop();
    }

    const [both, postgres, nonsense] = await Promise.all([
      runSmsgate(['server', '--public', '--private-token', 'x', '--data-dir', dir.path]),
      runSmsgate(['server', '--db', 'postgres://postgres:hunter2@127.0.0.1:1/smsgate', '--port', '0']),
      runSmsgate(['server', '--db', 'mysql://x', '--port', '0']),
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exclude each other/);
    assert.equal(postgres.code, 1);
    assert.match(
      postgres.stderr,
      /cannot reach PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/smsgate \(ECONNREFUSED\); is it running/,
    );
    assert.doesNotMatch(postgres.stderr, /hunter2/, 'the password is not printed');
    assert.equal(nonsense.code, 1);
    assert.match(nonsense.stderr, /--db must be sqlite:PATH or postgres/);

    // An empty or blank token would be kept as given, and no device could register with it.
    for (const blank of ['', '   ', '\t']) {
      const refused = await runSmsgate(['server', '--private-token', blank, '--port', '0', '--data-dir', dir.path]);
      assert.equal(refused.code, 2, `--private-token ${JSON.stringify(blank)} is refused`);
      assert.match(
        refused.stderr,
        /--private-token is empty; give a long random one \(e\.g\. the output of `openssl rand/,
      );
    }
    await assert.rejects(
      createServer({ dataDir: dir.path, port: 0, privateToken: ' ' }),
      /the private token is empty; give a long random one/,
    );
  } finally {
    dir.remove();
  }
});

test('`smsgate users add|list|passwd` manage 3rdparty users, also while the server runs', async () => {
  const dir = tempDir();
  const server = await spawnSmsgate(['server', '--data-dir', dir.path, '--port', '0']);
  try {
    const devicesUrl = `${server.ready.thirdPartyUrl}/devices`;
    const added = await runSmsgate([
      'users',
      'add',
      '--data-dir',
      dir.path,
      '--login',
      'alice',
      '--password',
      'alice-password',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /created user alice/);
    assert.equal((await call(devicesUrl, 'GET', { auth: basic('alice', 'alice-password') })).status, 200);

    const generated = await runSmsgate(['users', 'add', '--data-dir', dir.path, '--login', 'bob']);
    assert.equal(generated.code, 0, generated.stderr);
    const bobPassword = /password: (\S+)/.exec(generated.stdout)?.[1];
    assert.ok(bobPassword, generated.stdout);
    assert.equal((await call(devicesUrl, 'GET', { auth: basic('bob', bobPassword) })).status, 200);

    const [taken, short, noLogin] = await Promise.all([
      runSmsgate(['users', 'add', '--data-dir', dir.path, '--login', 'alice', '--password', 'another-password']),
      runSmsgate(['users', 'add', '--data-dir', dir.path, '--login', 'carol', '--password', 'short']),
      runSmsgate(['users', 'add', '--data-dir', dir.path]),
    ]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /taken/);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 8/);
    assert.equal(noLogin.code, 2);
    assert.match(noLogin.stderr, /--login is required/);

    // a user made by the admin can link devices with its Basic auth
    const linked = await register(server.ready.url, {
      basicAuth: { login: 'alice', password: 'alice-password' },
      name: 'alice phone',
    });
    assert.equal(linked.login, 'alice');

    const listed = await runSmsgate(['users', 'list', '--db', `sqlite:${join(dir.path, 'server.db')}`]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^alice\t\S+\tdevices: 1\t/m);
    assert.match(listed.stdout, /^bob\t\S+\tdevices: 0\t/m);

    const changed = await runSmsgate([
      'users',
      'passwd',
      '--data-dir',
      dir.path,
      '--login',
      'alice',
      '--password',
      'new-alice-password',
    ]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal((await call(devicesUrl, 'GET', { auth: basic('alice', 'new-alice-password') })).status, 200);
    const unknown = await runSmsgate([
      'users',
      'passwd',
      '--data-dir',
      dir.path,
      '--login',
      'nobody',
      '--password',
      'whatever-password',
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no user with login "nobody"/);
  } finally {
    await server.stop();
  }
  // a fresh server (no remembered logins) refuses the old password
  const again = await spawnSmsgate(['server', '--data-dir', dir.path, '--port', '0']);
  try {
    assert.equal(
      (await call(`${again.ready.thirdPartyUrl}/devices`, 'GET', { auth: basic('alice', 'alice-password') })).status,
      401,
    );
  } finally {
    await again.stop();
    dir.remove();
  }
});

test("a generated password or token can follow its flag as is: none starts with '-' (one in 64 base64url strings would)", () => {
  const leading = new Set(Array.from({ length: 20_000 }, () => randomSecret(12)[0]));
  assert.equal(leading.has('-'), false);
  assert.ok(leading.size > 40, `the first character still varies (${leading.size} seen)`);
});
