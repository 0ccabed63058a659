// End to end over HTTPS (SPEC §12): a device trusting a private CA delivers every event to
// `smsgate listen --tls` running as a real child process; a certificate it does not trust is a
// failed attempt whose log says so; and the device's own Local API serves HTTPS with an issued
// certificate.
import { basic } from '../helpers/http.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs it before it loads
import * as x509 from '@peculiar/x509';
import { createCa, issueServerCert } from '../../src/cli/pki.ts'; // also sets up @peculiar/x509's crypto provider
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { startSmsgate, SMSGATE_BIN, type RunningProcess } from '../helpers/process.ts';
import type { ListenRecord } from '../../src/receiver/listener.ts';

const exec = promisify(execFile);
const EVENTS = ['sms:received', 'sms:sent', 'sms:delivered', 'sms:failed', 'system:ping'] as const;

let dir: ReturnType<typeof tempDir>;
let caPem: string;
let certFile: string;
let keyFile: string;

before(async () => {
  dir = tempDir('smsgate-e2e-https-');
  // Exactly what the docs tell a user to run.
  await exec(process.execPath, [SMSGATE_BIN, 'ca', 'init', '--data-dir', dir.path]);
  await exec(process.execPath, [SMSGATE_BIN, 'ca', 'issue', '127.0.0.1', '--data-dir', dir.path]);
  caPem = readFileSync(join(dir.path, 'ca', 'ca.crt.pem'), 'utf8');
  certFile = join(dir.path, 'certs', '127.0.0.1.crt.pem');
  keyFile = join(dir.path, 'certs', '127.0.0.1.key.pem');
});
after(() => dir.remove());

/** A Local API client that trusts `ca` (and nothing else beyond the bundled roots). */
function trustingClient(baseUrl: string, username: string, password: string, ca: string) {
  const agent = new Agent({ connect: { ca } });
  const authorization = basic(username, password);
  return {
    async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
      const response = await undiciFetch(baseUrl + path, {
        method,
        dispatcher: agent,
        headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    close: () => agent.close(),
  };
}

function jsonLines(listen: RunningProcess): ListenRecord[] {
  return listen.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as ListenRecord);
}

async function stop(listen: RunningProcess | undefined): Promise<void> {
  if (!listen) return;
  if (listen.child.exitCode === null && listen.child.signalCode === null) listen.child.kill('SIGTERM');
  await listen.exited;
}

/** A self-signed server certificate for 127.0.0.1: right name, but no CA vouches for it. */
async function selfSigned(): Promise<{ keyPem: string; certPem: string }> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=127.0.0.1',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n', certPem: cert.toString('pem') + '\n' };
}

