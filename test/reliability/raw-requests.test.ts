import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createApp, REQUEST_TIMEOUT_MS } from '../../src/shared/http.ts';

/** What node:http itself would answer with a bare status gets a JSON message from every app too. */

/** Send raw bytes, and read the answer until the server closes the connection. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.write(request);
    setTimeout(() => (socket.destroy(), reject(new Error('no answer within 5 s'))), 5000).unref();
  });
}
const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { message: string };

test('a request without Host, or with an Expect the server does not know, gets a JSON message', async () => {
  const app = createApp();
  app.get('/hello', async () => ({ hello: 'world' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as { port: number };
    const noHost = await exchange(port, 'GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.match(noHost, /^HTTP\/1\.1 400 /);
    assert.match(bodyOf(noHost).message, /Host header/);
    const oddExpect = await exchange(
      port,
      'GET /hello HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nConnection: close\r\n\r\n',
    );
    assert.match(oddExpect, /^HTTP\/1\.1 417 /);
    assert.match(bodyOf(oddExpect).message, /Expect: bogus is not supported/);
    const fine = await exchange(port, 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.deepEqual(bodyOf(fine), { hello: 'world' });
    const http10 = await exchange(port, 'GET /hello HTTP/1.0\r\n\r\n');
    assert.deepEqual(bodyOf(http10), { hello: 'world' }, 'HTTP/1.0 needs no Host');
  } finally {
    await app.close();
  }
});

/**
 * A client that sends its headers and then only part of its body must not hold the connection
 * for good: it gets a 408 with a message. The product's app, with the timings shortened.
 */
test('a request whose body stops arriving gets a 408 with a message, and its connection is closed', async () => {
  assert.equal(createApp().server.requestTimeout, REQUEST_TIMEOUT_MS, 'every app has the request timeout by default');
  const app = createApp({ requestTimeout: 300, http: { connectionsCheckingInterval: 50 } } as never);
  app.post('/echo', async (request) => request.body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as { port: number };
    const started = performance.now();
    const answer = await exchange(
      port,
      'POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"half":',
    );
    const elapsed = performance.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.deepEqual(bodyOf(answer), { message: 'the request took too long to arrive' });
    assert.ok(elapsed >= 250 && elapsed < 3000, `answered after ${elapsed.toFixed(0)} ms`);
  } finally {
    await app.close();
  }
});
