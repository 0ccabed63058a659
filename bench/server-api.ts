/**
 * Benchmark 5, server API.
 *
 * `smsgate server` runs as a child process (the CLI, as users run it), once on SQLite and once on a
 * throwaway PostgreSQL database, so that the load tool (autocannon, in this process) never shares
 * its event loop. One user (made by a device registration with the private token) owns 10
 * webhooks. Measured, each for SECONDS after a short warm-up, at each of CONNECTION_LEVELS
 * connections (16 and 64), Basic auth:
 *   - GET  /3rdparty/v1/webhooks: the user's 10 webhooks;
 *   - POST /3rdparty/v1/webhooks: an upsert (201) rotating over the same 10 ids, so the table
 *     stays the same size; every one also pushes WebhooksUpdated to the user's device (a NOTIFY
 *     on PostgreSQL).
 * Baseline: a bare Fastify app (child process, no logger, no hooks, no schema) with one route at
 * the same path returning the same JSON (parsed from the real answer; the auth header is sent and
 * ignored), driven the same way. At each connection count it runs before, between and after the
 * four server runs; each server run is set against the mean of the two bare runs around it.
 * Every round starts its own three processes (the databases stay). A round covers both connection counts; its figure for each server is that server's best rate
 * over them against the bare route's best (what each can do, not what 16 connections let a
 * commit-bound write do). There are ROUNDS (5) rounds, and each figure is the median of its
 * per-round ratios, since the load tool, the server and PostgreSQL share two cores with whatever
 * else the machine is doing. The ratios at each connection count alone are printed too.
 * Targets: GET >= 0.5x, POST >= 0.25x. The summary line carries the worst of the four median
 * ratios, relative to its own target.
 *
 *   node --import tsx bench/server-api.ts
 *
 * Also the helpers fanout.ts shares: a server child process and a throwaway PostgreSQL database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { randomSecret } from '../src/shared/ids.ts';
import { fmt, log, MB, median, memoryProbeOptions, probeLiveMemory, summary } from './lib/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// ---------------------------------------------------------------------------------------------
// Shared helpers (also used by fanout.ts)

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** the child's resident set size now, from /proc */
  rss(): number;
  /** what is alive in it after full garbage collections (started with `memoryProbe` only) */
  liveMemory?: () => Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

/** Resident set size of a process, in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** Wait for a `ready {json}` line on a child's stdout (or its exit). */
export function waitReady<T = Record<string, unknown>>(
  child: ChildProcess,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not print ready within ${timeoutMs} ms`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('ready ')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(6)) as T);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready`));
    });
  });
}

/** Stop a child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * `smsgate server` as a child process. Its log (pino, info: one line per request) goes to a file
 * in `dir`, as a service's log would: the cost of logging is part of what is measured.
 */
