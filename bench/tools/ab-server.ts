/**
 * Paired A/B of two `smsgate server` builds or settings, for telling a few per cent apart on a
 * machine where single runs of the same code spread ±40%. Not a benchmark (`npm run bench` does
 * not run it): a tool for deciding whether a change to the request path is worth keeping.
 *
 * Both servers run at once, each a CLI child process with its own database and the same user and
 * 10 webhooks as bench/server-api.ts. autocannon (16 connections) loads them in turn, PAIRS times,
 * SECONDS each, in the order A B, B A, A B, …; each pair gives B/A of the rate and of the server's
 * CPU per request (from /proc), and the medians of those are printed. Run it twice with the sides
 * swapped: a side can be favoured by where the scheduler happens to put it.
 *
 *   node --import tsx bench/tools/ab-server.ts '<A json>' '<B json>' [GET|POST] [sqlite|postgres]
 *
 * A side's JSON: `bin`, the smsgate.js to run (default this checkout's; e.g. a `git worktree` of
 * the commit to compare with), and `env`, extra environment. BENCH_PAIRS (16), BENCH_SECONDS (1).
 *
 *   git worktree add --detach ../smsgate-base HEAD~1 && ln -s "$PWD/node_modules" ../smsgate-base/
 *   node --import tsx bench/tools/ab-server.ts '{"bin":"../smsgate-base/bin/smsgate.js"}' '{}' GET
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { register } from '../../src/device/link/mobile-client.ts';
import { basicAuth, createTempDatabase, stopChild, waitReady, type TempDatabase } from '../server-api.ts';

interface Side {
  bin?: string;
  env?: Record<string, string>;
}

const [sideA = '{}', sideB = '{}', method = 'GET', store = 'sqlite'] = process.argv.slice(2);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const PRIVATE_TOKEN = 'ab-server-private-token';
const DEFAULT_BIN = fileURLToPath(new URL('../../bin/smsgate.js', import.meta.url));

if (method !== 'GET' && method !== 'POST') throw new Error(`method must be GET or POST, not ${method}`);
if (store !== 'sqlite' && store !== 'postgres') throw new Error(`store must be sqlite or postgres, not ${store}`);

/** CPU time (user + system) of a process so far, in ms (clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Running {
  url: string;
  authorization: string;
  child: ChildProcess;
  dir: string;
  database?: TempDatabase;
}

async function start(name: string, side: Side): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `smsgate-ab-${name}-`));
  const database = store === 'postgres' ? await createTempDatabase() : undefined;
  const logFd = openSync(join(dir, 'server.log'), 'a');
  const child = spawn(
    process.execPath,
    [resolve(side.bin ?? DEFAULT_BIN), 'server', '--db', database?.url ?? `sqlite:${join(dir, 'server.db')}`, '--port', '0', '--private-token', PRIVATE_TOKEN, '--data-dir', dir],
    { stdio: ['ignore', 'pipe', logFd], env: { ...process.env, SMSGATE_LOG_LEVEL: 'info', ...side.env } },
  );
  closeSync(logFd);
  const { url } = await waitReady<{ url: string }>(child, `server ${name}`);
  child.stdout!.resume();
  const registration = await register(url, { privateToken: PRIVATE_TOKEN, name: 'ab' });
  const authorization = basicAuth(registration.login, registration.password!);
  for (let i = 0; i < 10; i++) {
    const response = await fetch(`${url}/3rdparty/v1/webhooks`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ id: `bench-${i}`, url: `http://127.0.0.1:9/hook/${i}`, event: 'sms:received' }),
    });
    if (response.status !== 201) throw new Error(`server ${name}: seeding answered ${response.status}`);
  }
  return { url, authorization, child, dir, database };
}

let sequence = 0;
/** One burst against a server: its rate and its CPU per request. */
async function burst(server: Running, seconds: number): Promise<{ rate: number; cpuUs: number }> {
  const cpuBefore = cpuMsOf(server.child.pid!);
  const result = await autocannon({
    url: `${server.url}/3rdparty/v1/webhooks`,
    connections: 16,
    duration: seconds,
    headers: { authorization: server.authorization, 'content-type': 'application/json' },
    requests: [
      method === 'GET'
        ? { method: 'GET' }
        : {
            method: 'POST',
            setupRequest: (request) => ({ ...request, body: JSON.stringify({ id: `bench-${sequence % 10}`, url: `http://127.0.0.1:9/hook/${sequence++}`, event: 'sms:received' }) }),
          },
    ],
  });
  if (result.errors + result.timeouts + result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers, ${result.errors + result.timeouts} errors`);
  return { rate: result.requests.total / seconds, cpuUs: ((cpuMsOf(server.child.pid!) - cpuBefore) * 1000) / result.requests.total };
}

const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
const sides = [JSON.parse(sideA) as Side, JSON.parse(sideB) as Side];
const servers: Running[] = [];
try {
  for (const [i, side] of sides.entries()) servers.push(await start(i === 0 ? 'A' : 'B', side));
  const [a, b] = servers;
  await burst(a, 1); // warm-up: JIT, the user's cached login and list
  await burst(b, 1);
  const rateRatios: number[] = [];
  const cpuRatios: number[] = [];
  const rates: [number[], number[]] = [[], []];
  for (let pair = 0; pair < PAIRS; pair++) {
    const aFirst = pair % 2 === 0;
    const first = await burst(aFirst ? a : b, SECONDS);
    const second = await burst(aFirst ? b : a, SECONDS);
    const [ofA, ofB] = aFirst ? [first, second] : [second, first];
    rateRatios.push(ofB.rate / ofA.rate);
    cpuRatios.push(ofB.cpuUs / ofA.cpuUs);
    rates[0].push(ofA.rate);
    rates[1].push(ofB.rate);
  }
  const list = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ');
  console.log(`${method} on ${store}, ${PAIRS} pairs of ${SECONDS} s: A ${Math.round(median(rates[0]))}/s, B ${Math.round(median(rates[1]))}/s`);
  console.log(`  rate B/A: median ${median(rateRatios).toFixed(3)} [${list(rateRatios)}]`);
  console.log(`  server CPU per request B/A: median ${median(cpuRatios).toFixed(3)} [${list(cpuRatios)}]`);
} finally {
  for (const server of servers) {
    await stopChild(server.child);
    await server.database?.drop();
    rmSync(server.dir, { recursive: true, force: true });
  }
}
