import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  failureKindOf,
  MobileClient,
  MobileApiError,
  mobileBaseUrl,
  type MobileEvent,
} from '../../src/device/link/mobile-client.ts';
import { eventually } from './helpers.ts';

/** A scripted stand-in for the server's /events, to exercise the client's parser and backoff. */
async function scriptedServer(handler: (req: IncomingMessage, res: ServerResponse, attempt: number) => void) {
  let attempt = 0;
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handler(req, res, ++attempt);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    attempts: () => attempt,
    async close() {
      for (const res of open) res.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('mobileBaseUrl accepts the server root or the mobile prefix', () => {
  assert.equal(mobileBaseUrl('http://h:3000'), 'http://h:3000/mobile/v1');
  assert.equal(mobileBaseUrl('http://h:3000/'), 'http://h:3000/mobile/v1');
  assert.equal(mobileBaseUrl('http://h:3000/mobile/v1/'), 'http://h:3000/mobile/v1');
  assert.equal(mobileBaseUrl('https://h/api/mobile/v1'), 'https://h/api/mobile/v1');
});

test('the SSE parser handles CRLF, split chunks, multi-line data, comments and non-JSON data', async () => {
  const server = await scriptedServer((req, res) => {
    assert.equal(req.headers.authorization, 'Bearer tok');
    assert.equal(req.url, '/mobile/v1/events');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunks = [
      ': hello\r\n\r\n',
      'event: WebhooksUpdated\r\ndata: {}\r\n\r\n',
      'event: MessageEnq',
      'ueued\ndata:{"id":',
      '"m1"}\n',
      '\n',
      'event: Custom\ndata: line one\ndata: line two\n\n',
      'data: {"no":"type"}\n\n',
      'event: Empty\n\n', // no data: not dispatched
      'event: SettingsUpdated\rdata: {}\r\r',
    ];
    let i = 0;
    const next = () => {
      if (i < chunks.length) {
        res.write(chunks[i++]);
        setTimeout(next, 5);
      }
    };
    next();
  });
  const events: MobileEvent[] = [];
  const stream = new MobileClient(server.url, 'tok').openEvents((e) => events.push(e), { minDelayMs: 10_000 });
  try {
    await eventually(() => events.length >= 5, 'five events');
    assert.deepEqual(events, [
      { type: 'WebhooksUpdated', data: {} },
      { type: 'MessageEnqueued', data: { id: 'm1' } },
      { type: 'Custom', data: 'line one\nline two' },
      { type: 'message', data: { no: 'type' } },
      { type: 'SettingsUpdated', data: {} },
    ]);
  } finally {
    await stream.close();
    await server.close();
  }
});

test('reconnects back off exponentially with jitter, up to the cap, and reset after a success', async () => {
  const server = await scriptedServer((_req, res, attempt) => {
    if (attempt <= 4) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"message":"starting up"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': ok\n\n');
    if (attempt === 5) setTimeout(() => res.end(), 20); // then the server ends the stream once
  });
  const failures: { message: string; retryInMs: number; status?: number }[] = [];
  let opens = 0;
  const stream = new MobileClient(server.url, 'tok').openEvents(() => {}, {
    minDelayMs: 20,
    maxDelayMs: 60,
    random: () => 0.999,
    onOpen: () => void opens++,
    onError: (e, info) =>
      failures.push({ message: e.message, retryInMs: info.retryInMs, status: (e as MobileApiError).status }),
  });
  try {
    await eventually(() => opens === 2, 'two opens');
    assert.deepEqual(
      failures.slice(0, 4).map((f) => f.retryInMs),
      [20, 40, 60, 60],
      'doubling, capped at maxDelayMs',
    );
    assert.ok(failures.slice(0, 4).every((f) => f.status === 503 && /starting up/.test(f.message)));
    assert.match(failures[4].message, /ended the event stream/);
    assert.equal(failures[4].retryInMs, 20, 'the backoff starts over after a successful connection');
  } finally {
    await stream.close();
    await server.close();
  }
  // the jitter: with random() = 0 a delay is half its ceiling
  const quiet = await scriptedServer((_req, res) => {
    res.writeHead(500);
    res.end();
  });
  const delays: number[] = [];
  const s2 = new MobileClient(quiet.url, 'tok').openEvents(() => {}, {
    minDelayMs: 40,
    random: () => 0,
    onError: (_e, i) => delays.push(i.retryInMs),
  });
  await eventually(() => delays.length >= 2, 'two failures');
  await s2.close();
  await quiet.close();
  assert.deepEqual(delays.slice(0, 2), [20, 40]);
});

test('a stream that stays silent past idleTimeoutMs is dropped and reopened', async () => {
  const server = await scriptedServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': connected\n\n'); // and then nothing, like a dead proxy
  });
  const errors: string[] = [];
  let opens = 0;
  const stream = new MobileClient(server.url, 'tok').openEvents(() => {}, {
    idleTimeoutMs: 100,
    minDelayMs: 10,
    onOpen: () => void opens++,
    onError: (e) => errors.push(e.message),
  });
  try {
    await eventually(() => opens >= 2, 'a reconnect after silence', 3000);
    assert.ok(
      errors.some((m) => /no data for 100 ms/.test(m)),
      errors.join('; '),
    );
  } finally {
    await stream.close();
    await server.close();
  }
});

test('API errors carry the status and the server message; an unreachable server says so', async () => {
  const server = await scriptedServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"message":"missing or unknown device token"}');
  });
  try {
    await assert.rejects(
      new MobileClient(server.url, 'tok').pullMessages(),
      (e: MobileApiError) =>
        e.status === 401 &&
        e.kind === 'unauthorized' &&
        /GET \/message(\?\S*)?: 401 missing or unknown device token/.test(e.message),
    );
  } finally {
    await server.close();
  }
  await assert.rejects(new MobileClient(server.url, 'tok').getWebhooks(), /is the server running and reachable/);
});

test('a refused call says what it means for the device, by status', () => {
  const kinds = Object.fromEntries(
    [400, 401, 403, 404, 408, 409, 413, 415, 429, 500, 503].map((s) => [s, failureKindOf(s)]),
  );
  assert.deepEqual(kinds, {
    400: 'rejected',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not-found',
    408: 'retry-later',
    409: 'rejected',
    413: 'rejected',
    415: 'rejected',
    429: 'retry-later',
    500: 'retry-later',
    503: 'retry-later',
  });
});
