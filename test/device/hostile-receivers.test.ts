import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually } from '../helpers/device.ts';

let device: Awaited<ReturnType<typeof startTestDevice>>;
let receiver: TestReceiver;

before(async () => {
  device = await startTestDevice({ timeScale: 0.05 }); // attempt timeout 1.5 s, first retry 500 ms
  receiver = await new TestReceiver().start();
  receiver.responder = (request, _i, res) => {
    switch (request.path) {
      case '/redirect':
        res.writeHead(302, { location: `${receiver.url}/elsewhere` }).end();
        return 'handled';
      case '/hang':
        return 'hang';
      case '/huge': {
        // 10 MB, written as fast as the socket takes it
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(1024 * 1024, 'x');
        let sent = 0;
        const pump = () => {
          while (sent < 10 && res.write(chunk)) sent++;
          if (sent >= 10) res.end();
          else res.once('drain', () => (sent++, pump()));
        };
        res.on('error', () => {});
        pump();
        return 'handled';
      }
      case '/huge-error': {
        res.writeHead(500);
        res.on('error', () => {});
        res.end(Buffer.alloc(10 * 1024 * 1024, 'y'));
        return 'handled';
      }
      default:
        return 200;
    }
  };
});
after(async () => {
  await device.cleanup();
  await receiver.stop();
});

async function firstAttempt(path: string, url = `${receiver.url}${path}`) {
  const hook = (await device.api.call('POST', '/webhooks', { url, event: 'sms:received' })).body;
  try {
    const { body } = await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: `to ${path}` });
    return await eventually(
      async () => {
        const d = (await device.api.call('GET', `/deliveries/${body.deliveryIds[0]}`)).body;
        return d.attemptLog.length > 0 ? d : null;
      },
      `an attempt to ${path}`,
      5000,
    );
  } finally {
    await device.api.call('DELETE', `/webhooks/${hook.id}`);
  }
}

test('a redirect is a failed attempt and is not followed', async () => {
  const before = receiver.requests.length;
  const d = await firstAttempt('/redirect');
  assert.equal(d.attemptLog[0].status, 302);
  assert.match(d.attemptLog[0].error, /redirect 302 to .*\/elsewhere not followed/);
  assert.equal(d.state, 'pending', 'it will be retried');
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!receiver.requests.slice(before).some((r) => r.path === '/elsewhere'), 'the Location was never requested');
});

test('no answer within the (scaled) 30 s is a timeout', async () => {
  const started = Date.now();
  const d = await firstAttempt('/hang');
  assert.equal(d.attemptLog[0].status, null);
  assert.match(d.attemptLog[0].error, /^timeout: no response within 1500 ms/);
  assert.ok(
    d.attemptLog[0].durationMs >= 1495 && d.attemptLog[0].durationMs < 4000,
    `took ${d.attemptLog[0].durationMs} ms`,
  );
  assert.ok(Date.now() - started < 5000);
});

test('a refused connection is a failed attempt', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const d = await firstAttempt('/refused', `http://127.0.0.1:${port}/refused`);
  assert.equal(d.attemptLog[0].status, null);
  assert.match(d.attemptLog[0].error, /connection refused/);
});

test('a 10 MB response body is read only up to the limit; a 10 MB error body is a failed attempt', async () => {
  const rssBefore = process.memoryUsage().rss;
  const ok = await firstAttempt('/huge');
  assert.equal(ok.attemptLog[0].status, 200);
  assert.equal(ok.attemptLog[0].error, null);
  assert.ok(ok.attemptLog[0].responsePreview.length <= 1024, 'only a preview is kept');
  assert.equal(ok.state, 'succeeded');

  const bad = await firstAttempt('/huge-error');
  assert.equal(bad.attemptLog[0].status, 500);
  assert.equal(bad.attemptLog[0].error, 'HTTP 500');
  assert.ok(process.memoryUsage().rss - rssBefore < 64 * 1024 * 1024, 'memory did not grow by the body size');
});

test('after all that the device is up and delivers normally', async () => {
  const health = await device.api.call('GET', '/health');
  assert.equal(health.status, 200);
  const d = await firstAttempt('/fine');
  assert.equal(d.state, 'succeeded');
});
