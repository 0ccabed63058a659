/**
 * The benchmark receiver: a bare node:http server, run as its own process (forked by
 * harness.ts) so that it never shares an event loop with the device under test.
 *
 * It answers 200 at once. Options come in through the environment:
 *   BENCH_RECEIVER_PORT    port to listen on (0 = any free one)
 *   BENCH_RECEIVER_RECORD  "1": remember the arrival time of every delivery id (latency);
 *                          "message": of every `<event> <payload.messageId>` instead (message path)
 *   BENCH_RECEIVER_FAIL    answer 500 to the first N requests of each delivery id (retry timing)
 * The parent talks to it over the IPC channel: count, records, drain (records handed over and
 * forgotten, so a long run keeps little), clock, reset.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';

const port = Number(process.env.BENCH_RECEIVER_PORT ?? 0);
const recordMode = process.env.BENCH_RECEIVER_RECORD;
const record = recordMode === '1' || recordMode === 'message';
const byMessage = recordMode === 'message';
const failFirst = Number(process.env.BENCH_RECEIVER_FAIL ?? 0);

// Wall-clock milliseconds with sub-ms resolution; the parent uses the same expression.
const now = (): number => performance.timeOrigin + performance.now();

let count = 0;
const ids: string[] = [];
const arrivals: number[] = [];
const seen = new Map<string, number>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    // The handler runs once the whole body is in: that is when a real receiver could act on it.
    const at = now();
    count++;
    let status = 200;
    if (record || failFirst > 0) {
      const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        id: string;
        event: string;
        payload: { messageId?: string };
      };
      const id = envelope.id;
      if (record) {
        ids.push(byMessage ? `${envelope.event} ${envelope.payload.messageId}` : id);
        arrivals.push(at);
      }
      if (failFirst > 0) {
        const n = (seen.get(id) ?? 0) + 1;
        seen.set(id, n);
        if (n <= failFirst) status = 500;
      }
    }
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' }).end(status === 200 ? 'ok' : 'no');
  });
});
// Longer than any pause between benchmark phases, so no phase meets a socket the server is closing.
server.keepAliveTimeout = 120_000;

type Request = { rid: number; type: 'count' | 'records' | 'drain' | 'clock' | 'reset' };

process.on('message', (message: Request) => {
  const reply = (body: object) => process.send!({ rid: message.rid, ...body });
  switch (message.type) {
    case 'count':
      return reply({ count });
    case 'records':
      return reply({ ids, arrivals });
    case 'drain':
      return reply({ ids: ids.splice(0), arrivals: arrivals.splice(0) });
    case 'clock':
      return reply({ now: now() });
    case 'reset':
      count = 0;
      ids.length = 0;
      arrivals.length = 0;
      seen.clear();
      return reply({});
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(port, '127.0.0.1', () => {
  process.send!({ rid: 0, type: 'ready', port: (server.address() as AddressInfo).port });
});