test('a device trusting the private CA delivers all five events to `smsgate listen --tls`, every one verified', async () => {
  // The device's Local API also serves HTTPS with the issued certificate.
  // Time scale 0.1: a 3 s attempt timeout, ample for a TLS handshake with a freshly started child process.
  const device = await startTestDevice({
    timeScale: 0.1,
    extraCa: [caPem],
    https: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
  });
  const api = trustingClient(device.url, device.username, 'test-password', caPem);
  let listen: RunningProcess | undefined;
  try {
    assert.match(device.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const key = (await api.call('GET', '/settings')).body.webhooks.signing_key as string;
    assert.ok(key, 'the device has a signing key');

    listen = await startSmsgate([
      'listen',
      '--port',
      '0',
      '--tls',
      '--cert',
      certFile,
      '--key',
      keyFile,
      '--secret',
      key,
      '--json',
    ]);
    assert.match(listen.ready.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    for (const event of EVENTS) {
      const reply = await api.call('POST', '/webhooks', { url: `${listen.ready.url}hook`, event });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }

    assert.equal((await api.call('POST', '/sim/v1/incoming', { from: '+66812345678', text: 'over TLS' })).status, 202);
    // +15550000001 is the carrier's magic number for sms:failed; the other recipient is sent and delivered.
    assert.equal(
      (await api.call('POST', '/message', { message: 'hi', phoneNumbers: ['+15551230000', '+15550000001'] })).status,
      202,
    );
    assert.equal((await api.call('PATCH', '/settings', { ping: { interval_seconds: 1 } })).status, 200);

    const running = listen;
    await eventually(
      () => EVENTS.every((e) => jsonLines(running).some((r) => r.event === e)),
      'all five events at the listener',
      15_000,
    );
    await api.call('PATCH', '/settings', { ping: { interval_seconds: null } });

    const records = jsonLines(listen);
    assert.ok(records.length >= 5);
    for (const record of records) {
      assert.deepEqual(
        {
          verified: record.verified,
          reason: record.reason,
          status: record.status,
          deviceId: record.deviceId,
          path: record.path,
          parseError: record.parseError,
        },
        { verified: true, reason: null, status: 200, deviceId: device.deviceId, path: '/hook', parseError: null },
        `${record.event} ${record.id}`,
      );
    }
    const received = records.find((r) => r.event === 'sms:received')!;
    assert.equal((received.payload as { message: string }).message, 'over TLS');

    // The device's side agrees: each delivery succeeded with the listener's 200.
    for (const event of ['sms:received', 'sms:sent', 'sms:delivered', 'sms:failed'] as const) {
      const id = records.find((r) => r.event === event)!.id!;
      const delivery = await eventually(async () => {
        const d = (await api.call('GET', `/deliveries/${id}`)).body;
        return d.state === 'succeeded' ? d : null;
      }, `delivery ${id} succeeded`);
      assert.deepEqual([delivery.attemptLog.at(-1).status, delivery.attemptLog.at(-1).error], [200, null]);
    }

    // A client that does not trust the CA cannot reach the Local API.
    await assert.rejects(fetch(device.url + '/health'), (error: Error & { cause?: { code?: string } }) => {
      assert.equal(error.cause?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      return true;
    });
  } finally {
    await stop(listen);
    await api.close();
    await device.cleanup();
  }
});

test('a certificate the device does not trust makes a failed attempt whose log says so', async () => {
  const otherCa = await createCa({ commonName: 'some other CA' });
  const candidates = {
    'self-signed': await selfSigned(),
    'issued by another CA': await issueServerCert(otherCa, ['127.0.0.1']),
  };
  // The device trusts our CA, but neither of these certificates comes from it. Time scale 0.1 keeps
  // the attempt timeout at 3 s, so that a slow handshake on a busy machine is not logged as a timeout.
  const device = await startTestDevice({ timeScale: 0.1, extraCa: [caPem] });
  const running: RunningProcess[] = [];
  try {
    const key = (await device.api.call('GET', '/settings')).body.webhooks.signing_key as string;
    const hooks: { kind: string; webhookId: string; listen: RunningProcess }[] = [];
    for (const [kind, pair] of Object.entries(candidates)) {
      const slug = kind.replace(/\W+/g, '-');
      writeFileSync(join(dir.path, `${slug}.crt.pem`), pair.certPem);
      writeFileSync(join(dir.path, `${slug}.key.pem`), pair.keyPem, { mode: 0o600 });
      const listen = await startSmsgate([
        'listen',
        '--port',
        '0',
        '--secret',
        key,
        '--json',
        '--tls',
        '--cert',
        join(dir.path, `${slug}.crt.pem`),
        '--key',
        join(dir.path, `${slug}.key.pem`),
      ]);
      running.push(listen);
      const reply = await device.api.call('POST', '/webhooks', {
        url: `${listen.ready.url}hook`,
        event: 'sms:received',
        id: `untrusted-${slug}`,
      });
      assert.equal(reply.status, 201);
      hooks.push({ kind, webhookId: reply.body.id, listen });
    }

    await device.api.call('POST', '/sim/v1/incoming', { from: '+15551234567', text: 'nobody should read this' });

    const expected: Record<string, RegExp> = {
      'self-signed': /^TLS: certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\): self-signed certificate$/,
      'issued by another CA':
        /^TLS: certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): unable to verify the first certificate$/,
    };
    for (const hook of hooks) {
      const delivery = await eventually(async () => {
        const list = (await device.api.call('GET', `/deliveries?webhookId=${hook.webhookId}`)).body.items;
        if (list.length !== 1) return null;
        const d = (await device.api.call('GET', `/deliveries/${list[0].id}`)).body;
        return d.attemptLog.length >= 1 ? d : null;
      }, `a logged attempt to the ${hook.kind} listener`);
      const first = delivery.attemptLog[0];
      assert.equal(first.status, null, 'no HTTP status: the handshake never completed');
      assert.match(first.error, expected[hook.kind], `${hook.kind}: ${first.error}`);
      assert.notEqual(delivery.state, 'succeeded');
      assert.match(delivery.lastError, /certificate not trusted/);
      // The request never reached the listener: it printed no request line.
      assert.deepEqual(jsonLines(hook.listen), [], `${hook.kind}: the listener saw nothing`);
    }
  } finally {
    for (const listen of running) await stop(listen);
    await device.cleanup();
  }
});
