/**
 * The soak run's device: a real device (bench/lib/harness.ts startBenchDevice: SQLite file, Local
 * API, pino log to a file) in a process of its own, with an open-loop carrier inside it, as in
 * the latency benchmark: sms:received event i is due at t0 + i / rate and is emitted through
 * carrier.receive as soon as a 1 ms timer sees it due. Driven by soak.ts over IPC.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { attemptCounter, now, openLoop, registerWebhook, startBenchDevice } from '../lib/harness.ts';

const device = await startBenchDevice(JSON.parse(process.env.SOAK_DEVICE_OPTIONS ?? '{}'));
const { db, carrier } = device.context;
// Delivery ids and due times since the parent last took them: the parent keeps the run's records,
// so that they do not grow this process's memory, which the soak measures.
let ids: string[] = [];
let due: number[] = [];
const unfinished = db.prepare(`SELECT count(*) FROM deliveries WHERE state = 'pending'`).pluck(); // in-flight deliveries are pending rows too
const byState = db.prepare(`SELECT state, count(*) AS n FROM deliveries GROUP BY state`);
const attemptsCount = attemptCounter(db);
const loopDelay = monitorEventLoopDelay({ resolution: 1 });

// The JS heap in use just after the last full collection: what is alive, without the garbage and
// the room V8 keeps (heapTotal grows and shrinks by tens of MB on its own schedule).
let liveHeap = NaN;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) liveHeap = getHeapStatistics().used_heap_size;
  }
}).observe({ entryTypes: ['gc'] });

type Command = { rid: number; type: string; [key: string]: unknown };

async function run(rate: number, seconds: number): Promise<object> {
  const count = Math.round(rate * seconds);
  loopDelay.enable();
  const worstLag = await openLoop(count, rate, (i, dueAt) => {
    void carrier.receive({ from: '+15550000000', text: `soak message ${i}`, simNumber: 1 }).then(({ deliveryIds }) => {
      for (const id of deliveryIds) {
        ids.push(id);
        due.push(dueAt);
      }
    });
  });
  loopDelay.disable();
  return {
    events: count,
    worstLag,
    loopDelay: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
  };
}

async function handle(command: Command): Promise<object> {
  switch (command.type) {
    case 'register':
      return { webhookId: await registerWebhook(device, command.url as string) };
    case 'run':
      return run(command.rate as number, command.seconds as number);
    case 'unfinished':
      return { count: unfinished.get() };
    case 'stragglers':
      // Deliveries still queued after the drain: how many attempts each has had and when the next is due.
      return {
        rows: db
          .prepare(
            `SELECT id, attempts, next_attempt_at - ? AS dueInMs, last_error AS lastError FROM deliveries WHERE state = 'pending' LIMIT 20`,
          )
          .all(Date.now()),
      };
    case 'states':
      return {
        states: Object.fromEntries((byState.all() as { state: string; n: number }[]).map((r) => [r.state, r.n])),
        attempts: attemptsCount(),
      };
    case 'records': {
      const taken = { ids, due };
      ids = [];
      due = [];
      return taken;
    }
    case 'memory':
      return { ...process.memoryUsage(), liveHeap };
    case 'clock':
      return { now: now() };
    case 'stop':
      await device.cleanup();
      return {};
    default:
      throw new Error(`unknown command ${command.type}`);
  }
}

process.on('message', (command: Command) => {
  void handle(command).then(
    (body) => process.send!({ rid: command.rid, ...body }),
    (error: Error) => process.send!({ rid: command.rid, error: error.stack ?? String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ rid: 0, url: device.url });
