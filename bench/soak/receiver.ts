/**
 * The soak run's receiver: a bare node:http server in a process of its own that answers 500 to a
 * random FAIL_RATE share of all attempts (every attempt draws anew, retries included) and 200 to
 * the rest. It records, per delivery id, when the first attempt arrived (whatever it was
 * answered) and whether one was answered 200. The parent (soak.ts) talks to it over IPC.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';

const failRate = Number(process.env.SOAK_FAIL_RATE ?? 0.3);
const now = (): number => performance.timeOrigin + performance.now();

const firstArrival = new Map<string, number>();
const succeeded = new Set<string>();
let attempts = 0;
let failures = 0;
let duplicates = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const at = now();
    attempts++;
    const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id;
    if (!firstArrival.has(id)) firstArrival.set(id, at);
    const fail = Math.random() < failRate;
    if (fail) failures++;
    else if (succeeded.has(id)) duplicates++;
    else succeeded.add(id);
    res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain', 'content-length': '2' }).end(fail ? 'no' : 'ok');
  });
});
server.keepAliveTimeout = 120_000;

type Request = { rid: number; type: 'clock' | 'stats' | 'records' };
process.on('message', (message: Request) => {
  const reply = (body: object) => process.send!({ rid: message.rid, ...body });
  switch (message.type) {
    case 'clock':
      return reply({ now: now() });
    case 'stats':
      return reply({ attempts, failures, duplicates, ids: firstArrival.size, succeeded: succeeded.size });
    case 'records':
      return reply({ first: [...firstArrival], succeeded: [...succeeded] });
  }
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.send!({ rid: 0, port: (server.address() as AddressInfo).port }));
