import { basic } from '../helpers/http.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSmsgate } from '../helpers/process.ts';
import { tempDir } from '../helpers/common.ts';
import { TestReceiver } from '../helpers/receiver.ts';

/** The JSON log lines a process wrote to stderr (its other lines are human text). */
function jsonLines(output: string[]): Record<string, any>[] {
  return output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
}

test('device log (stderr not a terminal): one JSON line per API request with its request id, one per attempt', async () => {
  const dir = tempDir();
  const receiver = await new TestReceiver().start();
  // the first attempt of the first delivery fails, so one delivery has two attempt lines
  receiver.responder = (_request, index) => (index === 0 ? 503 : 200);
  const device = await startSmsgate(['device', '--port', '0', '--password', 'log-test-password'], {
    SMSGATE_DATA_DIR: dir.path,
    // 0.02: the first retry after 200 ms, and a 600 ms deadline (at 0.001 it was 30 ms, which a loaded machine missed)
    SMSGATE_TIME_SCALE: '0.02',
    SMSGATE_LOG_LEVEL: 'info',
  });
  try {
    const authorization = basic('sms', 'log-test-password');
    const call = (method: string, path: string, body: unknown, requestId?: string) =>
      fetch(`${device.ready.url}${path}`, {
        method,
        headers: {
          authorization,
          'content-type': 'application/json',
          ...(requestId ? { 'x-request-id': requestId } : {}),
        },
        body: JSON.stringify(body),
      });
    const registered = await call(
      'POST',
      '/webhooks',
      { url: `${receiver.url}/hook`, event: 'sms:received' },
      'caller-chosen-id-1',
    );
    assert.equal(registered.status, 201);
    assert.equal(registered.headers.get('x-request-id'), 'caller-chosen-id-1');
    const generated = await call('POST', '/sim/v1/incoming', { from: '+15550001111', text: 'first' });
    assert.equal(generated.status, 202);
    const generatedId = generated.headers.get('x-request-id');
    assert.ok(generatedId, 'a request without X-Request-Id gets one');
    assert.equal(
      (await call('POST', '/sim/v1/incoming', { from: '+15550001111', text: 'second' }, 'caller-chosen-id-2')).status,
      202,
    );
    await receiver.waitFor(3);
  } finally {
    // SIGTERM: the device stops and pino flushes its batched destination on the way out
    device.child.kill('SIGTERM');
    assert.equal(await device.exited, 0);
    await receiver.stop();
    dir.remove();
  }

  const lines = jsonLines(device.output);
  const requests = lines.filter((line) => line.msg === 'request');
  const byId = (id: string | null) => requests.filter((line) => line.reqId === id);
  assert.equal(byId('caller-chosen-id-1').length, 1);
  assert.deepEqual(
    {
      method: byId('caller-chosen-id-1')[0].method,
      route: byId('caller-chosen-id-1')[0].route,
      status: byId('caller-chosen-id-1')[0].status,
    },
    { method: 'POST', route: '/webhooks', status: 201 },
  );
  assert.equal(byId('caller-chosen-id-2').length, 1);
  assert.equal(byId('caller-chosen-id-2')[0].route, '/sim/v1/incoming');
  assert.equal(requests.filter((line) => line.route === '/sim/v1/incoming').length, 2);
  assert.ok(
    requests.every((line) => typeof line.reqId === 'string' && line.reqId.length > 0 && typeof line.ms === 'number'),
  );

  // three attempts: a 503 then a 200 for one delivery, a 200 for the other
  const attempts = lines.filter((line) => line.msg === 'attempt');
  assert.equal(attempts.length, 3, JSON.stringify(attempts));
  const retried = attempts.filter((line) => line.status === 503);
  assert.equal(retried.length, 1);
  assert.deepEqual([retried[0].outcome, retried[0].attempt, retried[0].level], ['retry', 1, 40]);
  const second = attempts.find((line) => line.deliveryId === retried[0].deliveryId && line.attempt === 2);
  assert.deepEqual([second?.outcome, second?.status, second?.level], ['succeeded', 200, 30]);
  assert.equal(new Set(attempts.map((line) => line.deliveryId)).size, 2);
  for (const line of attempts) {
    assert.equal(line.url, `${receiver.url}/hook`);
    assert.equal(typeof line.durationMs, 'number');
  }
});

test("server log: one JSON line per API request, with the caller's X-Request-Id or a generated one", async () => {
  const dir = tempDir();
  const server = await startSmsgate(
    ['server', '--db', `sqlite:${dir.path}/server.db`, '--port', '0', '--private-token', 'log-test-token'],
    {
      SMSGATE_DATA_DIR: dir.path,
      SMSGATE_LOG_LEVEL: 'info',
    },
  );
  let generatedId: string | null = null;
  try {
    const registered = await fetch(`${server.ready.url}/mobile/v1/device`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer log-test-token',
        'content-type': 'application/json',
        'x-request-id': 'register-1',
      },
      body: JSON.stringify({ name: 'phone' }),
    });
    assert.equal(registered.status, 201);
    assert.equal(registered.headers.get('x-request-id'), 'register-1');
    const refused = await fetch(`${server.ready.url}/3rdparty/v1/webhooks`, {
      headers: { authorization: basic('nobody', 'wrong') },
    });
    assert.equal(refused.status, 401);
    generatedId = refused.headers.get('x-request-id');
    assert.ok(generatedId);
  } finally {
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    dir.remove();
  }
  const requests = jsonLines(server.output).filter((line) => line.msg === 'request');
  const register = requests.filter((line) => line.reqId === 'register-1');
  assert.deepEqual(
    register.map((line) => [line.method, line.route, line.status]),
    [['POST', '/mobile/v1/device', 201]],
  );
  const denied = requests.filter((line) => line.reqId === generatedId);
  assert.deepEqual(
    denied.map((line) => [line.method, line.route, line.status]),
    [['GET', '/3rdparty/v1/webhooks', 401]],
  );
});
