import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createApp, REQUEST_TIMEOUT_MS } from '../../src/shared/http.ts';

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
    const socket = connect(port, '127.0.0.1');
    const started = performance.now();
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"half":');
      setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref();
    });
    const elapsed = performance.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), { message: 'the request took too long to arrive' });
    assert.ok(elapsed >= 250 && elapsed < 3000, `answered after ${elapsed.toFixed(0)} ms`);
  } finally {
    await app.close();
  }
});
