/**
 * Benchmark 6, push fan-out.
 *
 * Two `smsgate server` nodes (child processes, the CLI) share a throwaway PostgreSQL database, so
 * a push raised on one reaches the other through LISTEN/NOTIFY. DEVICES (10,000) devices are
 * registered to one user through the API (Basic auth, 16 at a time: 15-20 s for 10,000, so the
 * database is not seeded behind the server's back), half on each node, and each holds
 * `GET /mobile/v1/events` open with the device's own client (MobileClient.openEvents from
 * src/device/link/mobile-client.ts, on an undici Agent), in CLIENTS client child processes
 * (2,500 devices each). Then, ROUNDS times, the user changes a
 * setting (PATCH /3rdparty/v1/settings on node 1): every device must receive SettingsUpdated. A
 * device's latency runs from just before the PATCH is sent to the moment its onEvent sees the
 * frame (client clocks are aligned over IPC, as the receiver's are in harness.ts); one warm-up
 * change first, on both sides, is not counted (BENCH_WARMUP_ROUNDS). Each device
 * then pulls GET /mobile/v1/settings the way a real one does (a herd of DEVICES requests, half on
 * each node, which the nodes' WriteBatchers answer with a few statements); that time is reported
 * too. A client process starts its devices' pulls after reading what its sockets hold (see the
 * clients' onEvent), and on an agent of their own.
 * Memory per held stream: what is alive in both nodes (JS heap used + external, right after full
 * garbage collections: bench/lib/memory-probe.mjs) once every stream is open, minus the same before
 * any was opened (after registration), divided by the number of streams; the bare broadcasters are
 * weighed the same way. RSS is printed beside it, but garbage and pages not yet returned to the
 * system swing it by more than 2,000 streams add (it once read -3 KiB per stream).
 *
 * Baseline, same run, same client processes and client code: two bare node:http processes hold
 * the same number of streams (half each) and, on an IPC message sent at t0, write the same
 * SettingsUpdated frame to every one of them. That is the floor for this machine: what getting
 * the same bytes onto DEVICES loopback sockets and through the same SSE parser costs, without
 * authentication, a database, a transaction or a cross-node hop. Ratio = p99 / baseline p99.
 * Target: every device receives every change, p99 <= 2 s.
 *
 * Open files: a node holds DEVICES / 2 streams and as many pulls, a client process DEVICES / CLIENTS
 * and as many pulls. Node raises its soft limit to the hard one at start and the processes the bench
 * spawns inherit it, so the hard limit (ulimit -Hn) must allow that; the bench checks it first.
 *
 *   node --import tsx bench/fanout.ts          # BENCH_DEVICES (default 10,000), BENCH_CLIENTS, BENCH_ROUNDS
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomSecret } from '../src/shared/ids.ts';
import { execFileSync } from 'node:child_process';
import {
  fmt,
  forkIpc,
  log,
  MB,
  measureClockOffset,
  memoryProbeOptions,
  now,
  percentile,
  probeLiveMemory,
  sleep,
  summary,
} from './lib/harness.ts';
import {
  basicAuth,
  createTempDatabase,
  startServerProcess,
  type ChildServer,
  type TempDatabase,
} from './server-api.ts';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
/** client processes the simulated devices are spread over (2,500 streams each by default) */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? Math.max(2, Math.ceil(DEVICES / 2500)));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** rounds run first and not counted, on both sides: the first change after start pays for JIT and connection warm-up */
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP_ROUNDS ?? 1);
const TARGET_P99_MS = 2000;
const ROLE = process.env.BENCH_FANOUT_ROLE;
/** streams a client process opens at once; the next wave starts when they are all open */
const OPEN_WAVE = Number(process.env.BENCH_OPEN_WAVE ?? 250);
/** BENCH_PULL=0: devices do not pull GET /settings on the event (isolates the push path) */
const PULL = process.env.BENCH_PULL !== '0';

// ---------------------------------------------------------------------------------------------
// IPC plumbing shared by the parent and its children

type Message = { rid: number; type: string; [key: string]: unknown };