export async function startServerProcess(options: {
  db: string;
  dir: string;
  privateToken: string;
  name?: string;
  /** the smsgate.js to run (default this checkout's) */
  bin?: string;
  /** extra environment */
  env?: Record<string, string>;
  /** load bench/lib/memory-probe.mjs, for liveMemory() */
  memoryProbe?: boolean;
}): Promise<ChildServer> {
  const name = options.name ?? 'server';
  const logFd = openSync(join(options.dir, `${name}.log`), 'a');
  const probeFile = join(options.dir, `${name}.memory.json`);
  const probe = options.memoryProbe ? memoryProbeOptions(probeFile) : { execArgv: [], env: {} };
  const child = spawn(
    process.execPath,
    [
      // BENCH_SERVER_CPU_PROF=<dir>: a CPU profile of each server process, written when it stops
      ...(process.env.BENCH_SERVER_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SERVER_CPU_PROF] : []),
      ...probe.execArgv,
      options.bin ?? join(ROOT, 'bin/smsgate.js'),
      'server',
      '--db',
      options.db,
      '--port',
      '0',
      '--private-token',
      options.privateToken,
      '--data-dir',
      options.dir,
    ],
    {
      stdio: ['ignore', 'pipe', logFd],
      env: {
        ...process.env,
        SMSGATE_LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'info',
        ...probe.env,
        ...options.env,
      },
    },
  );
  closeSync(logFd);
  try {
    const ready = await waitReady<{ url: string }>(child, `smsgate server (${options.name ?? options.db})`);
    child.stdout!.resume();
    return {
      url: ready.url,
      child,
      rss: () => rssOf(child.pid!),
      liveMemory: options.memoryProbe ? () => probeLiveMemory(child.pid!, probeFile) : undefined,
      stop: () => stopChild(child),
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

export interface TempDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh `smsgate_bench_<random>` database on the local PostgreSQL; drop() removes it. */
export async function createTempDatabase(): Promise<TempDatabase> {
  const { default: pg } = await import('pg');
  const name = `smsgate_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `cannot reach PostgreSQL at ${PG_ADMIN_URL} (${(error as Error).message}); start it with: bash scripts/ensure-services.sh`,
      { cause: error },
    );
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export const basicAuth = (login: string, password: string): string =>
  'Basic ' + Buffer.from(`${login}:${password}`).toString('base64');

// ---------------------------------------------------------------------------------------------
// The bare Fastify baseline, when this file runs as its child.

async function bareChild(): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const body = JSON.parse(process.env.BENCH_BARE_BODY ?? '[]') as unknown;
  const app = Fastify({ logger: false });
  app.get('/3rdparty/v1/webhooks', async () => body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  console.log(`ready ${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------
// The benchmark

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
/**
 * Each server's rate is its best over these connection counts, and so is the bare route's: a
 * route that answers from memory is at its fastest with few connections, a write that waits for
 * a database commit needs more requests in flight to fill its batches (at 16, PostgreSQL POST
 * leaves a third of the CPU idle waiting on commits).
 */
const CONNECTION_LEVELS = (process.env.BENCH_CONNECTIONS ?? '16,64').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WEBHOOKS = 10;
const TARGET_GET = 0.5;
const TARGET_POST = 0.25;

export interface Load {
  rps: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** One autocannon run against a server's /3rdparty/v1/webhooks (also used by bench/tools/ab-server.ts, with the first of BENCH_CONNECTIONS). */
export async function load(
  url: string,
  authorization: string,
  method: 'GET' | 'POST',
  seconds: number,
  connections = CONNECTION_LEVELS[0],
): Promise<Load> {
  const { default: autocannon } = await import('autocannon');
  let n = 0;
  const result = await autocannon({
    url: `${url}/3rdparty/v1/webhooks`,
    connections,
    duration: seconds,
    headers: { authorization, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    requests: [
      method === 'GET'
        ? { method: 'GET' }
        : {
            method: 'POST',
            // an upsert over the same WEBHOOKS ids: the table keeps its size
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({
                id: `bench-${n++ % WEBHOOKS}`,
                url: `http://127.0.0.1:9/hook/${n}`,
                event: 'sms:received',
              }),
            }),
          },
    ],
  });
  return {
    rps: result.requests.total / (result.duration || seconds),
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (clock ticks of 10 ms). */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Load one server and print its rate and the CPU it spent per request (`pid`: the server process). */
async function measure(
  label: string,
  url: string,
  authorization: string,
  method: 'GET' | 'POST',
  pid: number,
  connections: number,
): Promise<Load> {
  await load(url, authorization, method, WARMUP_SECONDS, connections);
  const cpuBefore = cpuMsOf(pid);
  const result = await load(url, authorization, method, SECONDS, connections);
  const cpuPerRequest = ((cpuMsOf(pid) - cpuBefore) * 1000) / (result.rps * SECONDS);
  log(
    `${label}: ${fmt(result.rps)} req/s, p99 ${result.p99} ms, ${result.non2xx} non-2xx, ${result.errors} errors; server CPU ${fmt(cpuPerRequest)} µs per request`,
  );
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`${label}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result;
}

/** Create the user (a device registration with the private token) and its WEBHOOKS webhooks. */
export async function seedUser(url: string, privateToken: string): Promise<string> {
  const { register } = await import('../src/device/link/mobile-client.ts');
  const registration = await register(url, { privateToken, name: 'bench' });
  const authorization = basicAuth(registration.login, registration.password!);
  for (let i = 0; i < WEBHOOKS; i++) {
    const response = await fetch(`${url}/3rdparty/v1/webhooks`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ id: `bench-${i}`, url: `http://127.0.0.1:9/hook/${i}`, event: 'sms:received' }),
    });
    if (response.status !== 201) throw new Error(`seeding webhook ${i}: ${response.status} ${await response.text()}`);
  }
  return authorization;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-bench-api-'));
  const privateToken = randomSecret(24);
  let database: TempDatabase | undefined;
  /** this round's processes, stopped at its end (or on a failure) */
  const roundChildren: { stop(): Promise<void> }[] = [];
  const stopRound = async () => {
    for (const child of roundChildren.splice(0)) await child.stop();
  };
  let seeded: { sqliteAuth: string; postgresAuth: string; json: string } | undefined;
  try {
    database = await createTempDatabase();
    const db = database;
    /**
     * Fresh processes for every round (on the same databases): on this VM one process can run the
     * same code 20-30% faster than another for its whole life, depending on nothing in the code
     * (see BENCHMARKS.md), so one process per side for the whole run would carry its luck into
     * every round; a median over rounds of fresh processes does not.
     */
    const startRound = async (round: number) => {
      const sqlite = await startServerProcess({
        db: `sqlite:${join(dir, 'server.db')}`,
        dir,
        privateToken,
        name: `sqlite-${round}`,
      });
      roundChildren.push(sqlite);
      const postgres = await startServerProcess({ db: db.url, dir, privateToken, name: `postgres-${round}` });
      roundChildren.push(postgres);
      if (!seeded) {
        const sqliteAuth = await seedUser(sqlite.url, privateToken);
        const postgresAuth = await seedUser(postgres.url, privateToken);
        // The bare route answers exactly what the real one does (ids and URLs are the same on both stores).
        const listed = await fetch(`${sqlite.url}/3rdparty/v1/webhooks`, { headers: { authorization: sqliteAuth } });
        const json = await listed.text();
        if (JSON.parse(json).length !== WEBHOOKS) throw new Error(`expected ${WEBHOOKS} webhooks, got ${json}`);
        seeded = { sqliteAuth, postgresAuth, json };
        log(
          `GET body: ${Buffer.byteLength(json)} bytes (${WEBHOOKS} webhooks); ${CONNECTION_LEVELS.join(' and ')} connections, ${SECONDS} s per run after ${WARMUP_SECONDS} s of warm-up`,
        );
      }
      const bare = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, BENCH_SERVER_API_ROLE: 'bare', BENCH_BARE_BODY: seeded.json },
      });
      roundChildren.push({ stop: () => stopChild(bare) });
      const bareUrl = (await waitReady<{ url: string }>(bare, 'bare Fastify')).url;
      bare.stdout!.resume();
      return { sqlite, postgres, bare, bareUrl, ...seeded };
    };
    const bareBestPerRound: number[] = [];

    // The machine is shared and noisy: ROUNDS rounds, each with its own bare runs and its own
    // processes, and the median of the per-round ratios (as in throughput.ts).
    const names = ['SQLite GET', 'SQLite POST', 'PostgreSQL GET', 'PostgreSQL POST'];
    const targets = [TARGET_GET, TARGET_POST, TARGET_GET, TARGET_POST];
    const perRound: { rps: number; ratio: number }[][] = [];
    /** per connection count, per target: the per-round ratios against the bare route at that count */
    const atLevel = CONNECTION_LEVELS.map(() => names.map((): number[] => []));
    for (let round = 1; round <= ROUNDS; round++) {
      const { sqlite, postgres, bare, bareUrl, sqliteAuth, postgresAuth } = await startRound(round);
      const best = names.map(() => 0);
      let bareBest = 0;
      for (const [level, connections] of CONNECTION_LEVELS.entries()) {
        const at = `round ${round}, ${connections} connections`;
        const bareRuns: number[] = [];
        const bareRun = async () =>
          bareRuns.push(
            (
              await measure(
                `${at}: bare Fastify GET #${bareRuns.length + 1}`,
                bareUrl,
                sqliteAuth,
                'GET',
                bare.pid!,
                connections,
              )
            ).rps,
          );
        await bareRun();
        const sqliteGet = await measure(
          `${at}: SQLite GET`,
          sqlite.url,
          sqliteAuth,
          'GET',
          sqlite.child.pid!,
          connections,
        );
        const sqlitePost = await measure(
          `${at}: SQLite POST`,
          sqlite.url,
          sqliteAuth,
          'POST',
          sqlite.child.pid!,
          connections,
        );
        await bareRun();
        const pgGet = await measure(
          `${at}: PostgreSQL GET`,
          postgres.url,
          postgresAuth,
          'GET',
          postgres.child.pid!,
          connections,
        );
        const pgPost = await measure(
          `${at}: PostgreSQL POST`,
          postgres.url,
          postgresAuth,
          'POST',
          postgres.child.pid!,
          connections,
        );
        await bareRun();
        // Each server run against the mean of the bare runs on either side of it.
        const around = (i: number) => (bareRuns[i] + bareRuns[i + 1]) / 2;
        const runs = [
          { rps: sqliteGet.rps, base: around(0) },
          { rps: sqlitePost.rps, base: around(0) },
          { rps: pgGet.rps, base: around(1) },
          { rps: pgPost.rps, base: around(1) },
        ];
        runs.forEach((r, i) => {
          atLevel[level][i].push(r.rps / r.base);
          best[i] = Math.max(best[i], r.rps);
        });
        bareBest = Math.max(bareBest, around(0), around(1));
        log(
          `${at}: ${runs.map((r, i) => `${names[i]} ${fmt(r.rps / r.base)}x`).join(', ')} (bare ${fmt(around(0))} / ${fmt(around(1))} req/s)`,
        );
      }
      // Each one's best rate over the connection counts, against the bare route's best.
      perRound.push(best.map((rps) => ({ rps, ratio: rps / bareBest })));
      bareBestPerRound.push(bareBest);
      log(
        `round ${round}: ${best.map((rps, i) => `${names[i]} ${fmt(rps)} req/s = ${fmt(rps / bareBest)}x`).join(', ')} (bare ${fmt(bareBest)} req/s; best of each over ${CONNECTION_LEVELS.join(' and ')} connections)`,
      );
      if (round === ROUNDS)
        log(
          `server RSS after the runs: SQLite ${fmt(sqlite.rss() / MB)} MB, PostgreSQL ${fmt(postgres.rss() / MB)} MB`,
        );
      await stopRound();
    }
    for (const [level, connections] of CONNECTION_LEVELS.entries()) {
      log(
        `at ${connections} connections alone (medians): ${names.map((name, i) => `${name} ${fmt(median(atLevel[level][i]))}x`).join(', ')}`,
      );
    }
    const results = names.map((name, i) => ({
      name,
      target: targets[i],
      rps: median(perRound.map((round) => round[i].rps)),
      ratio: median(perRound.map((round) => round[i].ratio)),
    }));

    // The worst ratio relative to its own target decides.
    const worst = results.reduce((a, b) => (b.ratio / b.target < a.ratio / a.target ? b : a));
    // The first connection count's own ratios go on the summary line too: at 16 a commit-bound
    // POST on PostgreSQL reads far lower than at its best, and a reader should see both.
    const firstLevel = names.map((name, i) => `${name} ${fmt(median(atLevel[0][i]))}x`).join(', ');
    const figures = `${results.map((r) => `${r.name} ${fmt(r.rps)}/s (${fmt(r.ratio)}x)`).join(', ')}; at ${CONNECTION_LEVELS[0]} connections alone: ${firstLevel}`;
    summary({
      name: 'server-api',
      figure: figures,
      baseline: `${fmt(median(bareBestPerRound))} req/s (bare Fastify GET, same JSON; median over the rounds of its best)`,
      ratio: worst.ratio,
      target: `GET >= ${TARGET_GET}x, POST >= ${TARGET_POST}x (each rate its best over ${CONNECTION_LEVELS.join(' and ')} connections, the bare route's too; medians of ${ROUNDS} rounds; worst: ${worst.name})`,
      pass: results.every((r) => r.ratio >= r.target),
    });
  } finally {
    await stopRound();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_SERVER_API_ROLE === 'bare') await bareChild();
else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
