import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, get as httpsGet, type Server } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createCa, issueServerCert, parseSubjectNames } from '../../src/cli/pki.ts';

const BIN = fileURLToPath(new URL('../../bin/smsgate.js', import.meta.url));
const DAY = 24 * 3600 * 1000;

function smsgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function httpsServer(pair: { keyPem: string; certPem: string }): Promise<{ server: Server; port: number }> {
  const server = createServer({ key: pair.keyPem, cert: pair.certPem }, (_req, res) => res.end('hello over tls'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Connect with TLS, trusting only `ca` (or nothing extra); resolve with the outcome, never throw. */
function tryConnect(
  port: number,
  options: { ca?: string; servername?: string; host?: string },
): Promise<{ authorized: boolean; code?: string }> {
  return new Promise((resolve) => {
    const socket = connect(
      { port, host: options.host ?? '127.0.0.1', ca: options.ca, servername: options.servername },
      () => {
        resolve({ authorized: socket.authorized });
        socket.end();
      },
    );
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ authorized: false, code: error.code }));
  });
}

test('a CA and a server certificate with IP and DNS SANs, one year, serverAuth', async () => {
  const ca = await createCa({ commonName: 'test CA' });
  const issued = await issueServerCert(ca, ['127.0.0.1', 'localhost', '::1']);
  const caCert = new X509Certificate(ca.certPem);
  const cert = new X509Certificate(issued.certPem);

  assert.equal(caCert.ca, true);
  assert.equal(caCert.subject, 'CN=test CA');
  assert.equal(cert.ca, false);
  assert.ok(cert.checkIssued(caCert), 'issued by the CA');
  assert.ok(cert.verify(caCert.publicKey), 'signed by the CA key');
  assert.equal(cert.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']); // node reports the extended key usage here
  const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
  assert.equal(Math.round(lifetime / DAY), 365);
  assert.ok(Date.parse(cert.validFrom) <= Date.now(), 'valid from now');
  assert.ok(cert.checkPrivateKey(createPrivateKey(issued.keyPem)), 'the key file belongs to the certificate');
  assert.deepEqual(issued.names, [
    { type: 'ip', value: '127.0.0.1' },
    { type: 'dns', value: 'localhost' },
    { type: 'ip', value: '::1' },
  ]);
});

test('TLS to a server with an issued certificate: trusted with the CA, refused without it', async () => {
  const ca = await createCa();
  const issued = await issueServerCert(ca, ['127.0.0.1']);
  const { server, port } = await httpsServer(issued);
  try {
    assert.deepEqual(await tryConnect(port, { ca: ca.certPem }), { authorized: true });
    // Not trusted: system store only.
    const untrusted = await tryConnect(port, {});
    assert.equal(untrusted.authorized, false);
    assert.equal(untrusted.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // Trusting a different CA does not help.
    const otherCa = await createCa();
    assert.equal((await tryConnect(port, { ca: otherCa.certPem })).code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // The certificate is for 127.0.0.1 only: another name does not match its SANs.
    assert.equal(
      (await tryConnect(port, { ca: ca.certPem, servername: 'example.lan' })).code,
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
    // And a plain https request with the CA gets through.
    const body = await fetchWithCa(`https://127.0.0.1:${port}/`, ca.certPem);
    assert.equal(body, 'hello over tls');
  } finally {
    server.close();
  }
});

function fetchWithCa(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

test('host parsing: IPs, names, brackets, wildcards; bad names are named', () => {
  assert.deepEqual(parseSubjectNames(['192.168.1.10', '[fe80::1]', 'My-Server.LAN.', '*.example.com']), [
    { type: 'ip', value: '192.168.1.10' },
    { type: 'ip', value: 'fe80::1' },
    { type: 'dns', value: 'my-server.lan' },
    { type: 'dns', value: '*.example.com' },
  ]);
  for (const bad of [
    'bad host',
    '-leading.dash',
    'a..b',
    'x'.repeat(64),
    'foo_bar.lan',
    '300.1.1.1.',
    '192.168.1.300',
    '12345',
  ]) {
    assert.throws(
      () => parseSubjectNames([bad]),
      (error: Error) => error.message.includes(`"${bad}"`),
      bad,
    );
  }
  assert.throws(() => parseSubjectNames([]), /at least one/);
});

test('smsgate ca init / ca issue as commands', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-ca-'));
  try {
    const noCa = await smsgate(['ca', 'issue', '127.0.0.1', '--data-dir', dir]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /no CA in .*create one first with `smsgate ca init --data-dir/);

    const init = await smsgate(['ca', 'init', '--data-dir', dir]);
    assert.equal(init.code, 0, init.stderr);
    const caKey = join(dir, 'ca', 'ca.key.pem');
    const caCrt = join(dir, 'ca', 'ca.crt.pem');
    assert.ok(existsSync(caKey) && existsSync(caCrt));
    assert.equal(statSync(caKey).mode & 0o777, 0o600, 'the CA key is private to its owner');
    assert.ok(init.stdout.includes(caCrt));

    const again = await smsgate(['ca', 'init', '--data-dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists.*--force/);
    const before = readFileSync(caCrt, 'utf8');
    assert.equal((await smsgate(['ca', 'init', '--data-dir', dir])).code, 1);
    assert.equal(readFileSync(caCrt, 'utf8'), before, 'a refused init leaves the CA alone');

    const issue = await smsgate(['ca', 'issue', '127.0.0.1', 'localhost', '--data-dir', dir]);
    assert.equal(issue.code, 0, issue.stderr);
    const crt = join(dir, 'certs', '127.0.0.1.crt.pem');
    const key = join(dir, 'certs', '127.0.0.1.key.pem');
    assert.ok(issue.stdout.includes(crt) && issue.stdout.includes(key), issue.stdout);
    const cert = new X509Certificate(readFileSync(crt));
    assert.ok(cert.checkIssued(new X509Certificate(before)));
    assert.equal(cert.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost');

    const out = join(dir, 'elsewhere');
    const issueOut = await smsgate(['ca', 'issue', '10.0.0.5', '--data-dir', dir, '--out', out]);
    assert.equal(issueOut.code, 0, issueOut.stderr);
    assert.ok(existsSync(join(out, '10.0.0.5.crt.pem')) && existsSync(join(out, '10.0.0.5.key.pem')));

    assert.equal((await smsgate(['ca', 'issue', '127.0.0.1', '--data-dir', dir])).code, 1, 'no silent overwrite');
    assert.equal((await smsgate(['ca', 'issue', '127.0.0.1', '--data-dir', dir, '--force'])).code, 0);

    const badHost = await smsgate(['ca', 'issue', 'not a host', '--data-dir', dir]);
    assert.equal(badHost.code, 2);
    assert.match(badHost.stderr, /"not a host" is neither an IP address nor a valid host name/);

    const forced = await smsgate(['ca', 'init', '--data-dir', dir, '--force']);
    assert.equal(forced.code, 0);
    assert.notEqual(readFileSync(caCrt, 'utf8'), before, '--force makes a new CA');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
