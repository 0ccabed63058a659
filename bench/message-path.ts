/**
 * The whole message path: from an integrator's send request to the `sms:delivered`
 * webhook, through a server and a linked device, against the device's Local API alone.
 *
 * Processes: `smsgate server` on SQLite (the CLI compiled, as an installed package runs it), one device
 * linked to it with the server's private token (bench/lib/device-host.ts, compiled: `startDevice`
 * with the same `link` options `smsgate device --server URL --server-token T` passes), and the
 * receiver (bench/lib/receiver.ts), each in its own process; this process only posts and measures.
 * The latency is also split at the `sms:sent` webhook, and the server's and the device's CPU per
 * message and the mobile API requests per message are printed: a loaded machine blurs latencies,
 * not those. BENCH_SERVER_CPU_PROF=<dir> and BENCH_DEVICE_CPU_PROF=<dir> write CPU profiles;
 * BENCH_KEEP=1 keeps the data directory, with the server's log of every request and its time.
 * BENCH_DUMP=<prefix> writes each open-loop message's times (since the loop's start, to sms:sent, to
 * sms:delivered, and its 202 in wall-clock ms) to <prefix>-<path>-<count>.json.
 *
 * The carrier: the virtual carrier's defaults (`smsgate device`) accept an SMS 20 ms after the
 * send queue hands it over and report it delivered 50 ms later. The queue hands over one message
 * at a time, as the app's send worker does, so those defaults cap a device at about 50 messages/s
 * and add 70 ms to every message. Here both delays are 0 (`carrierDelays`): a message is "sent" on
 * the next timer tick and "delivered" on the one after, so what is measured is the gateway (API,
 * storage, the link's push, pull and report, the send queue, the outbox and its webhooks). The
 * messages settings are the defaults: no send interval, no limit, no work hours.
 * SMSGATE_TIME_SCALE is not set (it scales retry delays and attempt timeouts, not the carrier).
 *
 * Webhooks: `sms:sent` and `sms:delivered` to the receiver, registered through the Local API for
 * the Local path and through the server's 3rdparty API (the device's Cloud list) for the server
 * path; each path's phases run with only its own pair registered, so a message makes two deliveries.
 *
 * Phases, each path in turn (Local first, then server), after a warm-up:
 *   - open loop: RATE messages/s (BENCH_RATE, default 200) for SECONDS (BENCH_SECONDS, default 20),
 *     each due at t0 + i/RATE whatever the answers did. Latency of a message: from the API's 202
 *     (as this process got it) to the `sms:delivered` webhook's arrival at the receiver (its clock,
 *     corrected by the measured offset). Figures: p50, p99, and messages/s (delivered / first post
 *     to last delivered).
 *   - sustained rate, closed loop: CLOSED messages (BENCH_CLOSED, default 2000) posted with
 *     CONCURRENCY (16) requests in flight, each sent when the one before it got its 202; the rate
 *     is CLOSED / (first post → last `sms:delivered` at the receiver), so it is what the whole path
 *     sustains end to end, not only what the API accepts.
 * Targets: p99 through the server <= 2x the Local path's p99 at RATE; the server's sustained rate
 * >= 0.5x the Local one. The summary line's ratio is the worse of the two, relative to its target.
 *
 *   node --import tsx bench/message-path.ts             (BENCH_SECONDS=10 for a short run)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import {
  fmt,
  log,
  now,
  openLoop,
  percentile,
  sleep,
  startDeviceHost,
  startReceiver,
  summary,
  PASSWORD,
  type DeviceHost,
  type ReceiverProcess,
} from './lib/harness.ts';
import { compiled } from './lib/compiled.ts';
import { startServerProcess, type ChildServer } from './server-api.ts';

const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CLOSED = Number(process.env.BENCH_CLOSED ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WARMUP = 200;
const DRAIN_TIMEOUT_MS = Number(process.env.BENCH_DRAIN_TIMEOUT_MS ?? 120_000);
const P99_TARGET = 2;
const RATE_TARGET = 0.5;
const PRIVATE_TOKEN = 'bench-message-path-token';
const EVENTS = ['sms:sent', 'sms:delivered'] as const;

type PathName = 'local' | 'server';

interface Path {
  name: PathName;
  pool: Pool;
  authorization: string;
  /** where messages are posted */
  sendPath: string;
  /** where webhooks are registered */
  webhooksPath: string;
}

