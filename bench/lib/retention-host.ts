/**
 * The two devices of bench/retention.ts, one with a retention and one without, in one process of
 * their own with one receiver process, fed their events a slice at a time over IPC (forkIpc in
 * harness.ts), so that the benchmark can alternate them slice by slice on the same machine.
 *
 * One process for both, because two processes doing the same work differed by up to 59% in p99 for
 * a whole run, in either direction, drawn anew at each run (BENCHMARKS.md, the A/A runs of
 * 2026-12-06): whatever belongs to a process (its place on the machine, its heap, its receiver) now
 * falls on both devices alike. Their slices do not overlap, so one device is idle while the other
 * is measured, and each device's purge runs only in its own slices (hostDevice says why).
 *
 * Commands: `slice` runs the open loop of one device for one slice (its first slice adds the
 * warm-up's events, which are not measured) and answers once that slice's deliveries have arrived;
 * `finish` waits for the rest, stops both devices and answers with everything measured.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { now, openLoop, PASSWORD, registerWebhook, sleep, startBenchDevice, startReceiver } from './harness.ts';
import { DAY_MS } from '../../src/shared/retention.ts';
import { writeLockOf } from '../../src/shared/sqlite.ts';

/** The two devices of a run: the one whose purge is judged, and its baseline. */
export type DeviceName = 'retained' | 'baseline';

export interface HostedDeviceOptions {
  /** the three retention settings, in (scaled) days */
  retentionDays: number;
  /** `messages.log_lifetime_days`; null keeps messages */
  messagesDays: number | null;
  /** measured events in all its slices together */
  events: number;
}

export interface RetentionHostOptions {
  timeScale: number;
  rate: number;
  devices: Record<DeviceName, HostedDeviceOptions>;
}

/** What the host measured of one device, over its slices. */
export interface HostedDeviceResult {
  delivered: number;
  /** seconds from each slice's first due time to its last arrival, added up */
  activeSeconds: number;
  /** latencies in the order their events were due, and each one's due time */
  latencies: number[];
  dues: number[];
  /** each slice's first due time, in order */
  sliceStarts: number[];
  /** [seconds since the device started, bytes of device.db + WAL], every second */
  sizes: [number, number][];
  /** measured deliveries that had not arrived a minute after the last was due (a FAIL) */
  missing: number;
  /** receiver arrivals beyond the first of each delivery: retried attempts */
  repeats: number;
  worstLag: number;
  rows: Record<string, number>;
  /**
   * Rows that had outlived their retention by more than OVERDUE_GRACE_MS, counted at the end of each
   * slice: the worst slice's counts. Anything here means the purge fell behind (its ratio flatters).
   */
  overdue: Record<string, number>;
  /** how long each purge run took (ms), in the order they ended */
  purges: number[];
  /** purge runs the timer asked for while the device was not taking events, skipped (see hostDevice) */
  purgesSkipped: number;
  /** what the host process used in each measured slice (this device, its checkpoint thread, its carrier) */
  sliceUsage: SliceUsage[];
}

/**
 * One slice's use of the machine by the host process, from its first event to its end: the use of
 * the device whose slice it is, as the other is idle.
 */
export interface SliceUsage {
  events: number;
  /** CPU (ms) on all of the process's threads */
  userMs: number;
  systemMs: number;
  /** bytes handed to write(2), and bytes the kernel sent to the disk for it */
  writtenBytes: number;
  diskBytes: number;
  involuntarySwitches: number;
  /** CPU (ms) of the event loop's thread, of the busiest other thread (the checkpoint thread), of the rest */
  threadsMs: { loop: number; busiestOther: number; rest: number };
  /** bytes handed to write(2) by the event loop's thread, and by the others */
  threadsWritten: { loop: number; others: number };
  /** times the WAL started over */
  walRestarts: number;
  /** how long the purge thread's batches took (ms), and how many there were */
  purgeBatchMs: number;
  purgeBatches: number;
  /** how long the event loop waited for the write lock while a batch committed (ms), and how often */
  lockWaitMs: number;
  lockWaits: number;
  /** the event loop's delay, p99 and max (ms) */
  loopP99: number;
  loopMax: number;
}

