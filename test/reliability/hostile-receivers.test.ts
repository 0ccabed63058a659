import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually } from '../helpers/device.ts';

// Raw TCP peers that misbehave below HTTP, one per port.
let raw: Server;
let rawUrl: string;
const sockets = new Set<Socket>();
let device: Awaited<ReturnType<typeof startTestDevice>>;
let good: TestReceiver;

before(async () => {
  device = await startTestDevice({ timeScale: 0.05 }); // attempt deadline 1.5 s
  good = await new TestReceiver().start();
  raw = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (data) => {
      const path = data.toString('latin1').split(' ')[1];
      if (path === '/reset') socket.resetAndDestroy();
      else if (path === '/garbage') socket.end('THIS IS NOT HTTP\r\n\r\n');
      else if (path === '/slowloris') {
        // Headers one byte at a time, never finished.
        const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: ';
        let i = 0;
        const timer = setInterval(
          () => (socket.destroyed ? clearInterval(timer) : socket.write(i < head.length ? head[i++] : 'a')),
          20,
        );
      } else if (path === '/huge') {
        // A 100 MB body announced and pushed as fast as the device takes it.
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n');
        const chunk = Buffer.alloc(1024 * 1024, 'z');
        let sent = 0;
        const pump = () => {
          while (sent < 100 && !socket.destroyed) {
            sent++;
            if (!socket.write(chunk)) return socket.once('drain', pump);
          }
        };
        pump();
      }
    });
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  rawUrl = `http://127.0.0.1:${(raw.address() as { port: number }).port}`;
});
after(async () => {
  await device.cleanup();
  await good.stop();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => raw.close(resolve));
});

async function attemptTo(url: string) {
  const hook = (await device.api.call('POST', '/webhooks', { url, event: 'sms:received' })).body;
  try {
    const { body } = await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: url });
    return await eventually(
      async () => {
        const d = (await device.api.call('GET', `/deliveries/${body.deliveryIds[0]}`)).body;
        return d.attemptLog.length > 0 ? d.attemptLog[0] : null;
      },
      `an attempt to ${url}`,
      5000,
    );
  } finally {
    await device.api.call('DELETE', `/webhooks/${hook.id}`);
  }
}

test('a reset connection is a recorded failed attempt', async () => {
  const attempt = await attemptTo(`${rawUrl}/reset`);
  assert.equal(attempt.status, null);
  assert.match(attempt.error, /reset|socket|closed/i);
});

test('an invalid HTTP answer is a recorded failed attempt', async () => {
  const attempt = await attemptTo(`${rawUrl}/garbage`);
  assert.equal(attempt.status, null);
  assert.match(attempt.error, /invalid HTTP|parse|HPE_/i);
});

test('a slow-loris receiver is cut at the attempt deadline', async () => {
  const attempt = await attemptTo(`${rawUrl}/slowloris`);
  assert.equal(attempt.status, null);
  assert.match(attempt.error, /^timeout/);
  assert.ok(attempt.durationMs >= 1495 && attempt.durationMs < 4000, `took ${attempt.durationMs} ms`);
});

test('a 100 MB body is not read: memory stays bounded', async () => {
  const before = process.memoryUsage().rss;
  const attempt = await attemptTo(`${rawUrl}/huge`);
  assert.equal(attempt.status, 200);
  assert.ok(attempt.responsePreview.length <= 1024);
  assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'RSS did not grow by the body');
});

// The 32 attempt slots are shared by all receivers: here 20 hang at a time, the rest stay free.
// (A receiver that hangs on more than 32 deliveries at once slows the others down to its deadline:
// see "Limits" in docs/reliability.md.)
test('while hostile receivers hang, deliveries to a good receiver keep flowing', async () => {
  const hooks = [];
  for (const path of ['/slowloris', '/reset']) {
    hooks.push(
      (await device.api.call('POST', '/webhooks', { url: `${rawUrl}${path}`, event: 'sms:received' })).body.id,
    );
  }
  hooks.push((await device.api.call('POST', '/webhooks', { url: `${good.url}/ok`, event: 'sms:received' })).body.id);
  try {
    const started = Date.now();
    for (let i = 0; i < 20; i++) await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: `mixed ${i}` });
    await good.waitFor(20, 5000);
    assert.ok(
      Date.now() - started < 1500,
      `good deliveries took ${Date.now() - started} ms, more than one attempt deadline`,
    );
    assert.equal((await device.api.call('GET', '/health')).status, 200);
  } finally {
    for (const id of hooks) await device.api.call('DELETE', `/webhooks/${id}`);
  }
});

