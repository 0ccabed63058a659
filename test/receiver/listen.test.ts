import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { startListener, type ListenRecord } from '../../src/receiver/listener.ts';
import { createCa, issueServerCert } from '../../src/cli/pki.ts';

const BIN = fileURLToPath(new URL('../../bin/smsgate.js', import.meta.url));
const KEY = 'listen-test-key';
const BODY = JSON.stringify({
  deviceId: 'dev-1',
  event: 'sms:received',
  id: 'Ey6ECgOkVVFjz3CL48B8C',
  payload: {
    messageId: 'abc123',
    message: 'Привет 👋',
    sender: '6505551212',
    phoneNumber: '6505551212',
    simNumber: 1,
    receivedAt: '2024-06-22T15:46:11.000+07:00',
  },
  webhookId: 'wh-1',
});

function signedHeaders(key: string, body: string, ageSec = 0): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000) - ageSec);
  return {
    'content-type': 'application/json',
    'x-timestamp': ts,
    'x-signature': createHmac('sha256', key).update(body).update(ts).digest('hex'),
  };
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: any }> {
  const response = await fetch(url, { method: 'POST', body, headers });
  return { status: response.status, json: await response.json() };
}

test('answers 500 to the first N requests, then the chosen status; every request is recorded and verified', async () => {
  const seen: ListenRecord[] = [];
  const listener = await startListener({
    port: 0,
    secret: KEY,
    failFirst: 2,
    status: 202,
    onRequest: (r) => seen.push(r),
  });
  try {
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await post(listener.url + 'hook?x=1', BODY, signedHeaders(KEY, BODY))).status);
    assert.deepEqual(statuses, [500, 500, 202]);
    assert.equal(seen.length, 3);
    assert.deepEqual(
      seen.map((r) => r.id),
      ['Ey6ECgOkVVFjz3CL48B8C', 'Ey6ECgOkVVFjz3CL48B8C', 'Ey6ECgOkVVFjz3CL48B8C'],
    );
    assert.deepEqual(
      seen.map((r) => [r.verified, r.reason, r.status]),
      [
        [true, null, 500],
        [true, null, 500],
        [true, null, 202],
      ],
    );
    const last = seen[2];
    assert.equal(last.method, 'POST');
    assert.equal(last.path, '/hook?x=1');
    assert.equal(last.event, 'sms:received');
    assert.equal(last.webhookId, 'wh-1');
    assert.equal(last.deviceId, 'dev-1');
    assert.deepEqual(last.payload, JSON.parse(BODY).payload);
    assert.equal(last.parseError, null);
    assert.ok(last.latencyMs !== null && last.latencyMs >= 0 && last.latencyMs < 2000, String(last.latencyMs));
    assert.deepEqual(listener.records, seen);
  } finally {
    await listener.close();
  }
});

test('says why a request does not verify, and still answers it', async () => {
  const listener = await startListener({ port: 0, secret: KEY });
  try {
    const wrongKey = await post(listener.url, BODY, signedHeaders('other-key', BODY));
    assert.deepEqual(wrongKey, { status: 200, json: { received: true, verified: false, reason: 'mismatch' } });
    await post(listener.url, BODY, { 'content-type': 'application/json' });
    await post(listener.url, BODY, signedHeaders(KEY, BODY, 301));
    const [a, b, c] = listener.records;
    assert.deepEqual([a.reason, b.reason, c.reason], ['mismatch', 'missing-signature', 'stale-timestamp']);
    assert.match(a.detail!, /wrong signing key/);
    assert.equal(b.latencyMs, null);
    assert.ok(c.latencyMs! >= 301_000 && c.latencyMs! < 303_000, `latency since X-Timestamp: ${c.latencyMs}`);
  } finally {
    await listener.close();
  }
});

test('without a key requests are shown as not verified (no-secret); odd bodies are shown as they are', async () => {
  const listener = await startListener({ port: 0 });
  try {
    await post(listener.url, BODY, signedHeaders(KEY, BODY));
    await fetch(listener.url + 'plain', { method: 'PUT', body: 'not json' });
    await post(listener.url, '{"event":"mms:sent","id":"x1"}', {});
    const [signed, plain, unknown] = listener.records;
    assert.deepEqual([signed.verified, signed.reason], [false, 'no-secret']);
    assert.match(signed.detail!, /--secret or --device/);
    assert.deepEqual([plain.method, plain.payload, plain.event], ['PUT', 'not json', null]);
    assert.match(plain.parseError!, /not JSON/);
    // Not a known event, but its ids are still shown.
    assert.deepEqual([unknown.event, unknown.id], ['mms:sent', 'x1']);
    assert.match(unknown.parseError!, /unknown event/);
  } finally {
    await listener.close();
  }
});

