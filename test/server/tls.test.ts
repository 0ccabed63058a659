import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { createCa, issueServerCert, type PemPair } from '../../src/cli/pki.ts';
import { Agent, fetch as undiciFetch } from 'undici';
import { trustingConnect } from '../../src/shared/trusted-ca.ts';
import { register } from '../../src/device/link/mobile-client.ts';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { SMSGATE_BIN, startSmsgate } from '../helpers/process.ts';
import { basic, call, tempDir } from './helpers.ts';
import { createTestDatabase, type TestDatabase } from '../postgres/helpers.ts';

/** A `fetch` whose HTTPS connections also trust `extraCa`; `close` ends its connections. */
function trustingFetch(extraCa: readonly string[]): { fetch: typeof fetch; close(): Promise<void> } {
  const dispatcher = new Agent({ connect: trustingConnect(extraCa) });
  const trusting = (input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    });
  return { fetch: trusting as unknown as typeof fetch, close: () => dispatcher.close() };
}

/**
 * The server on HTTPS with a certificate of a private CA made here, and devices that trust that CA
 * through `--ca` (`extraCa`): as a phone on a LAN would reach it.
 */
for (const store of ['sqlite', 'postgres'] as const)
  describe(`server over HTTPS (${store})`, () => {
    let ca: PemPair;
    let server: RunningServer;
    let database: TestDatabase | undefined;
    let dir: ReturnType<typeof tempDir>;
    let trusting: ReturnType<typeof trustingFetch>;

    before(async () => {
      ca = await createCa({ commonName: 'smsgate test CA' });
      const issued = await issueServerCert(ca, ['127.0.0.1', 'localhost']);
      dir = tempDir();
      if (store === 'postgres') database = await createTestDatabase();
      server = await createServer({
        dataDir: dir.path,
        db: database?.url,
        port: 0,
        https: { cert: issued.certPem, key: issued.keyPem },
      });
      trusting = trustingFetch([ca.certPem]);
    });
    after(async () => {
      await trusting.close();
      await server.close();
      await database?.drop();
      dir.remove();
    });

    test('it answers HTTPS only, with the issued certificate: trusted through the CA, refused without it', async () => {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await trusting.fetch(`${server.url}/health/live`);
      assert.equal(health.status, 200);
      await assert.rejects(fetch(`${server.url}/health/live`), (error: Error) => {
        assert.match(String((error.cause as Error)?.message ?? error.message), /certificate/i);
        return true;
      });
      const plain = server.url.replace('https://', 'http://');
      await assert.rejects(fetch(`${plain}/health/live`), 'plain HTTP on the HTTPS port gets no answer');
    });

    test('a device linked with the CA registers, and a message sent through the server is Delivered by it', async () => {
      const device = await startTestDevice({
        extraCa: [ca.certPem],
        link: { serverUrl: server.url, privateToken: server.privateToken, log: () => {} },
      });
      try {
        const link = device.link!;
        assert.equal(link.registration.serverUrl, server.url);
        await eventually(() => link.connected, 'the push stream over HTTPS');
        const auth = basic(link.registration.login, link.createdPassword!);
        const sent = await trusting.fetch(`${server.thirdPartyUrl}/messages`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ textMessage: { text: 'over TLS' }, phoneNumbers: ['+15550104000'] }),
        });
        assert.equal(sent.status, 202);
        const { id } = (await sent.json()) as { id: string };
        await eventually(
          async () => {
            const state = await trusting.fetch(`${server.thirdPartyUrl}/messages/${id}`, {
              headers: { authorization: auth },
            });
            return ((await state.json()) as { state: string }).state === 'Delivered';
          },
          'Delivered over HTTPS',
          10_000,
        );
      } finally {
        await device.cleanup();
      }
    });

    test('a device without the CA does not link: the certificate is named as the reason', async () => {
      await assert.rejects(
        startTestDevice({ link: { serverUrl: server.url, privateToken: server.privateToken, log: () => {} } }),
        (error: Error) => {
          assert.match(error.message, /cannot link to https:\/\/127\.0\.0\.1/);
          assert.match(
            String((error.cause as Error)?.message) + JSON.stringify(error.stack),
            /certificate|fetch failed/i,
          );
          return true;
        },
      );
    });
  });

test('the commands: `ca init`, `ca issue`, `server --tls-cert/--tls-key`, and `device --server https://… --ca`', async () => {
  const dir = tempDir();
  const processes: Awaited<ReturnType<typeof startSmsgate>>[] = [];
  try {
    const caDir = join(dir.path, 'pki');
    execFileSync(process.execPath, [SMSGATE_BIN, 'ca', 'init', '--data-dir', caDir], { stdio: 'pipe' });
    execFileSync(process.execPath, [SMSGATE_BIN, 'ca', 'issue', '127.0.0.1', '--data-dir', caDir], { stdio: 'pipe' });
    const server = await startSmsgate([
      'server',
      '--port',
      '0',
      '--data-dir',
      join(dir.path, 'server'),
      '--tls-cert',
      join(caDir, 'certs', '127.0.0.1.crt.pem'),
      '--tls-key',
      join(caDir, 'certs', '127.0.0.1.key.pem'),
    ]);
    processes.push(server);
    assert.match(server.ready.url, /^https:\/\//);
    const device = await startSmsgate([
      'device',
      '--port',
      '0',
      '--data-dir',
      join(dir.path, 'device'),
      '--server',
      server.ready.url,
      '--server-token',
      server.ready.privateToken,
      '--ca',
      join(caDir, 'ca', 'ca.crt.pem'),
    ]);
    processes.push(device);
    assert.equal(device.ready.server.url, server.ready.url);
    assert.ok(device.ready.server.deviceId, 'registered with the HTTPS server');

    // without --ca the same command stops with the reason
    await assert.rejects(
      startSmsgate([
        'device',
        '--port',
        '0',
        '--data-dir',
        join(dir.path, 'device-without-ca'),
        '--server',
        server.ready.url,
        '--server-token',
        server.ready.privateToken,
      ]),
      /cannot link to https:.*(certificate|fetch failed)/is,
    );
    // half a TLS option is a usage error
    await assert.rejects(
      startSmsgate(['server', '--port', '0', '--data-dir', join(dir.path, 'half'), '--tls-cert', 'x.pem']),
      /--tls-cert and --tls-key go together/,
    );
  } finally {
    for (const running of processes) {
      running.child.kill('SIGTERM');
      await running.exited;
    }
    dir.remove();
  }
});

test('behind a trusted reverse proxy the device is told the address from X-Forwarded-For; otherwise the peer', async () => {
  for (const trustProxy of [undefined, ['127.0.0.1']]) {
    const dir = tempDir();
    const server = await createServer({ dataDir: dir.path, port: 0, trustProxy });
    try {
      const phone = await register(server.url, { privateToken: server.privateToken });
      const seen = await call(`${server.mobileUrl}/device`, 'GET', {
        auth: `Bearer ${phone.token}`,
        headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' },
      });
      assert.equal(seen.status, 200);
      assert.equal(seen.body.externalIp, trustProxy ? '203.0.113.7' : '127.0.0.1');
    } finally {
      await server.close();
      dir.remove();
    }
  }
});
