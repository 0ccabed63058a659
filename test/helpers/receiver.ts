import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
  receivedAt: number;
}

/** Decide how to answer; default 200. Return 'hang' to never answer, or take over `res` yourself. */
export type Responder = (
  request: ReceivedRequest,
  index: number,
  res: ServerResponse,
) => number | 'hang' | 'handled' | Promise<number | 'hang' | 'handled'>;

/** A real HTTP receiver on 127.0.0.1 that records every request exactly as received. */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  private server: Server;
  private waiters: { count: number; resolve: () => void }[] = [];
  responder: Responder = () => 200;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const recorded: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          rawBody: Buffer.concat(chunks).toString('utf8'),
          receivedAt: Date.now(),
        };
        const index = this.requests.push(recorded) - 1;
        for (const waiter of this.waiters.filter((w) => this.requests.length >= w.count)) waiter.resolve();
        this.waiters = this.waiters.filter((w) => this.requests.length < w.count);
        const answer = await this.responder(recorded, index, res);
        if (answer === 'hang' || answer === 'handled') return;
        res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'nope');
      });
    });
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves once at least `count` requests arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`receiver got ${this.requests.length} requests, expected ${count} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  envelopes(): { id: string; event: string; deviceId: string; webhookId: string; payload: Record<string, unknown> }[] {
    return this.requests.map((r) => JSON.parse(r.rawBody));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