interface Child {
  child: ChildProcess;
  ask<T = any>(type: string, body?: Record<string, unknown>): Promise<T>;
  /** child clock minus ours, from the IPC round trip with the smallest delay */
  clockOffset(samples?: number): Promise<number>;
  stop(): Promise<void>;
}

async function forkRole(role: string, env: Record<string, string> = {}, execArgv: string[] = []): Promise<Child> {
  const { child, ask, exited } = await forkIpc(
    fileURLToPath(import.meta.url),
    { BENCH_FANOUT_ROLE: role, ...env },
    `${role} child`,
    execArgv,
  );
  return {
    child,
    ask,
    clockOffset: (samples) => measureClockOffset(ask, samples),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

function serve(handle: (message: Message) => Promise<object> | object): void {
  process.on('message', (message: Message) => {
    void (async () => handle(message))().then(
      (body) => process.send!({ rid: message.rid, ...body }),
      (error: Error) => process.send!({ rid: message.rid, error: error.stack ?? String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  // an exit of its own, so that a CPU profile (--cpu-prof) is written
  process.on('SIGTERM', () => process.exit(0));
  process.send!({ rid: 0 });
}

// ---------------------------------------------------------------------------------------------
// Child: simulated devices (the device's own SSE client)

async function clientsChild(): Promise<void> {
  const { Agent } = await import('undici');
  const { MobileClient } = await import('../src/device/link/mobile-client.ts');
  type EventStream = ReturnType<InstanceType<typeof MobileClient>['openEvents']>;
  // One connection per held stream (the default has no per-origin cap).
  const streamAgent = new Agent({ keepAliveTimeout: 30_000, connections: null });
  // The pulls go through the device's client too (MobileClient.getSettings: the same request), on an
  // agent of their own: a request looks for a free connection from the first of its origin on, and
  // behind 2,500 busy streams that search cost more than the pull.
  const pullAgent = new Agent({ keepAliveTimeout: 30_000, connections: null });
  let streams: EventStream[] = [];
  let opened = 0;
  let errors = 0;
  let round = -1;
  let pull = false;
  let received: number[] = [];
  let pulled: number[] = [];
  let pullErrors = 0;
  let pullError = '';

  serve(async (message) => {
    switch (message.type) {
      case 'open': {
        const targets = message.targets as { url: string; token: string }[];
        opened = 0;
        errors = 0;
        const reasons = new Map<string, number>();
        const open = ({ url, token }: { url: string; token: string }) => {
          const puller = new MobileClient(url, token, { dispatcher: pullAgent });
          const seen = new Set<number>();
          return new MobileClient(url, token, { dispatcher: streamAgent }).openEvents(
            (event) => {
              if (event.type !== 'SettingsUpdated' || round < 0 || seen.has(round)) return;
              seen.add(round);
              const at = now();
              received.push(at);
              // The pull starts once this process has read what its sockets hold now: the 2,500 devices
              // share a CPU here, and one device's pull must not delay another's receiving the event
              // (each has its own in life). The herd reaches the server all the same.
              if (pull) {
                setImmediate(() =>
                  puller.getSettings().then(
                    () => pulled.push(now() - at),
                    (error: Error) => {
                      pullErrors++;
                      pullError ||= String((error.cause as Error | undefined)?.message ?? error.message);
                    },
                  ),
                );
              }
            },
            {
              onOpen: () => void opened++,
              onError: (error) => {
                errors++;
                reasons.set(error.message, (reasons.get(error.message) ?? 0) + 1);
              },
            },
          );
        };
        // In waves, as a fleet comes online: thousands of connects at the same instant overflow the
        // listen backlog, and the retries back off for seconds.
        streams = [];
        const deadline = now() + 120_000;
        for (let i = 0; i < targets.length && now() < deadline; i += OPEN_WAVE) {
          streams.push(...targets.slice(i, i + OPEN_WAVE).map(open));
          while (opened < streams.length && now() < deadline) await sleep(20);
        }
        while (opened < targets.length && now() < deadline) await sleep(20);
        const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3);
        return { opened, errors, reasons: top.map(([reason, n]) => `${n}x ${reason}`).join('; ') };
      }
      case 'arm':
        round = message.round as number;
        pull = message.pull === true;
        received = [];
        pulled = [];
        pullErrors = 0;
        pullError = '';
        return {};
      case 'records':
        return {
          received,
          pulled,
          pullErrors,
          pullError,
          errors,
          connected: streams.filter((s) => s.connected).length,
        };
      case 'clock':
        return { now: now() };
      case 'close':
        await Promise.all(streams.map((s) => s.close()));
        streams = [];
        return {};
      default:
        throw new Error(`unknown command ${message.type}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Child: the bare broadcaster (baseline)

async function bareChild(): Promise<void> {
  const streams = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    res.write(': connected\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const frame = 'event: SettingsUpdated\ndata: {}\n\n';
  serve((message) => {
    switch (message.type) {
      case 'url':
        return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
      case 'broadcast':
        for (const res of streams) res.write(frame);
        return { count: streams.size };
      case 'count':
        return { count: streams.size };
      default:
        throw new Error(`unknown command ${message.type}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Parent

interface Round {
  latencies: number[];
  pulls: number[];
  missing: number;
  pullErrors: number;
  /** the first pull error's message in each client process that had one */
  pullError: string;
}

/** Arm the clients, trigger (t0 = just before), then collect until every device has it (or give up). */
async function fanOut(
  clients: Child[],
  offsets: number[],
  trigger: () => Promise<void>,
  round: number,
  pull: boolean,
): Promise<Round> {
  await Promise.all(clients.map((c) => c.ask('arm', { round, pull })));
  const t0 = now();
  await trigger();
  const deadline = now() + 15_000;
  let records: { received: number[]; pulled: number[]; pullErrors: number; pullError: string }[];
  for (;;) {
    records = await Promise.all(clients.map((c) => c.ask('records')));
    const got = records.reduce((n, r) => n + r.received.length, 0);
    const pulledCount = records.reduce((n, r) => n + r.pulled.length + r.pullErrors, 0);
    if ((got >= DEVICES && (!pull || pulledCount >= DEVICES)) || now() > deadline) break;
    await sleep(50);
  }
  const latencies = records.flatMap((r, i) => r.received.map((at) => at - offsets[i] - t0)).sort((a, b) => a - b);
  return {
    latencies,
    pulls: records.flatMap((r) => r.pulled).sort((a, b) => a - b),
    missing: DEVICES - latencies.length,
    pullErrors: records.reduce((n, r) => n + r.pullErrors, 0),
    pullError: [...new Set(records.map((r) => r.pullError).filter(Boolean))].join(' | '),
  };
}

const describe = (sorted: number[]) =>
  sorted.length === 0
    ? 'none'
    : `p50 ${fmt(percentile(sorted, 50))} ms, p99 ${fmt(percentile(sorted, 99))} ms, max ${fmt(sorted[sorted.length - 1])} ms`;

/** Open DEVICES streams, split evenly over the client processes, each to its own target. */
async function openAll(clients: Child[], targets: { url: string; token: string }[]): Promise<void> {
  const per = Math.ceil(targets.length / clients.length);
  const results = await Promise.all(
    clients.map((c, i) =>
      c.ask<{ opened: number; errors: number; reasons: string }>('open', {
        targets: targets.slice(i * per, (i + 1) * per),
      }),
    ),
  );
  const opened = results.reduce((n, r) => n + r.opened, 0);
  const reasons = results.map((r) => r.reasons).filter(Boolean);
  if (opened < targets.length)
    throw new Error(
      `only ${opened} of ${targets.length} streams opened (${results.map((r) => r.errors).join('+')} connection errors: ${reasons.join(' | ')})`,
    );
  if (reasons.length > 0) log(`  connection errors while opening (each retried): ${reasons.join(' | ')}`);
}

async function settle(): Promise<void> {
  await sleep(1_500);
}

async function main(): Promise<void> {
  // Node raises its own soft limit on open files to the hard one when it starts, and the nodes and
  // clients it spawns inherit that: the hard limit is the one that counts.
  const soft = Number(execFileSync('sh', ['-c', 'ulimit -Sn']).toString().trim());
  // a client's streams and as many pulls at once, or a node's streams and the pulls it answers
  const needed = Math.ceil(Math.max((2 * DEVICES) / CLIENTS, DEVICES) + 200);
  log(
    `open files limit ${soft} per process; the busiest process needs ~${needed} (a node: ${DEVICES / 2} streams + as many pulls; a client: ${Math.ceil(DEVICES / CLIENTS)} streams + as many pulls)`,
  );
  if (soft < needed)
    throw new Error(
      `the open files limit is ${soft}; ${needed} are needed: raise the hard limit (ulimit -Hn ${needed} as root, /etc/security/limits.conf, or docker run --ulimit nofile=${needed}), or lower BENCH_DEVICES`,
    );

  const dir = mkdtempSync(join(tmpdir(), 'smsgate-bench-fanout-'));
  const privateToken = randomSecret(24);
  const nodes: ChildServer[] = [];
  const children: Child[] = [];
  let database: TempDatabase | undefined;
  try {
    database = await createTempDatabase();
    // One after the other: the first migrates the fresh database.
    nodes.push(await startServerProcess({ db: database.url, dir, privateToken, name: 'node1', memoryProbe: true }));
    nodes.push(await startServerProcess({ db: database.url, dir, privateToken, name: 'node2', memoryProbe: true }));
    // BENCH_CLIENT_CPU_PROF=<dir>: a CPU profile of each client process, written when it stops
    const clientProf = process.env.BENCH_CLIENT_CPU_PROF;
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, () =>
        forkRole('clients', {}, clientProf ? ['--cpu-prof', '--cpu-prof-dir', clientProf] : []),
      ),
    );
    children.push(...clients);
    const offsets = await Promise.all(clients.map((c) => c.clockOffset()));

    // ---- baseline: two bare broadcasters, the same clients
    const bareProbes = [1, 2].map((i) => memoryProbeOptions(join(dir, `bare${i}.memory.json`)));
    const bares = await Promise.all(bareProbes.map((probe) => forkRole('bare', probe.env, probe.execArgv)));
    children.push(...bares);
    const bareUrls = await Promise.all(bares.map(async (b) => (await b.ask<{ url: string }>('url')).url));
    const bareMemory = () =>
      Promise.all(bares.map((b, i) => probeLiveMemory(b.child.pid!, bareProbes[i].env.BENCH_MEMORY_PROBE_FILE)));
    const bareBefore = await bareMemory();
    await openAll(
      clients,
      Array.from({ length: DEVICES }, (_, i) => ({ url: bareUrls[i % 2], token: 'bare' })),
    );
    await settle();
    const bareAfter = await bareMemory();
    const bareRounds: Round[] = [];
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const r = await fanOut(
        clients,
        offsets,
        async () => void (await Promise.all(bares.map((b) => b.ask('broadcast')))),
        round,
        false,
      );
      const warmup = round < WARMUP_ROUNDS;
      if (!warmup) bareRounds.push(r);
      log(
        `bare broadcast ${warmup ? 'warm-up round (not counted)' : `round ${round - WARMUP_ROUNDS + 1}`}: ${r.latencies.length}/${DEVICES} received, ${describe(r.latencies)}`,
      );
      await sleep(200);
    }
    await Promise.all(clients.map((c) => c.ask('close')));
    for (const b of bares) await b.stop();

    // ---- smsgate: one user, DEVICES devices, half on each node
    const { register } = await import('../src/device/link/mobile-client.ts');
    const owner = await register(nodes[0].url, { privateToken, name: 'owner' });
    const credentials = { login: owner.login, password: owner.password! };
    const authorization = basicAuth(owner.login, owner.password!);
    const targets: { url: string; token: string }[] = [{ url: nodes[0].url, token: owner.token }];
    const registerStarted = now();
    let next = 1;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < DEVICES) {
          const i = next++;
          const url = nodes[i % 2].url;
          const registration = await register(url, { basicAuth: credentials, name: `device-${i}` });
          targets[i] = { url, token: registration.token };
        }
      }),
    );
    log(`registered ${DEVICES} devices to one user in ${fmt((now() - registerStarted) / 1000)} s`);
    await settle();
    const nodeMemory = () => Promise.all(nodes.map((n) => n.liveMemory!()));
    const before = await nodeMemory();
    const openStarted = now();
    await openAll(clients, targets);
    log(`${DEVICES} event streams open in ${fmt((now() - openStarted) / 1000)} s`);
    await settle();
    const after = await nodeMemory();

    const rounds: Round[] = [];
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const r = await fanOut(
        clients,
        offsets,
        async () => {
          const response = await fetch(`${nodes[0].url}/3rdparty/v1/settings`, {
            method: 'PATCH',
            headers: { authorization, 'content-type': 'application/json' },
            body: JSON.stringify({ messages: { send_interval_min: round + 1 } }),
          });
          if (response.status !== 200) throw new Error(`PATCH /settings: ${response.status} ${await response.text()}`);
        },
        round,
        PULL,
      );
      const warmup = round < WARMUP_ROUNDS;
      if (!warmup) rounds.push(r);
      log(
        `smsgate ${warmup ? 'warm-up round (not counted)' : `round ${round - WARMUP_ROUNDS + 1}`}: ${r.latencies.length}/${DEVICES} received SettingsUpdated, ${describe(r.latencies)}; settings pulled ${describe(r.pulls)} after the event (${r.pullErrors} errors${r.pullError ? `: ${r.pullError}` : ''})`,
      );
      await sleep(500);
    }
    const records = await Promise.all(clients.map((c) => c.ask<{ errors: number; connected: number }>('records')));
    log(
      `streams still connected at the end: ${records.reduce((n, r) => n + r.connected, 0)}, connection errors seen: ${records.reduce((n, r) => n + r.errors, 0)}`,
    );

    // What is alive (JS heap + memory outside it that V8 tracks, such as buffers) after full
    // garbage collections, before and after the streams opened, over both processes.
    const live = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external;
    const perStreamKb = (was: NodeJS.MemoryUsage[], is: NodeJS.MemoryUsage[], of: (m: NodeJS.MemoryUsage) => number) =>
      is.reduce((sum, m, i) => sum + of(m) - of(was[i]), 0) / DEVICES / 1024;
    const liveKb = perStreamKb(before, after, live);
    const rssKb = perStreamKb(before, after, (m) => m.rss);
    const bareLiveKb = perStreamKb(bareBefore, bareAfter, live);
    const mb = (ms: NodeJS.MemoryUsage[], of: (m: NodeJS.MemoryUsage) => number) =>
      ms.map((m) => fmt(of(m) / MB)).join(' + ');
    log(
      `nodes' live memory (heap used + external, after a full GC) ${mb(before, live)} MB before the streams, ${mb(after, live)} MB with ${DEVICES}: ${fmt(liveKb)} KiB per held stream (bare broadcaster: ${fmt(bareLiveKb)} KiB); RSS ${mb(before, (m) => m.rss)} -> ${mb(after, (m) => m.rss)} MB (${fmt(rssKb)} KiB per stream)`,
    );

    const all = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const bareAll = bareRounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const missing = rounds.reduce((n, r) => n + r.missing, 0);
    const p99 = percentile(all, 99);
    const baseP99 = percentile(bareAll, 99);
    summary({
      name: 'fanout',
      figure: `${DEVICES * ROUNDS - missing}/${DEVICES * ROUNDS} received over ${ROUNDS} changes, ${describe(all)}, ${fmt(liveKb)} KiB live memory per held stream (2 nodes, PostgreSQL)`,
      baseline: `${describe(bareAll)} (bare broadcast of the same frame to ${DEVICES} raw HTTP streams, 2 processes)`,
      ratio: p99 / baseP99,
      target: `all received, p99 <= ${TARGET_P99_MS} ms (ratio = p99 / baseline p99)`,
      pass: missing === 0 && p99 <= TARGET_P99_MS,
    });
  } finally {
    for (const c of children) await c.stop();
    for (const n of nodes) await n.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (ROLE === 'clients') await clientsChild();
else if (ROLE === 'bare') await bareChild();
else await main();
