/**
 * Paired A/B of two `smsgate server` builds or settings, for telling a few per cent apart on a
 * machine where single runs of the same code spread ±40%. Not a benchmark (`npm run bench` does
 * not run it): a tool for deciding whether a change to the request path is worth keeping.
 *
 * Both servers run at once, each a CLI child process with its own database and the same user and
 * 10 webhooks as bench/server-api.ts, and its load (autocannon, the first of BENCH_CONNECTIONS: 16)
 * in turn, PAIRS times, SECONDS each, in the order A B, B A, A B, …; each pair gives B/A of the rate
 * and of the server's CPU per request (from /proc), and the medians of those are printed. Run it
 * twice with the sides swapped, and believe only a difference that shows in both orders: a side can
 * be favoured for reasons outside the code: two identical sides read B/A 1.08-1.34, and with the
 * start order swapped the later-started server was again the faster (see BENCHMARKS.md, changes 6).
 *
 *   node --import tsx bench/tools/ab-server.ts '<A json>' '<B json>' [GET|POST] [sqlite|postgres]
 *
 * A side's JSON: `bin`, the smsgate.js to run (default this checkout's; e.g. a `git worktree` of
 * the commit to compare with), and `env`, extra environment. BENCH_PAIRS (16), BENCH_SECONDS (1).
 *
 *   git worktree add --detach ../smsgate-base HEAD~1 && ln -s "$PWD/node_modules" ../smsgate-base/
 *   node --import tsx bench/tools/ab-server.ts '{"bin":"../smsgate-base/bin/smsgate.js"}' '{}' GET
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cpuMsOf, createTempDatabase, load, seedUser, startServerProcess, type ChildServer, type TempDatabase } from '../server-api.ts';

interface Side {
  bin?: string;
  env?: Record<string, string>;
}

const [sideA = '{}', sideB = '{}', method = 'GET', store = 'sqlite'] = process.argv.slice(2);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const PRIVATE_TOKEN = 'ab-server-private-token';

if (method !== 'GET' && method !== 'POST') throw new Error(`method must be GET or POST, not ${method}`);
if (store !== 'sqlite' && store !== 'postgres') throw new Error(`store must be sqlite or postgres, not ${store}`);

interface Running extends ChildServer {
  authorization: string;
  dir: string;
  database?: TempDatabase;
}

async function start(name: string, side: Side): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `smsgate-ab-${name}-`));
  const database = store === 'postgres' ? await createTempDatabase() : undefined;
  const server = await startServerProcess({
    db: database?.url ?? `sqlite:${join(dir, 'server.db')}`,
    dir,
    privateToken: PRIVATE_TOKEN,
    name,
    bin: side.bin === undefined ? undefined : resolve(side.bin),
    env: side.env,
  });
  return { ...server, authorization: await seedUser(server.url, PRIVATE_TOKEN), dir, database };
}

/** One burst against a server: its rate and its CPU per request. */
async function burst(server: Running, seconds: number): Promise<{ rate: number; cpuUs: number }> {
  const cpuBefore = cpuMsOf(server.child.pid!);
  const result = await load(server.url, server.authorization, method as 'GET' | 'POST', seconds);
  if (result.errors + result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { rate: result.rps, cpuUs: ((cpuMsOf(server.child.pid!) - cpuBefore) * 1000) / (result.rps * seconds) };
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
    await server.stop();
    await server.database?.drop();
    rmSync(server.dir, { recursive: true, force: true });
  }
}