async function call(path: Path, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<any> {
  const response = await path.pool.request({
    method,
    path: url,
    headers: {
      authorization: path.authorization,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${path.name}: ${method} ${url}: ${response.statusCode} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

let serial = 0;
/** One send request, the same on both paths (the device's own id in it is left out). */
function message(tag: string): { id: string; body: unknown } {
  const n = serial++;
  const id = `${tag}-${n}`;
  return {
    id,
    body: {
      id,
      textMessage: { text: `message path benchmark ${n}` },
      // +1555 0000001-4 are the carrier's magic numbers (refused, no report): these are not
      phoneNumbers: [`+1666${String(n % 10_000_000).padStart(7, '0')}`],
    },
  };
}

/** Post one message; resolves with the time its 202 came back. */
async function post(path: Path, body: unknown): Promise<number> {
  const response = await path.pool.request({
    method: 'POST',
    path: path.sendPath,
    headers: { authorization: path.authorization, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  const at = now();
  if (response.statusCode !== 202)
    throw new Error(`${path.name}: POST ${path.sendPath}: ${response.statusCode} ${text}`);
  return at;
}

/**
 * Wait until the receiver has `sms:sent` and `sms:delivered` for every id; returns each id's
 * `sms:delivered` arrival on this process's clock.
 */
async function arrivals(
  receiver: ReceiverProcess,
  ids: string[],
  offset: number,
): Promise<{ delivered: Map<string, number>; sent: Map<string, number> }> {
  const deadline = now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    if ((await receiver.count()) >= ids.length * EVENTS.length) {
      const records = await receiver.records();
      const delivered = new Map<string, number>();
      const sent = new Map<string, number>();
      records.ids.forEach((key, i) => {
        const [event, id] = key.split(' ');
        if (event === 'sms:delivered' && !delivered.has(id)) delivered.set(id, records.arrivals[i] - offset);
        if (event === 'sms:sent' && !sent.has(id)) sent.set(id, records.arrivals[i] - offset);
      });
      const missing = ids.filter((id) => !delivered.has(id) || !sent.has(id));
      if (missing.length === 0) return { delivered, sent };
    }
    if (now() > deadline) {
      const got = new Set((await receiver.records()).ids);
      const missing = ids.flatMap((id) => EVENTS.filter((e) => !got.has(`${e} ${id}`)).map((e) => `${e} ${id}`));
      throw new Error(
        `the receiver got ${got.size} of ${ids.length * EVENTS.length} webhooks within ${DRAIN_TIMEOUT_MS / 1000} s; ` +
          `missing ${missing.length}, e.g. ${missing.slice(0, 5).join(', ')}`,
      );
    }
    await sleep(20);
  }
}

interface OpenResult {
  p50: number;
  p99: number;
  max: number;
  /** the latency split at the sms:sent webhook */
  split: string;
  rate: number;
  lag: number;
}

async function openLoopRun(path: Path, receiver: ReceiverProcess, count: number, rate: number): Promise<OpenResult> {
  await receiver.reset();
  const offset = await receiver.clockOffset();
  const ids: string[] = [];
  const accepted: Promise<number>[] = [];
  let failure: Error | undefined;
  const started = now();
  const lag = await openLoop(count, rate, () => {
    const { id, body } = message(`${path.name}-open`);
    ids.push(id);
    accepted.push(
      post(path, body).catch((error: Error) => {
        failure ??= error;
        return NaN;
      }),
    );
  });
  const at202 = await Promise.all(accepted);
  if (failure) throw failure;
  const { delivered, sent } = await arrivals(receiver, ids, offset);
  const latencies = ids.map((id, i) => delivered.get(id)! - at202[i]).sort((a, b) => a - b);
  // where the time goes: before the carrier took the message, and after
  const toSent = ids.map((id, i) => sent.get(id)! - at202[i]).sort((a, b) => a - b);
  const sentToDelivered = ids.map((id) => delivered.get(id)! - sent.get(id)!).sort((a, b) => a - b);
  const last = Math.max(...delivered.values());
  if (process.env.BENCH_DUMP)
    writeFileSync(
      `${process.env.BENCH_DUMP}-${path.name}-${count}.json`,
      JSON.stringify(
        ids.map((id, i) => [
          at202[i] - started,
          sent.get(id)! - at202[i],
          delivered.get(id)! - at202[i],
          at202[i] + Date.now() - now(),
        ]),
      ),
    );
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1],
    split:
      `202 → sms:sent p50 ${fmt(percentile(toSent, 50))} ms p99 ${fmt(percentile(toSent, 99))} ms, ` +
      `sms:sent → sms:delivered p50 ${fmt(percentile(sentToDelivered, 50))} ms p99 ${fmt(percentile(sentToDelivered, 99))} ms`,
    rate: count / ((last - started) / 1000),
    lag,
  };
}

async function closedLoopRun(path: Path, receiver: ReceiverProcess, count: number): Promise<number> {
  await receiver.reset();
  const offset = await receiver.clockOffset();
  const ids: string[] = [];
  let next = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        next++;
        const { id, body } = message(`${path.name}-closed`);
        ids.push(id);
        await post(path, body);
      }
    }),
  );
  const intake = count / ((now() - started) / 1000);
  const { delivered } = await arrivals(receiver, ids, offset);
  const rate = count / ((Math.max(...delivered.values()) - started) / 1000);
  log(
    `${path.name}: closed loop, ${count} messages ${CONCURRENCY} at a time: API took ${fmt(intake)}/s, delivered ${fmt(rate)}/s`,
  );
  return rate;
}

async function registerHooks(path: Path, receiver: ReceiverProcess): Promise<string[]> {
  const ids: string[] = [];
  for (const event of EVENTS) {
    const { id } = await call(path, 'POST', path.webhooksPath, { url: `${receiver.url}/${path.name}`, event });
    ids.push(id);
  }
  return ids;
}

async function removeHooks(path: Path, ids: string[]): Promise<void> {
  for (const id of ids) await call(path, 'DELETE', `${path.webhooksPath}/${id}`);
}

/** CPU time a process has used, ms (Linux /proc: user + system, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The server's mobile API requests so far, by method and route (its /metrics, served to loopback). */
async function mobileRequests(serverUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${serverUrl}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^smsgate_http_requests_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!labels.route?.includes('/mobile/')) continue;
    const key = `${labels.method} ${labels.route}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(match[2]));
  }
  return counts;
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

const dir = mkdtempSync(join(tmpdir(), 'smsgate-bench-message-path-'));
let receiver: ReceiverProcess | undefined;
let server: ChildServer | undefined;
let device: DeviceHost | undefined;
const pools: Pool[] = [];
try {
  receiver = await startReceiver({ record: 'message' });
  // compiled, as an installed package runs (the device host is compiled too)
  server = await startServerProcess({
    db: `sqlite:${join(dir, 'server.db')}`,
    dir,
    privateToken: PRIVATE_TOKEN,
    bin: compiled('src/cli/main.ts'),
  });
  device = await startDeviceHost({
    link: { serverUrl: server.url, privateToken: PRIVATE_TOKEN, name: 'message path bench' },
    carrierDelays: { sendDelayMs: 0, reportDelayMs: 0 },
  });
  const account = device.ready.server;
  if (!account?.password) throw new Error('the device did not register a new server user');
  const local: Path = {
    name: 'local',
    pool: new Pool(device.ready.url, { connections: CONCURRENCY * 2 }),
    authorization: basic('sms', PASSWORD),
    sendPath: '/message',
    webhooksPath: '/webhooks',
  };
  const cloud: Path = {
    name: 'server',
    pool: new Pool(server.url, { connections: CONCURRENCY * 2 }),
    authorization: basic(account.login, account.password),
    sendPath: '/3rdparty/v1/messages',
    webhooksPath: '/3rdparty/v1/webhooks',
  };
  pools.push(local.pool, cloud.pool);
  const count = Math.round(RATE * SECONDS);

  const results = {} as Record<PathName, { open: OpenResult; sustained: number }>;
  for (const path of [local, cloud]) {
    const hooks = await registerHooks(path, receiver);
    // the warm-up also waits out the Cloud list's sync to the device: its messages need the hooks
    await openLoopRun(path, receiver, WARMUP, RATE);
    // CPU per message and the link's requests per message: what a loaded machine does not blur
    const cpuBefore = { server: cpuMs(server.child.pid!), device: cpuMs(device.child.pid!) };
    const requestsBefore = await mobileRequests(server.url);
    const open = await openLoopRun(path, receiver, count, RATE);
    const requestsAfter = await mobileRequests(server.url);
    log(
      `${path.name}: open loop, ${count} messages at ${RATE}/s: 202 → sms:delivered p50 ${fmt(open.p50)} ms, ` +
        `p99 ${fmt(open.p99)} ms, max ${fmt(open.max)} ms; ${fmt(open.rate)} messages/s; worst posting lag ${fmt(open.lag)} ms`,
    );
    log(`${path.name}: ${open.split}`);
    log(
      `${path.name}: CPU per message: server ${fmt((cpuMs(server.child.pid!) - cpuBefore.server) / count)} ms, ` +
        `device ${fmt((cpuMs(device.child.pid!) - cpuBefore.device) / count)} ms; mobile API requests per message: ` +
        ([...requestsAfter]
          .map(([route, n]) => [route, (n - (requestsBefore.get(route) ?? 0)) / count] as const)
          .filter(([, perMessage]) => perMessage > 0)
          .map(([route, perMessage]) => `${route} ${fmt(perMessage)}`)
          .join(', ') || 'none'),
    );
    const sustained = await closedLoopRun(path, receiver, CLOSED);
    results[path.name] = { open, sustained };
    await removeHooks(path, hooks);
  }

  const p99Ratio = results.server.open.p99 / results.local.open.p99;
  const rateRatio = results.server.sustained / results.local.sustained;
  const p99Pass = p99Ratio <= P99_TARGET;
  const ratePass = rateRatio >= RATE_TARGET;
  log(
    `p99 server/local ${fmt(p99Ratio)} (target <= ${P99_TARGET}); sustained rate server/local ${fmt(rateRatio)} (target >= ${RATE_TARGET})`,
  );
  const s = results.server;
  const l = results.local;
  summary({
    name: 'message-path',
    figure:
      `server path at ${RATE}/s: ${fmt(s.open.rate)} messages/s, 202 → sms:delivered p50 ${fmt(s.open.p50)} ms p99 ${fmt(s.open.p99)} ms; ` +
      `sustained ${fmt(s.sustained)} messages/s`,
    baseline: `Local API /message: ${fmt(l.open.rate)} messages/s, p50 ${fmt(l.open.p50)} ms p99 ${fmt(l.open.p99)} ms; sustained ${fmt(l.sustained)} messages/s`,
    // the worse of the two, each relative to its target (>= 1 passes)
    ratio: Math.min(P99_TARGET / p99Ratio, rateRatio / RATE_TARGET),
    target: `p99 <= ${P99_TARGET}x Local (${fmt(p99Ratio)}x), sustained >= ${RATE_TARGET}x Local (${fmt(rateRatio)}x)`,
    pass: p99Pass && ratePass,
  });
} finally {
  await Promise.all(pools.map((pool) => pool.close()));
  await device?.stop();
  await server?.stop();
  await receiver?.stop();
  // BENCH_KEEP=1: keep the data directory (the server's log has every request's time)
  if (process.env.BENCH_KEEP) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