test('re-reads a rotated key (refreshSecret) when a request does not verify', async () => {
  let calls = 0;
  const listener = await startListener({ port: 0, secret: 'old-key', refreshSecret: async () => (calls++, 'new-key') });
  try {
    assert.equal((await post(listener.url, BODY, signedHeaders('old-key', BODY))).json.verified, true);
    assert.equal(calls, 0, 'no refresh while the key verifies');
    assert.equal((await post(listener.url, BODY, signedHeaders('new-key', BODY))).json.verified, true);
    assert.equal(calls, 1);
    assert.equal((await post(listener.url, BODY, signedHeaders('old-key', BODY))).json.reason, 'mismatch');
    assert.equal(calls, 1, 'refreshes are rate-limited');
  } finally {
    await listener.close();
  }
});

test('refuses impossible options', async () => {
  await assert.rejects(startListener({ port: 0, status: 100 }), /status must be 200–599/);
  await assert.rejects(startListener({ port: 0, failFirst: -1 }), /failFirst/);
});

test('serves HTTPS with a certificate from the private CA', async () => {
  const ca = await createCa();
  const issued = await issueServerCert(ca, ['127.0.0.1']);
  const listener = await startListener({ port: 0, secret: KEY, tls: { cert: issued.certPem, key: issued.keyPem } });
  try {
    assert.match(listener.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const answer = await httpsPost(listener.url, BODY, signedHeaders(KEY, BODY), ca.certPem);
    assert.deepEqual(answer, { status: 200, body: { received: true, verified: true } });
    await assert.rejects(
      httpsPost(listener.url, BODY, signedHeaders(KEY, BODY)),
      (error: NodeJS.ErrnoException) => error.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
  } finally {
    await listener.close();
  }
});

function httpsPost(
  url: string,
  body: string,
  headers: Record<string, string>,
  ca?: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'POST', headers, ca }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---- as a real child process -------------------------------------------------------------

interface Running {
  child: ChildProcess;
  url: string;
  lines: string[];
  waitForLines(predicate: (lines: string[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function startListen(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'listen', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitForLines = (predicate: (lines: string[]) => boolean, timeoutMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate(lines)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out; output so far:\n${lines.join('\n')}\nstderr:\n${stderr.join('\n')}`));
      }, timeoutMs);
      waiters.add(check);
      void exited.then(() =>
        setTimeout(
          () =>
            waiters.has(check)
              ? (waiters.delete(check),
                clearTimeout(timer),
                reject(new Error(`listen exited:\n${[...lines, ...stderr].join('\n')}`)))
              : undefined,
          50,
        ),
      );
      check();
    });
  try {
    await waitForLines((l) => l.some((x) => x.startsWith('ready ')));
  } catch (error) {
    child.kill();
    throw error;
  }
  const url = JSON.parse(lines.find((l) => l.startsWith('ready '))!.slice(6)).url as string;
  return {
    child,
    url,
    lines,
    waitForLines,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function runListen(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'listen', '--port', '0', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('child process: --json prints one JSON line per request, --fail-first then --status', async () => {
  const listen = await startListen(['--secret', KEY, '--json', '--fail-first', '1', '--status', '204']);
  try {
    assert.match(listen.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const first = await fetch(listen.url, { method: 'POST', body: BODY, headers: signedHeaders(KEY, BODY) });
    const second = await fetch(listen.url, { method: 'POST', body: BODY, headers: signedHeaders('wrong', BODY) });
    assert.deepEqual([first.status, second.status], [500, 204]);
    await listen.waitForLines((l) => l.filter((x) => x.startsWith('{')).length >= 2);
    const records = listen.lines.filter((x) => x.startsWith('{')).map((x) => JSON.parse(x));
    for (const key of [
      'receivedAt',
      'method',
      'path',
      'event',
      'id',
      'webhookId',
      'deviceId',
      'verified',
      'reason',
      'latencyMs',
      'status',
      'payload',
    ]) {
      assert.ok(key in records[0], `JSON line has "${key}"`);
    }
    assert.deepEqual(
      records.map((r) => [r.id, r.verified, r.reason, r.status]),
      [
        ['Ey6ECgOkVVFjz3CL48B8C', true, null, 500],
        ['Ey6ECgOkVVFjz3CL48B8C', false, 'mismatch', 204],
      ],
    );
    assert.equal(records[0].payload.message, 'Привет 👋');
    assert.equal(
      listen.lines.filter((l) => !l.startsWith('{') && !l.startsWith('ready ')).length,
      0,
      'only JSON lines besides ready',
    );
  } finally {
    await listen.stop();
  }
});

test('child process: readable output shows event, ids, verified yes/no (reason), latency, status, payload', async () => {
  const listen = await startListen(['--secret', KEY]);
  try {
    await fetch(listen.url + 'webhook', { method: 'POST', body: BODY, headers: signedHeaders(KEY, BODY) });
    await fetch(listen.url + 'webhook', {
      method: 'POST',
      body: BODY,
      headers: signedHeaders(KEY, BODY.replace('abc123', 'abc124')),
    });
    await listen.waitForLines((l) => l.filter((x) => x.includes('verified:')).length >= 2);
    const text = listen.lines.join('\n');
    assert.match(text, /POST \/webhook/);
    assert.match(text, /event: +sms:received/);
    assert.match(text, /id: +Ey6ECgOkVVFjz3CL48B8C +webhookId: wh-1 +deviceId: dev-1/);
    assert.match(text, /verified: +yes/);
    assert.match(text, /verified: +no \(mismatch\)/);
    assert.match(text, /latency: +\d+ ms since X-Timestamp/);
    assert.match(text, /answered: +200/);
    assert.match(text, /"message": "Привет 👋"/);
  } finally {
    await listen.stop();
  }
});

test('child process: --tls serves HTTPS with an issued certificate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-listen-'));
  const ca = await createCa();
  const issued = await issueServerCert(ca, ['127.0.0.1']);
  writeFileSync(join(dir, 'cert.pem'), issued.certPem);
  writeFileSync(join(dir, 'key.pem'), issued.keyPem);
  const listen = await startListen([
    '--secret',
    KEY,
    '--json',
    '--tls',
    '--cert',
    join(dir, 'cert.pem'),
    '--key',
    join(dir, 'key.pem'),
  ]);
  try {
    assert.match(listen.url, /^https:/);
    const answer = await httpsPost(listen.url, BODY, signedHeaders(KEY, BODY), ca.certPem);
    assert.deepEqual(answer, { status: 200, body: { received: true, verified: true } });
    await listen.waitForLines((l) => l.some((x) => x.startsWith('{')));
  } finally {
    await listen.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("child process: --device reads the signing key from the device's settings", async () => {
  // A stand-in for a device's Local API: only GET /settings, behind Basic auth.
  const auth = 'Basic ' + Buffer.from('sms:pw').toString('base64');
  const device = createServer((req, res) => {
    if (req.headers.authorization !== auth)
      return res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"unauthorized"}');
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ webhooks: { internet_required: true, retry_count: 14, signing_key: 'from-device' } }));
  });
  await new Promise<void>((resolve) => device.listen(0, '127.0.0.1', resolve));
  const deviceUrl = `http://127.0.0.1:${(device.address() as AddressInfo).port}`;
  try {
    const listen = await startListen(['--device', deviceUrl, '--password', 'pw', '--json']);
    try {
      const answer = await post(listen.url, BODY, signedHeaders('from-device', BODY));
      assert.deepEqual(answer.json, { received: true, verified: true });
    } finally {
      await listen.stop();
    }
    const refused = await runListen(['--device', deviceUrl, '--password', 'nope']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the credentials \(401\): check --username and --password/);
  } finally {
    device.close();
  }
});

test('child process: usage mistakes exit 2 with a message saying what to do', async () => {
  const cases: [string[], RegExp][] = [
    [['--tls'], /--tls needs --cert FILE and --key FILE/],
    [['--cert', 'x.pem', '--key', 'y.pem'], /add --tls/],
    [['--secret', 'a', '--device', 'http://127.0.0.1:1'], /either --secret or --device/],
    [['--device', 'http://127.0.0.1:1'], /--device needs --password/],
    [['--status', '99'], /--status must be between 200 and 599/],
    [['--fail-first', 'two'], /--fail-first must be a whole number/],
  ];
  for (const [args, message] of cases) {
    const result = await runListen(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  const unreachable = await runListen(['--device', 'http://127.0.0.1:1', '--password', 'x']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach the device at http:\/\/127\.0\.0\.1:1\/settings/);
});
