import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import Fastify from 'fastify';
import { readRawBody, RawBodyError, verifyWebhook, parseWebhook } from '../../src/receiver/index.ts';

const SECRET = 'raw-body-secret';
const signed = (body: string | Buffer) => {
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    'content-type': 'application/json',
    'x-timestamp': ts,
    'x-signature': createHmac('sha256', SECRET).update(body).update(ts).digest('hex'),
  };
};

async function serve(
  handler: (req: IncomingMessage) => Promise<{ status: number; body: string }>,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handler(req).then(
      ({ status, body }) => res.writeHead(status).end(body),
      (error: Error) =>
        res
          .writeHead(error instanceof RawBodyError ? error.statusCode : 500)
          .end(`${(error as RawBodyError).code}: ${error.message}`),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** POST `chunks` one write at a time, so multi-byte characters can be split across chunks. */
function post(
  url: string,
  chunks: Buffer[],
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

test('node:http: readRawBody returns the exact bytes, which then verify', async () => {
  const body = Buffer.from(
    '{"deviceId":"d","event":"sms:received","id":"i","payload":{"messageId":"m","message":"Привет 👋 世界","phoneNumber":"+1","simNumber":null,"receivedAt":"2024-06-22T15:46:11.000+07:00"},"webhookId":"w"}',
  );
  const { server, url } = await serve(async (req) => {
    const raw = await readRawBody(req);
    const check = verifyWebhook(SECRET, raw, req.headers);
    if (!check.ok) return { status: 401, body: check.reason };
    const parsed = parseWebhook(raw);
    return { status: 200, body: `${raw.equals(body)} ${parsed.ok && parsed.event.event}` };
  });
  try {
    // Split inside the 4-byte emoji so a naive string concatenation of chunks would corrupt it.
    const cut = body.indexOf(Buffer.from('👋')) + 2;
    const answer = await post(url, [body.subarray(0, cut), body.subarray(cut)], signed(body));
    assert.deepEqual(answer, { status: 200, body: 'true sms:received' });
    const tampered = await post(url, [Buffer.from(body.toString().replace('+1', '+2'))], signed(body));
    assert.deepEqual(tampered, { status: 401, body: 'mismatch' });
  } finally {
    server.close();
  }
});

test('readRawBody enforces its limit, by Content-Length and while streaming', async () => {
  const { server, url } = await serve(async (req) => ({
    status: 200,
    body: String((await readRawBody(req, { limit: 100 })).length),
  }));
  try {
    assert.deepEqual(await post(url, [Buffer.alloc(100, 'a')], { 'content-length': '100' }), {
      status: 200,
      body: '100',
    });
    const declared = await post(url, [Buffer.alloc(101, 'a')], { 'content-length': '101' });
    assert.equal(declared.status, 413);
    assert.match(declared.body, /^too-large: request body is 101 bytes, more than the 100 allowed/);
    // Chunked (no Content-Length): caught while reading.
    const streamed = await post(url, [Buffer.alloc(60, 'a'), Buffer.alloc(60, 'b')], {
      'transfer-encoding': 'chunked',
    });
    assert.equal(streamed.status, 413);
    assert.match(streamed.body, /more than the 100 bytes allowed/);
  } finally {
    server.close();
  }
});

test('readRawBody rejects when the client goes away mid-body, and when the body was already read', async () => {
  let outcome!: Promise<unknown>;
  const abortServer = createServer((req) => {
    outcome = readRawBody(req).then(
      () => 'resolved',
      (error: unknown) => error,
    );
  });
  await new Promise<void>((resolve) => abortServer.listen(0, '127.0.0.1', resolve));
  const arrived = new Promise<void>((resolve) => abortServer.once('request', () => resolve()));
  const socket = connect((abortServer.address() as AddressInfo).port, '127.0.0.1');
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little');
  await arrived;
  socket.destroy();
  const aborted = outcome.finally(() => abortServer.close());
  const error = (await aborted) as RawBodyError;
  assert.ok(error instanceof RawBodyError, `expected a RawBodyError, got ${String(error)}`);
  assert.equal(error.code, 'aborted');
  assert.equal(error.statusCode, 400);

  const { server, url } = await serve(async (req) => {
    await readRawBody(req);
    await readRawBody(req); // a body parser got there first
    return { status: 200, body: 'unreachable' };
  });
  try {
    const answer = await post(url, [Buffer.from('{}')], {});
    assert.equal(answer.status, 500);
    assert.match(answer.body, /^already-read: .*read the raw body first/);
  } finally {
    server.close();
  }
});

test('the Fastify recipe from docs/receiver.md keeps the raw buffer and verifies', async () => {
  const app = Fastify();
  // --- recipe (as in docs/receiver.md) ---
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post('/webhook', async (request, reply) => {
      const raw = request.body as Buffer;
      const check = verifyWebhook(SECRET, raw, request.headers);
      if (!check.ok) return reply.code(401).send({ message: check.message });
      const parsed = parseWebhook(raw);
      if (!parsed.ok) return reply.code(200).send({ ignored: parsed.error.message });
      return { handled: parsed.event.event };
    });
  });
  // --- end of recipe ---
  app.post('/other', async (request) => ({
    parsedAsJson: typeof request.body === 'object' && !Buffer.isBuffer(request.body),
  }));
  try {
    const body = JSON.stringify({
      deviceId: 'd',
      event: 'sms:sent',
      id: 'i',
      payload: { messageId: 'm', recipient: '+1', phoneNumber: '+1', simNumber: 1, partsCount: 1, sentAt: 'x' },
      webhookId: 'w',
    });
    const ok = await app.inject({ method: 'POST', url: '/webhook', payload: body, headers: signed(body) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { handled: 'sms:sent' });
    const bad = await app.inject({
      method: 'POST',
      url: '/webhook',
      payload: body,
      headers: { ...signed(body), 'x-signature': 'f'.repeat(64) },
    });
    assert.equal(bad.statusCode, 401);
    assert.match(bad.json().message, /does not match/);
    // The raw parser stays inside the plugin: other routes still get parsed JSON.
    const other = await app.inject({
      method: 'POST',
      url: '/other',
      payload: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    assert.deepEqual(other.json(), { parsedAsJson: true });
  } finally {
    await app.close();
  }
});
