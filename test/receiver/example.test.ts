// examples/receiver.ts, run exactly as its README says (`node --import tsx examples/receiver.ts`),
// against a real device: it registers for every event, handles each once, drops a redelivered
// duplicate, refuses a forged request, and removes its webhooks on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDevice, eventually, tempDir, TEST_PASSWORD } from '../helpers/device.ts';
import { createCa, issueServerCert } from '../../src/cli/pki.ts';
import { EVENT_NAMES } from '../../src/protocol/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EVENTS = ['sms:received', 'sms:sent', 'sms:delivered', 'sms:failed', 'system:ping'];

interface Example {
  child: ChildProcess;
  lines: string[];
  ready: { url: string; webhooks: string[] };
  exited: Promise<number | string>;
}

async function startExample(env: Record<string, string>): Promise<Example> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/receiver.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  // 'close', not 'exit': by then everything it printed has been read.
  const exited = new Promise<number | string>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(`stderr: ${line}`));
  try {
    const ready = await new Promise<Example['ready']>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within 20 s:\n${lines.join('\n')}`)), 20_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('ready ')) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice(6)));
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the example exited (${code}) before it was ready:\n${lines.join('\n')}`));
      });
    });
    return { child, lines, ready, exited };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
}

test('the example receiver registers itself for every event, handles the SMS events and the ping, drops a duplicate and deregisters', async () => {
  // Time scale 0.1: a 3 s attempt timeout, which a freshly started process answers in time even on a busy machine.
  const device = await startTestDevice({ timeScale: 0.1 });
  let example: Example | undefined;
  try {
    example = await startExample({ DEVICE_URL: device.url, DEVICE_PASSWORD: TEST_PASSWORD, PORT: '0' });
    const { lines, ready } = example;
    assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+\/webhook$/);

    // Registered for each event, at its own URL.
    const hooks = (await device.api.call('GET', '/webhooks')).body as { id: string; url: string; event: string }[];
    assert.deepEqual(hooks.map((h) => h.event).sort(), [...EVENT_NAMES].sort());
    assert.ok(hooks.every((h) => h.url === ready.url));

    await device.api.call('POST', '/sim/v1/incoming', { from: '+66812345678', text: 'hello example' });
    await device.api.call('POST', '/message', { message: 'hi', phoneNumbers: ['+15551230000', '+15550000001'] });
    await device.api.call('PATCH', '/settings', { ping: { interval_seconds: 1 } });

    const handled = () =>
      lines
        .filter((l) => l.startsWith('handled '))
        .map((l) => {
          const [, event, id] = l.split(/\s+/);
          return { event, id, line: l };
        });
    await eventually(
      () => EVENTS.every((e) => handled().some((h) => h.event === e)),
      'a handled line for every event',
      15_000,
    );
    await device.api.call('PATCH', '/settings', { ping: { interval_seconds: null } });

    const byEvent = (event: string) => handled().find((h) => h.event === event)!;
    assert.match(byEvent('sms:received').line, /from \+66812345678 \(SIM 1\): "hello example"$/);
    assert.match(byEvent('sms:sent').line, /sent to \+15551230000 in 1 part\(s\) at /);
    assert.match(byEvent('sms:delivered').line, /delivered to \+15551230000 at /);
    assert.match(byEvent('sms:failed').line, /to \+15550000001 failed: RESULT_ERROR_GENERIC_FAILURE$/);
    assert.match(byEvent('system:ping').line, /device health (pass|warn|fail)$/);
    const ids = handled().map((h) => h.id);
    assert.equal(new Set(ids).size, ids.length, 'each id handled once');
    assert.ok(!lines.some((l) => l.startsWith('rejected ')), `every device request verified:\n${lines.join('\n')}`);

    // A redelivery resends the same id: dropped, and still answered 2xx so the device stops.
    const received = byEvent('sms:received');
    const duplicateLine = `duplicate sms:received ${received.id} dropped`;
    const duplicatesBefore = lines.filter((l) => l === duplicateLine).length;
    const attemptsBefore = await eventually(async () => {
      const d = (await device.api.call('GET', `/deliveries/${received.id}`)).body;
      return d.state === 'succeeded' ? d.attemptLog.length : 0;
    }, 'the first delivery finished');
    const redeliver = await device.api.call('POST', `/deliveries/${received.id}/redeliver`);
    assert.equal(redeliver.status, 202);
    await eventually(() => lines.filter((l) => l === duplicateLine).length > duplicatesBefore, 'the duplicate line');
    const redelivered = await eventually(async () => {
      const d = (await device.api.call('GET', `/deliveries/${received.id}`)).body;
      return d.state === 'succeeded' && d.attemptLog.length > attemptsBefore ? d : null;
    }, 'the redelivery answered');
    assert.deepEqual(
      [redelivered.attemptLog.at(-1).status, redelivered.attemptLog.at(-1).responsePreview],
      [200, 'duplicate'],
    );
    assert.equal(handled().filter((h) => h.id === received.id).length, 1, 'handled once, not twice');

    // A request signed with some other key is refused, and not handled.
    const body = JSON.stringify({
      deviceId: device.deviceId,
      event: 'sms:received',
      id: 'forged-id-000000000000',
      webhookId: 'x',
      payload: {
        messageId: 'm',
        message: 'forged',
        phoneNumber: '+1',
        simNumber: null,
        receivedAt: '2024-01-01T00:00:00.000+00:00',
      },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const forged = await fetch(ready.url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-timestamp': timestamp,
        'x-signature': createHmac('sha256', 'not-the-key')
          .update(body + timestamp)
          .digest('hex'),
      },
    });
    assert.equal(forged.status, 401);
    await eventually(() => lines.some((l) => l.startsWith('rejected mismatch')), 'the rejected line');
    assert.ok(!handled().some((h) => h.id === 'forged-id-000000000000'));

    // SIGTERM: it removes its webhooks and exits cleanly.
    example.child.kill('SIGTERM');
    assert.equal(await example.exited, 0, lines.join('\n'));
    assert.ok(
      lines.some((l) => /SIGTERM: deregistered 14 webhooks/.test(l)),
      lines.join('\n'),
    );
    assert.deepEqual((await device.api.call('GET', '/webhooks')).body, []);
  } finally {
    if (example && example.child.exitCode === null && example.child.signalCode === null) {
      example.child.kill('SIGKILL');
      await example.exited;
    }
    await device.cleanup();
  }
});

