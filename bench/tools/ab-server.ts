/**
 * Paired A/B of two `smsgate server` builds or settings, for telling a few per cent apart on a
 * machine where single runs of the same code spread ±40%. Not a benchmark (`npm run bench` does
 * not run it): a tool for deciding whether a change to the request path is worth keeping.
 *
 * Both servers run at once, each a CLI child process with its own database and the same user and
 * 10 webhooks as bench/server-api.ts, and its load (autocannon, the first of BENCH_CONNECTIONS: 16)
 * in turn, PAIRS times, SECONDS each; each pair gives B/A of the rate and of the server's CPU per
 * request (from /proc), and the medians of those are printed. Both servers are restarted (on the
 * same data) before every pair, in alternating start order, and which is measured first alternates
 * too: on this VM one process can run the same code 20-30% faster than another for its whole life,
 * and the later-started one tended to be the faster (identical sides kept for a whole run read
 * B/A 1.08-1.34; restarted every pair, 1.03 and 1.09 over 12 pairs). So the noise is random, not
 * a bias, and more pairs narrow it: use 24 or more to tell a few per cent apart, and run it twice
 * with the sides swapped.
 *
 *   node --import tsx bench/tools/ab-server.ts '<A json>' '<B json>' [GET|POST] [sqlite|postgres]
 *
 * A side's JSON: `bin`, the smsgate.js to run (default this checkout's; e.g. a `git worktree` of
 * the commit to compare with), and `env`, extra environment. BENCH_PAIRS (16), BENCH_SECONDS (1),
 * BENCH_RESTART_EVERY (1: fresh processes every pair; 0: one pair of processes for the whole run).
 *
 *   git worktree add --detach ../smsgate-base HEAD~1 && ln -s "$PWD/node_modules" ../smsgate-base/
 *   node --import tsx bench/tools/ab-server.ts '{"bin":"../smsgate-base/bin/smsgate.js"}' '{}' GET
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  cpuMsOf,
  createTempDatabase,
  load,
  seedUser,
  startServerProcess,
  type ChildServer,
  type TempDatabase,
} from '../server-api.ts';

interface Side {
  bin?: string;
  env?: Record<string, string>;
}

const [sideA = '{}', sideB = '{}', method = 'GET', store = 'sqlite'] = process.argv.slice(2);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
/** restart both servers every this many pairs (0: never) */
const RESTART_EVERY = Number(process.env.BENCH_RESTART_EVERY ?? 1);
const PRIVATE_TOKEN = 'ab-server-private-token';

if (method !== 'GET' && method !== 'POST') throw new Error(`method must be GET or POST, not ${method}`);
if (store !== 'sqlite' && store !== 'postgres') throw new Error(`store must be sqlite or postgres, not ${store}`);

/** A side's lasting state: its data directory, database and login; its process comes and goes. */
interface SideState {
  name: string;
  side: Side;
  dir: string;
  database?: TempDatabase;
  authorization?: string;
  server?: ChildServer;
}

async function prepare(name: string, side: Side): Promise<SideState> {
  const dir = mkdtempSync(join(tmpdir(), `smsgate-ab-${name}-`));
  return { name, side, dir, database: store === 'postgres' ? await createTempDatabase() : undefined };
}

/** Start the side's server (on its same data), seed the user the first time, and warm it up. */
async function launch(state: SideState): Promise<void> {
  state.server = await startServerProcess({
    db: state.database?.url ?? `sqlite:${join(state.dir, 'server.db')}`,
    dir: state.dir,
    privateToken: PRIVATE_TOKEN,
    name: state.name,
    bin: state.side.bin === undefined ? undefined : resolve(state.side.bin),
    env: state.side.env,
  });
  state.authorization ??= await seedUser(state.server.url, PRIVATE_TOKEN);
  await burst(state, 1); // warm-up: JIT, the user's cached login and list
}

async function shutdown(state: SideState): Promise<void> {
  await state.server?.stop();
  state.server = undefined;
}

/** One burst against a side's server: its rate and its CPU per request. */
async function burst(state: SideState, seconds: number): Promise<{ rate: number; cpuUs: number }> {
  const server = state.server!;
  const cpuBefore = cpuMsOf(server.child.pid!);
  const result = await load(server.url, state.authorization!, method as 'GET' | 'POST', seconds);
  if (result.errors + result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { rate: result.rps, cpuUs: ((cpuMsOf(server.child.pid!) - cpuBefore) * 1000) / (result.rps * seconds) };
}

const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
const sides: SideState[] = [];
try {
  sides.push(await prepare('A', JSON.parse(sideA) as Side), await prepare('B', JSON.parse(sideB) as Side));
  const [a, b] = sides;
  const rateRatios: number[] = [];
  const cpuRatios: number[] = [];
  const rates: [number[], number[]] = [[], []];
  for (let pair = 0; pair < PAIRS; pair++) {
    // Fresh processes every RESTART_EVERY pairs, started in alternating order (the later-started
    // one tends to be faster); which is measured first alternates independently of that.
    if (pair === 0 || (RESTART_EVERY > 0 && pair % RESTART_EVERY === 0)) {
      for (const state of sides) await shutdown(state);
      const restart = RESTART_EVERY > 0 ? Math.floor(pair / RESTART_EVERY) : 0;
      for (const state of restart % 2 === 0 ? [a, b] : [b, a]) await launch(state);
    }
    const aFirst = Math.floor(pair / 2) % 2 === 0;
    const first = await burst(aFirst ? a : b, SECONDS);
    const second = await burst(aFirst ? b : a, SECONDS);
    const [ofA, ofB] = aFirst ? [first, second] : [second, first];
    rateRatios.push(ofB.rate / ofA.rate);
    cpuRatios.push(ofB.cpuUs / ofA.cpuUs);
    rates[0].push(ofA.rate);
    rates[1].push(ofB.rate);
  }
  const list = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ');
  console.log(
    `${method} on ${store}, ${PAIRS} pairs of ${SECONDS} s, fresh processes every ${RESTART_EVERY || PAIRS} pair(s): A ${Math.round(median(rates[0]))}/s, B ${Math.round(median(rates[1]))}/s`,
  );
  console.log(`  rate B/A: median ${median(rateRatios).toFixed(3)} [${list(rateRatios)}]`);
  console.log(`  server CPU per request B/A: median ${median(cpuRatios).toFixed(3)} [${list(cpuRatios)}]`);
} finally {
  for (const state of sides) {
    await shutdown(state);
    await state.database?.drop();
    rmSync(state.dir, { recursive: true, force: true });
  }
}
