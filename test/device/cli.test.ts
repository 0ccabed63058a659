import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { TestReceiver } from '../helpers/receiver.ts';
import { tempDir, eventually, LocalApi } from '../helpers/device.ts';
import { startSmsgate, SMSGATE_BIN, type RunningProcess } from '../helpers/process.ts';

const exec = promisify(execFile);
const smsgate = (args: string[], env: Record<string, string> = {}) =>
  exec(process.execPath, [SMSGATE_BIN, ...args], { env: { ...process.env, ...env } });

let device: RunningProcess;
let dir: ReturnType<typeof tempDir>;
let receiver: TestReceiver;

before(async () => {
  dir = tempDir();
  receiver = await new TestReceiver().start();
  // No --password: the device generates one and prints it with its URL.
  device = await startSmsgate(['device', '--port', '0', '--sims', '+15557770001:Test Mobile,:Other Net'], {
    SMSGATE_DATA_DIR: dir.path,
    SMSGATE_TIME_SCALE: '0.01',
  });
});
after(async () => {
  device.child.kill('SIGTERM');
  await device.exited;
  await receiver.stop();
  dir.remove();
});

test('smsgate device prints its URL and generated credentials', () => {
  assert.match(device.ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(device.ready.username, 'sms');
  assert.match(device.ready.password, /^[A-Za-z0-9_-]{12}$/);
  assert.ok(device.output.some((line) => line.includes(device.ready.url)));
  assert.ok(device.output.some((line) => line.includes(`Local API password: ${device.ready.password}`)));
});

test('webhooks add|list|rm, send and sim receive drive the device from the command line', async () => {
  const env = { SMSGATE_DEVICE: device.ready.url, SMSGATE_PASSWORD: device.ready.password };
  const added = await smsgate(['webhooks', 'add', '--event', 'sms:received', '--url', `${receiver.url}/in`], env);
  const hook = JSON.parse(added.stdout);
  await smsgate(['webhooks', 'add', '--event', 'sms:sent', '--url', `${receiver.url}/out`, '--id', 'sent-hook'], env);
  const listed = (await smsgate(['webhooks', 'list'], env)).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(listed.map((h) => h.id).sort(), [hook.id, 'sent-hook'].sort());

  await smsgate(['sim', 'receive', '--from', '+15557654321', 'hello', 'there'], env);
  const sent = JSON.parse((await smsgate(['send', '--to', '+15551112222', 'outgoing text'], env)).stdout);
  assert.equal(sent.recipients[0].phoneNumber, '+15551112222');
  await receiver.waitFor(2);
  const byEvent = Object.fromEntries(receiver.envelopes().map((e) => [e.event, e.payload]));
  assert.equal(byEvent['sms:received'].message, 'hello there');
  assert.equal(byEvent['sms:sent'].messageId, sent.id);

  await smsgate(['webhooks', 'rm', 'sent-hook'], env);
  const api = new LocalApi(device.ready.url, 'sms', device.ready.password);
  await eventually(async () => (await api.call('GET', '/webhooks')).body.length === 1, 'one webhook left');
});

test('sim receive takes the type: a data SMS on a port, an MMS with a file attached; --sims names the SIM cards', async () => {
  const env = { SMSGATE_DEVICE: device.ready.url, SMSGATE_PASSWORD: device.ready.password };
  const api = new LocalApi(device.ready.url, 'sms', device.ready.password);
  const info = (await api.call('GET', '/device')).body;
  assert.equal(info.simCount, 2);
  for (const event of ['sms:data-received', 'mms:downloaded']) {
    await smsgate(['webhooks', 'add', '--event', event, '--url', `${receiver.url}/typed`], env);
  }
  const before = receiver.requests.length;
  const data = JSON.parse(
    (
      await smsgate(
        ['sim', 'receive', '--type', 'data', '--from', '+15550001', '--data', 'AQID', '--port', '8080', '--sim', '2'],
        env,
      )
    ).stdout,
  );
  assert.match(data.inboxId, /^[A-Za-z0-9_-]{21}$/);
  const file = `${dir.path}/photo.png`;
  writeFileSync(file, Buffer.from([1, 2, 3, 4]));
  await smsgate(
    ['sim', 'receive', '--type', 'mms', '--from', '+15550002', '--subject', 'Hi', '--attach', file, 'look'],
    env,
  );
  await receiver.waitFor(before + 2);
  const byEvent = Object.fromEntries(
    receiver
      .envelopes()
      .slice(before)
      .map((e) => [e.event, e.payload]),
  );
  assert.deepEqual([byEvent['sms:data-received'].data, byEvent['sms:data-received'].simNumber], ['AQID', 2]);
  assert.ok(!('recipient' in byEvent['sms:data-received']), 'SIM 2 was given no number');
  assert.equal(byEvent['mms:downloaded'].recipient, '+15557770001');
  assert.deepEqual(byEvent['mms:downloaded'].attachments, [
    { partId: 1, contentType: 'image/png', name: 'photo.png', size: 4, data: 'AQIDBA==' },
  ]);
  assert.deepEqual([byEvent['mms:downloaded'].body, byEvent['mms:downloaded'].subject], ['look', 'Hi']);

  await assert.rejects(smsgate(['sim', 'receive', '--type', 'data', '--from', '+1', '--data', 'AQID'], env), /--port/);
  await assert.rejects(smsgate(['sim', 'receive', '--type', 'fax', '--from', '+1', 'x'], env), /--type must be one of/);
});

test('CLI errors are clear and non-zero; --help works everywhere', async () => {
  await assert.rejects(
    smsgate(['webhooks', 'list', '--device', device.ready.url, '--password', 'wrong']),
    (error: { stderr: string; code: number }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /401: missing or wrong credentials/);
      return true;
    },
  );
  await assert.rejects(
    smsgate(['send', '--device', device.ready.url, '--password', 'x']),
    (error: { stderr: string; code: number }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /--to/);
      return true;
    },
  );
  await assert.rejects(smsgate(['frobnicate']), /unknown command/);
  for (const command of [
    ['device'],
    ['send'],
    ['sim', 'receive'],
    ['webhooks', 'add'],
    ['webhooks', 'list'],
    ['webhooks', 'rm'],
  ]) {
    const { stdout } = await smsgate([...command, '--help']);
    assert.match(stdout, new RegExp(`Usage: smsgate ${command.join(' ')}`));
    assert.match(stdout, /SMSGATE_/);
  }
  const { stdout } = await smsgate(['--help']);
  assert.match(stdout, /Commands:/);
});

test('a second device on the same data directory is refused with the reason; the first keeps running', async () => {
  await assert.rejects(
    smsgate(['device', '--port', '0'], { SMSGATE_DATA_DIR: dir.path }),
    (error: { stderr: string; code: number }) => {
      assert.notEqual(error.code, 0);
      assert.match(error.stderr, new RegExp(`in use by another smsgate device \\(pid ${device.child.pid}\\)`));
      return true;
    },
  );
  const health = await fetch(`${device.ready.url}/health`);
  assert.equal(health.status, 200);
});