/** A counter of a /proc `io` file (`wchar: 123` lines); 0 when it is not there. */
const ioField = (text: string, name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

/** This process's I/O counters (Linux); zeros where /proc is not there. */
function ioCounters(): { wchar: number; writeBytes: number } {
  try {
    const text = readFileSync('/proc/self/io', 'utf8');
    return { wchar: ioField(text, 'wchar'), writeBytes: ioField(text, 'write_bytes') };
  } catch {
    return { wchar: 0, writeBytes: 0 };
  }
}
/** CPU (ms) and bytes written of each of this process's threads, by thread id (Linux). */
function threadCounters(): Map<string, { cpuMs: number; written: number }> {
  const counters = new Map<string, { cpuMs: number; written: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        // utime and stime, in clock ticks (1/100 s), are the 12th and 13th fields after the name
        const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
        const written = ioField(readFileSync(`/proc/self/task/${tid}/io`, 'utf8'), 'wchar');
        counters.set(tid, { cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, written });
      } catch {
        // the thread ended in between
      }
    }
  } catch {
    // no /proc
  }
  return counters;
}
function threadUsage(before: Map<string, { cpuMs: number; written: number }>) {
  const after = threadCounters();
  const loopTid = String(process.pid);
  const others: { cpuMs: number; written: number }[] = [];
  let loop = { cpuMs: 0, written: 0 };
  for (const [tid, now] of after) {
    const was = before.get(tid) ?? { cpuMs: 0, written: 0 };
    const used = { cpuMs: now.cpuMs - was.cpuMs, written: now.written - was.written };
    if (tid === loopTid) loop = used;
    else others.push(used);
  }
  others.sort((a, b) => b.cpuMs - a.cpuMs);
  const sum = (list: { cpuMs: number; written: number }[], key: 'cpuMs' | 'written') =>
    list.reduce((total, used) => total + used[key], 0);
  return {
    threadsMs: { loop: loop.cpuMs, busiestOther: others[0]?.cpuMs ?? 0, rest: sum(others.slice(1), 'cpuMs') },
    threadsWritten: { loop: loop.written, others: sum(others, 'written') },
  };
}
/**
 * How many times the WAL has started over: the checkpoint sequence number in its header (bytes
 * 12–15, big-endian), which SQLite increments at each restart, after a checkpoint copied every frame.
 */