test('the example receiver serves HTTPS with a certificate from the private CA (TLS_CERT, TLS_KEY)', async () => {
  const dir = tempDir('smsgate-example-tls-');
  const ca = await createCa();
  const issued = await issueServerCert(ca, ['127.0.0.1']);
  writeFileSync(join(dir.path, 'cert.pem'), issued.certPem);
  writeFileSync(join(dir.path, 'key.pem'), issued.keyPem, { mode: 0o600 });
  const device = await startTestDevice({ timeScale: 0.1, extraCa: [ca.certPem] });
  let example: Example | undefined;
  try {
    example = await startExample({
      DEVICE_URL: device.url,
      DEVICE_PASSWORD: TEST_PASSWORD,
      PORT: '0',
      TLS_CERT: join(dir.path, 'cert.pem'),
      TLS_KEY: join(dir.path, 'key.pem'),
    });
    assert.match(example.ready.url, /^https:\/\/127\.0\.0\.1:\d+\/webhook$/);
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15551234567', text: 'over https' });
    const running = example;
    await eventually(
      () => running.lines.some((l) => /^handled sms:received .* "over https"$/.test(l)),
      'the SMS handled over HTTPS',
      15_000,
    );
    example.child.kill('SIGTERM');
    assert.equal(await example.exited, 0, example.lines.join('\n'));
  } finally {
    if (example && example.child.exitCode === null && example.child.signalCode === null) {
      example.child.kill('SIGKILL');
      await example.exited;
    }
    await device.cleanup();
    dir.remove();
  }
});

/** Run the example to its end (killed after 20 s at most); its exit code and stderr. */
function runExample(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/receiver.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

test('the example receiver says what is missing instead of starting half-configured', async () => {
  const noPassword = await runExample([], { DEVICE_PASSWORD: '', DEVICE_URL: 'http://127.0.0.1:1' });
  assert.equal(noPassword.code, 2);
  assert.match(noPassword.stderr, /Set DEVICE_PASSWORD/);

  const unreachable = await runExample(['--device', 'http://127.0.0.1:1', '--password', 'x'], {});
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot read the signing key from http:\/\/127\.0\.0\.1:1/);
});
