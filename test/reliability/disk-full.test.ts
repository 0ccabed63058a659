import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LocalApi, eventually } from '../helpers/device.ts';
import { startSmsgate } from '../helpers/process.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { register } from '../../src/device/link/mobile-client.ts';
import { basic, call } from '../server/helpers.ts';

// A small file system of its own, filled to the last byte: a tmpfs, which only root may mount.
let mountPoint = '';
let mountError = '';
before(() => {
  mountPoint = mkdtempSync(join(tmpdir(), 'smsgate-disk-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    mountError = `cannot mount a tmpfs here (${(error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message}): run the tests as root to test a full disk`;
    console.log(`# disk-full tests skipped: ${mountError}`);
  }
});
after(() => {
  if (!mountError) execFileSync('umount', ['-l', mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Fill the file system with one file until it refuses a byte more; returns the file, to delete for room. */
function fillDisk(): string {
  const filler = join(mountPoint, 'filler.bin');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  // The last bytes, a block at a time.
  try {
    for (;;) writeSync(fd, Buffer.alloc(512));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return filler;
}

test('device: a full disk refuses new events with 503, delivers what is queued, loses nothing, and takes events again once there is room', async (t) => {
  if (mountError) return t.skip(mountError);
  const dataDir = join(mountPoint, 'device');
  const receiver = await new TestReceiver().start();
  let accepting = false;
  const delivered = new Set<string>();
  receiver.responder = (request) => {
    if (!accepting) return 503;
    delivered.add(JSON.parse(request.rawBody).id);
    return 200;
  };
  const device = await startSmsgate(['device', '--data-dir', dataDir, '--port', '0', '--password', 'disk-full-test'], {
    SMSGATE_TIME_SCALE: '0.01',
  });
  const api = new LocalApi(device.ready.url, 'sms', 'disk-full-test');
  let filler = '';
  try {
    assert.equal(
      (await api.call('POST', '/webhooks', { url: `${receiver.url}/in`, event: 'sms:received' })).status,
      201,
    );
    const incoming = (n: number) => api.call('POST', '/sim/v1/incoming', { from: '+15550001111', text: `sms ${n}` });

    // Queued before the disk fills: the receiver refuses them, so they wait for retries.
    let accepted = 0;
    for (let n = 0; n < 40; n++) {
      assert.equal((await incoming(n)).status, 202);
      accepted++;
    }
    await receiver.waitFor(40);

    filler = fillDisk();
    const statuses = new Map<number, number>();
    let refusal: { message?: string } | undefined;
    for (let n = 40; n < 5040 && !refusal; n++) {
      const reply = await incoming(n);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status === 202) accepted++;
      else refusal = reply.body;
    }
    assert.deepEqual(
      [...statuses.keys()].filter((status) => status !== 202 && status !== 503),
      [],
      `only 202 and 503: ${JSON.stringify([...statuses])}`,
    );
    assert.match(refusal?.message ?? '', /disk is full/, 'a full disk is refused with a message');
    // Refused from now on without touching the disk, also what the first refusal let through.
    const again = await incoming(-1);
    assert.equal(again.status, 503);
    assert.match(again.body.message, /the device's disk is full/);

    // The queued deliveries still go out, and their results are recorded on the full disk.
    accepting = true;
    // The queued and accepted deliveries arrive, and their results are recorded on the full disk
    // (a delivery in flight is listed as sending, not pending: wait for the receiver's count too).
    await eventually(() => delivered.size === accepted, 'every accepted event at the receiver', 30_000);
    await eventually(
      async () => (await api.call('GET', '/deliveries?state=pending&limit=100')).body.items.length === 0,
      'the results recorded on the full disk',
      30_000,
    );
    assert.equal(device.child.exitCode, null, 'the device is still running');

    // Room again: intake resumes by itself.
    rmSync(filler);
    filler = '';
    await eventually(async () => (await incoming(9999)).status === 202, 'events accepted again', 15_000, 200);
    accepted++;
    await eventually(() => delivered.size === accepted, 'the new event delivered', 15_000);
  } finally {
    device.child.kill('SIGTERM');
    await device.exited;
    if (filler) rmSync(filler);
    await receiver.stop();
  }
  // Nothing committed was lost or damaged.
  const db = new Database(join(dataDir, 'device.db'), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    // each received message stored made one sms:received delivery, and each was delivered and recorded so
    const received = db.prepare(`SELECT count(*) AS n FROM inbox`).get() as { n: number };
    const deliveries = db
      .prepare(
        `SELECT count(*) AS n, count(*) FILTER (WHERE state = 'succeeded') AS done FROM deliveries WHERE event = 'sms:received'`,
      )
      .get() as { n: number; done: number };
    assert.ok(received.n >= 41, `${received.n} received messages stored`);
    assert.deepEqual(deliveries, { n: received.n, done: received.n });
  } finally {
    db.close();
  }
});

test('server: a full disk answers 503 with a message, never 500 or a crash, and the server goes on once there is room', async (t) => {
  if (mountError) return t.skip(mountError);
  const privateToken = 'disk-full-private-token-0123456789';
  const server = await startSmsgate([
    'server',
    '--data-dir',
    join(mountPoint, 'server'),
    '--port',
    '0',
    '--private-token',
    privateToken,
  ]);
  let filler = '';
  try {
    const url = server.ready.url as string;
    const registration = await register(url, { privateToken, name: 'phone' });
    const auth = basic(registration.login, registration.password!);
    // A device that has never connected is not chosen for a message: connect it once.
    await call(`${url}/mobile/v1/message`, 'GET', { auth: `Bearer ${registration.token}` });
    const send = (n: number) =>
      call(`${url}/3rdparty/v1/messages`, 'POST', {
        auth,
        body: { textMessage: { text: `message ${n} ${'x'.repeat(200)}` }, phoneNumbers: ['+15550003333'] },
      });
    assert.equal((await send(0)).status, 202);

    filler = fillDisk();
    const statuses = new Map<number, number>();
    let refusal: { message?: string } | undefined;
    for (let n = 1; n < 5000 && !refusal; n++) {
      const reply = await send(n);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status !== 202) refusal = reply.body;
    }
    assert.deepEqual(
      [...statuses.keys()].filter((status) => status !== 202 && status !== 503),
      [],
      `only 202 and 503: ${JSON.stringify([...statuses])}`,
    );
    assert.match(refusal?.message ?? '', /disk is full/);
    assert.equal(server.child.exitCode, null, 'the server is still running');
    const list = await call(`${url}/3rdparty/v1/messages`, 'GET', { auth });
    assert.equal(list.status, 200, 'reading goes on');

    rmSync(filler);
    filler = '';
    await eventually(async () => (await send(9999)).status === 202, 'messages accepted again', 15_000, 200);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    if (filler) rmSync(filler);
  }
  const db = new Database(join(mountPoint, 'server', 'server.db'), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
  }
});