/** A receiver that accepts connections and never answers, on a port of its own. */
async function startHangingReceiver(): Promise<{ hanging: Server; hangingUrl: string }> {
  const hanging = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  return { hanging, hangingUrl: `http://127.0.0.1:${(hanging.address() as { port: number }).port}/hang` };
}

test('a receiver that hangs on many deliveries at once holds at most its share of the attempt slots; others are delivered meanwhile', async () => {
  // concurrency 8 → at most 4 attempts to one receiver; deadline 15 s, far longer than the test waits
  const busy = await startTestDevice({ timeScale: 0.5, concurrency: 8 });
  const { hanging, hangingUrl } = await startHangingReceiver();
  let hangingConnections = 0;
  hanging.on('connection', () => hangingConnections++);
  try {
    await busy.api.call('POST', '/webhooks', { url: hangingUrl, event: 'sms:received' });
    await busy.api.call('POST', '/webhooks', { url: `${good.url}/alongside`, event: 'sms:received' });
    const before = good.requests.filter((r) => r.path === '/alongside').length;
    // 30 events, each a delivery to both receivers, in due order hanging, good, hanging, good, …
    for (let i = 0; i < 30; i++)
      await busy.context.carrier.receive({ from: '+15550009999', text: `busy ${i}`, simNumber: 1 });
    await eventually(
      () => good.requests.filter((r) => r.path === '/alongside').length - before === 30,
      'all 30 deliveries to the good receiver',
      5000,
    );
    // the receiver counts a request before the device has read the answer: wait until all 30 are recorded
    await eventually(
      () => busy.context.outbox.countByState().succeeded === 30,
      'the 30 good deliveries recorded',
      5000,
    );
    assert.equal(hangingConnections, 4, 'the hanging receiver got exactly its 4 slots');
    const counts = busy.context.outbox.countByState();
    assert.equal(counts.sending, 4, 'only its 4 attempts are in flight');
    assert.equal(counts.pending, 26, 'its other deliveries wait, no attempt spent');
  } finally {
    await busy.cleanup();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hanging.close(resolve));
  }
});

test('a receiver that hangs with a deep backlog in front does not hold up a delivery to another receiver behind it', async () => {
  // concurrency 8 → 4 slots per receiver; the attempt deadline (15 s) is far longer than the test waits
  const busy = await startTestDevice({ timeScale: 0.5, concurrency: 8 });
  const { hanging, hangingUrl } = await startHangingReceiver();
  try {
    await busy.api.call('POST', '/webhooks', { url: hangingUrl, event: 'sms:received' });
    await busy.api.call('POST', '/webhooks', { url: `${good.url}/behind`, event: 'sms:data-received' });
    // 1,500 deliveries to the hanging receiver come first in due order
    const deep = [];
    for (let i = 0; i < 1500; i++)
      deep.push(busy.context.carrier.receive({ from: '+15550009999', text: `deep ${i}`, simNumber: 1 }));
    await Promise.all(deep);
    const sentAt = Date.now();
    await busy.context.carrier.receive({
      type: 'DATA_SMS',
      from: '+15550009999',
      data: Buffer.from('behind the backlog'),
      port: 53739,
      simNumber: 1,
    });
    await eventually(() => good.requests.some((r) => r.path === '/behind'), 'the delivery to the good receiver', 5000);
    assert.ok(Date.now() - sentAt < 3000, `it arrived ${Date.now() - sentAt} ms after the SMS`);
    assert.ok(
      busy.context.outbox.countByState().pending >= 1490,
      'the hanging receiver’s backlog still waits in front',
    );
  } finally {
    await busy.cleanup();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hanging.close(resolve));
  }
});