function walRestarts(dir: string): number {
  try {
    const fd = openSync(join(dir, 'device.db-wal'), 'r');
    try {
      const header = Buffer.alloc(16);
      return readSync(fd, header, 0, 16, 0) === 16 ? header.readUInt32BE(12) : 0;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}
const options = JSON.parse(process.env.BENCH_RETENTION_HOST!) as RetentionHostOptions;
const receiver = await startReceiver({ record: true });
const offset = await receiver.clockOffset();
const started = now();

/**
 * A purge runs every second and removes 2,500 rows a second or more, so a row this far past its
 * retention means it has fallen behind.
 */
const OVERDUE_GRACE_MS = 5_000;

/** One device of the two, with what the host measures of it. */
async function hostDevice(hosted: HostedDeviceOptions) {
  const device = await startBenchDevice({ timeScale: options.timeScale });
  const settings = await fetch(`${device.url}/settings`, {
    method: 'PATCH',
    headers: {
      authorization: 'Basic ' + Buffer.from(`sms:${PASSWORD}`).toString('base64'),
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      webhooks: { log_lifetime_days: hosted.retentionDays },
      messages: { log_lifetime_days: hosted.messagesDays },
      logs: { lifetime_days: hosted.retentionDays },
    }),
  });
  if (settings.status !== 200) throw new Error(`PATCH /settings: ${settings.status} ${await settings.text()}`);
  await registerWebhook(device, `${receiver.url}/hook`);

  const retentionMs = (days: number) => days * DAY_MS * options.timeScale;
  const { db } = device.context;
  const count = (sql: string) => db.prepare<{ cutoff: number }>(sql).pluck();
  const overdueStatements = {
    deliveries: count(`SELECT count(*) FROM deliveries WHERE state <> 'pending' AND updated_at < :cutoff`),
    attempts: count(`SELECT count(*) FROM attempts WHERE started_at < :cutoff`),
    inbox: count(`SELECT count(*) FROM inbox WHERE received_at < :cutoff`),
  };
  let overdue: Record<string, number> = {};
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
  function countOverdue(): void {
    const at = device.context.clock.now() - OVERDUE_GRACE_MS;
    const logCutoff = at - retentionMs(hosted.retentionDays);
    const counts: Record<string, number> = {
      deliveries: overdueStatements.deliveries.get({ cutoff: logCutoff }) as number,
      attempts: overdueStatements.attempts.get({ cutoff: logCutoff }) as number,
    };
    if (hosted.messagesDays !== null)
      counts.inbox = overdueStatements.inbox.get({ cutoff: at - retentionMs(hosted.messagesDays) }) as number;
    if (total(counts) >= total(overdue)) overdue = counts;
  }

  // The purge runs only while its device takes events: both devices share this process and its
  // two cores, so a purge run in the other device's slice (its thread's CPU, the event loop's
  // waits for its commits) would cost that device's latency. The device
  // still purges every second of its own slices (its timer), and what expired while it was idle
  // waits for its next slice: each row is purged once, and within a slice of its device.
  let emitting = false;
  let purgesSkipped = 0;
  let purgeRun: Promise<unknown> | null = null;
  const purges: number[] = [];
  const purger = device.context.retention;
  const lock = writeLockOf(db)!;
  /** the purge thread's batches, and the event loop's waits for them, so far */
  const purgeCounters = () => ({
    batchMs: purger.threadBatches.ms,
    batches: purger.threadBatches.count,
    lockWaitMs: lock.waits.ms,
    lockWaits: lock.waits.count,
  });
  const purge = purger.purge.bind(purger);
  purger.purge = () => {
    if (!emitting) {
      purgesSkipped++;
      return Promise.resolve({ deliveries: 0, attempts: 0, messages: 0, received: 0 });
    }
    const started = now();
    const run = purge().finally(() => purges.push(now() - started));
    purgeRun = run;
    return run;
  };

  const fileSize = () =>
    ['device.db', 'device.db-wal'].reduce((sum, name) => {
      try {
        return sum + statSync(join(device.dir, name)).size;
      } catch {
        return sum;
      }
    }, 0);
  const sizes: [number, number][] = [];

  const sliceUsage: SliceUsage[] = [];
  const due = new Map<string, number>();
  const warmIds = new Set<string>();
  const latencies = new Float64Array(hosted.events);
  const dues = new Float64Array(hosted.events);
  const sliceStarts: number[] = [];
  let measured = 0;
  let repeats = 0;
  let worstLag = 0;
  let activeSeconds = 0;
  let sliceLastArrival = 0;
  let emitted = 0;
  /** events handed to the carrier whose delivery id is not known yet */
  let unresolved = 0;

  return {
    sampleSize: () => sizes.push([(now() - started) / 1000, fileSize()]),
    /** Whether this delivery is one of this device's, counting its arrival if so. */
    arrived(id: string, arrival: number): boolean {
      const dueAt = due.get(id);
      if (dueAt === undefined) return warmIds.delete(id);
      due.delete(id);
      const at = arrival - offset;
      dues[measured] = dueAt;
      latencies[measured++] = at - dueAt;
      sliceLastArrival = Math.max(sliceLastArrival, at);
      return true;
    },
    /** an arrival of a delivery that had arrived before: a retried attempt */
    repeated: () => repeats++,
    /** whether a measured delivery emitted so far has yet to arrive */
    waiting: () => due.size > 0 || unresolved > 0,

    async slice(events: number, warm: number): Promise<void> {
      const cpuBefore = process.cpuUsage();
      const ioBefore = ioCounters();
      const switchesBefore = process.resourceUsage().involuntaryContextSwitches;
      const threadsBefore = threadCounters();
      const purgeBefore = purgeCounters();
      const restartsBefore = walRestarts(device.dir);
      const sliceLoop = monitorEventLoopDelay({ resolution: 1 });
      sliceLoop.enable();
      let firstDue = Infinity;
      sliceLastArrival = 0;
      emitting = true;
      const lag = await openLoop(warm + events, options.rate, (i, dueAt) => {
        const measure = i >= warm && emitted < hosted.events;
        if (measure) {
          emitted++;
          firstDue = Math.min(firstDue, dueAt);
        }
        unresolved++;
        void device.context.carrier
          .receive({ from: '+15550000000', text: `retention probe ${i}`, simNumber: 1 })
          .then(({ deliveryIds }) => (measure ? due.set(deliveryIds[0], dueAt) : warmIds.add(deliveryIds[0])))
          .finally(() => unresolved--);
      });
      emitting = false;
      worstLag = Math.max(worstLag, lag);
      // the slice ends when its deliveries have arrived (or 10 s on) and its last purge run has
      // ended, so that neither runs into the other device's slice
      await settle(10_000);
      await purgeRun;
      sliceLoop.disable();
      const cpu = process.cpuUsage(cpuBefore);
      const io = ioCounters();
      if (events > 0) {
        sliceUsage.push({
          events,
          userMs: cpu.user / 1000,
          systemMs: cpu.system / 1000,
          writtenBytes: io.wchar - ioBefore.wchar,
          diskBytes: io.writeBytes - ioBefore.writeBytes,
          involuntarySwitches: process.resourceUsage().involuntaryContextSwitches - switchesBefore,
          ...threadUsage(threadsBefore),
          walRestarts: walRestarts(device.dir) - restartsBefore,
          purgeBatchMs: purgeCounters().batchMs - purgeBefore.batchMs,
          purgeBatches: purgeCounters().batches - purgeBefore.batches,
          lockWaitMs: purgeCounters().lockWaitMs - purgeBefore.lockWaitMs,
          lockWaits: purgeCounters().lockWaits - purgeBefore.lockWaits,
          loopP99: sliceLoop.percentile(99) / 1e6,
          loopMax: sliceLoop.max / 1e6,
        });
      }
      countOverdue();
      if (firstDue !== Infinity) {
        sliceStarts.push(firstDue);
        activeSeconds += (sliceLastArrival - firstDue) / 1000;
      }
    },

    result(): HostedDeviceResult {
      sizes.push([(now() - started) / 1000, fileSize()]);
      const rowCount = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
      return {
        delivered: measured,
        activeSeconds,
        latencies: Array.from(latencies.subarray(0, measured)),
        dues: Array.from(dues.subarray(0, measured)),
        sliceStarts,
        sizes,
        missing: due.size,
        repeats,
        worstLag,
        rows: Object.fromEntries(['deliveries', 'attempts', 'inbox'].map((t) => [t, rowCount(t)])),
        overdue,
        purges,
        purgesSkipped,
        sliceUsage,
      };
    },
    stop: () => device.cleanup(),
  };
}

const devices = {
  retained: await hostDevice(options.devices.retained),
  baseline: await hostDevice(options.devices.baseline),
};
/** the device whose slice runs, or ran last: an arrival no device is waiting for is its retry */
let current: DeviceName = 'retained';

const take = async () => {
  const { ids, arrivals } = await receiver.drain();
  for (let i = 0; i < ids.length; i++)
    if (!devices.retained.arrived(ids[i], arrivals[i]) && !devices.baseline.arrived(ids[i], arrivals[i]))
      devices[current].repeated();
};
const sampler = setInterval(() => Object.values(devices).forEach((d) => d.sampleSize()), 1000);
const drainer = setInterval(() => void take(), 2000);

/** Waits until every measured delivery emitted so far has arrived, or `ms` have passed. */
async function settle(ms: number): Promise<void> {
  const deadline = now() + ms;
  while (Object.values(devices).some((d) => d.waiting()) && now() < deadline) {
    await sleep(100);
    await take();
  }
}

async function finish(): Promise<Record<DeviceName, HostedDeviceResult>> {
  await settle(60_000);
  clearInterval(sampler);
  clearInterval(drainer);
  const results = { retained: devices.retained.result(), baseline: devices.baseline.result() };
  for (const device of Object.values(devices)) await device.stop();
  await receiver.stop();
  return results;
}

type Command = { type: 'slice'; device: DeviceName; events: number; warm: number } | { type: 'finish' };

process.on('message', (message: Command & { rid: number }) => {
  let work: Promise<object>;
  if (message.type === 'slice') {
    current = message.device;
    work = devices[message.device].slice(message.events, message.warm).then(() => ({}));
  } else work = finish();
  void work.then(
    (body) => process.send!({ rid: message.rid, ...body }),
    (error: Error) => process.send!({ rid: message.rid, error: error.stack ?? String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ rid: 0 });
