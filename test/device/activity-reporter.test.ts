import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { ActivityReporter } from '../../src/device/link/activity-reporter.ts';
import { MobileApiError } from '../../src/device/link/mobile-client.ts';
import type { ActivityReport } from '../../src/protocol/index.ts';

/**
 * The reporter on a real device (real outbox, real deliveries to a real receiver), with `send`
 * standing in for the server: what it sends, when, and what it does when sending fails.
 */
async function setup(answer: (report: ActivityReport, index: number) => Promise<void> = async () => {}) {
  const receiver = await new TestReceiver().start();
  const device = await startTestDevice();
  const sent: { at: number; report: ActivityReport }[] = [];
  const logs: string[] = [];
  const reporter = new ActivityReporter({
    outbox: device.context.outbox,
    webhooks: device.context.webhooks,
    clock: device.context.clock,
    send: (report) => {
      sent.push({ at: performance.now(), report });
      return answer(report, sent.length - 1);
    },
    log: (line) => logs.push(line),
  });
  const offs = [
    device.context.events.onEvent((e) => reporter.noteEvent(e)),
    device.context.observability.onAttempt((n) => reporter.noteAttempt(n)),
    device.context.webhooks.onChange((source) => source === 'Local' && reporter.noteLocalWebhooksChanged()),
  ];
  return {
    receiver,
    device,
    reporter,
    sent,
    logs,
    /** the deliveries sent so far, by id: the state each report gave */
    delivered: () => sent.flatMap((s) => s.report.deliveries ?? []),
    async stop() {
      for (const off of offs) off();
      await reporter.stop();
      await device.cleanup();
      await receiver.stop();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('idle: one report on start (the Local list), then nothing until something happens; reports at most every 500 ms, each delivery as it is at send time', async () => {
  const t = await setup();
  try {
    t.reporter.start();
    await eventually(() => t.sent.length === 1, 'the first report');
    assert.deepEqual(t.sent[0].report, { webhooks: [] }, 'only the (empty) Local list: no deliveries, no events');
    await sleep(1200);
    assert.equal(t.sent.length, 1, 'nothing sent while idle');

    const hook = await t.device.api.call('POST', '/webhooks', { url: `${t.receiver.url}/hook`, event: 'sms:received' });
    for (let i = 0; i < 20; i++)
      await t.device.context.carrier.receive({ from: '+15550001', text: `burst ${i}`, simNumber: 1 });
    await t.receiver.waitFor(20);
    const ids = new Set(
      (await t.device.api.call('GET', '/deliveries?limit=50')).body.items.map((d: { id: string }) => d.id),
    );
    await eventually(
      () =>
        t.delivered().filter((d) => d.state === 'succeeded').length >= 20 &&
        new Set(
          t
            .delivered()
            .filter((d) => d.state === 'succeeded')
            .map((d) => d.id),
        ).size === 20,
      'every delivery reported succeeded',
    );
    const gaps = t.sent.slice(1).map((s, i) => s.at - t.sent[i].at);
    assert.ok(
      gaps.every((gap) => gap >= 450),
      `reports at least ~500 ms apart: ${gaps.map((g) => g.toFixed(0)).join(', ')}`,
    );
    assert.ok(t.sent.length <= 8, `a burst of 20 deliveries took few reports (${t.sent.length})`);
    for (const d of t.delivered()) assert.ok(ids.has(d.id));
    assert.deepEqual(
      t.sent.flatMap((s) => s.report.events ?? []).map((e) => e.summary.message),
      Array.from({ length: 20 }, (_, i) => `burst ${i}`),
      'every event once, in order',
    );
    const local = t.sent.find((s) => s.report.webhooks?.length);
    assert.deepEqual(
      local?.report.webhooks,
      [{ id: hook.body.id, url: `${t.receiver.url}/hook`, event: 'sms:received', deviceId: null }],
      'the Local list after it changed',
    );
    const settled = t.sent.length;
    await sleep(1200);
    assert.equal(t.sent.length, settled, 'idle again');
  } finally {
    await t.stop();
  }
});

test('a report that fails is sent again after a growing wait; one the server refuses (400) is dropped', async () => {
  let failures = 2;
  let refuse = false;
  const t = await setup(async () => {
    if (refuse) throw new MobileApiError(400, 'POST /device/activity: 400 invalid body');
    if (failures-- > 0) throw new Error('connect ECONNREFUSED');
  });
  try {
    await t.device.api.call('POST', '/webhooks', { url: `${t.receiver.url}/hook`, event: 'sms:received' });
    t.reporter.start();
    await t.device.context.carrier.receive({ from: '+15550002', text: 'kept until it gets through', simNumber: 1 });
    await t.receiver.waitFor(1);
    await eventually(() => t.sent.length >= 3 && t.logs.length >= 2, 'two failures and a success');
    await sleep(100);
    const [first, second, third] = t.sent;
    assert.ok(
      second.at - first.at >= 450 && third.at - second.at >= 950,
      `waits grow: ${(second.at - first.at).toFixed(0)} ms, then ${(third.at - second.at).toFixed(0)} ms`,
    );
    assert.deepEqual(
      third.report.events?.map((e) => e.summary.message),
      ['kept until it gets through'],
      'the event was kept for the report that got through',
    );
    assert.ok(third.report.webhooks, 'and the Local list');
    assert.match(t.logs[0], /activity report failed \(connect ECONNREFUSED\); next try in 500 ms/);

    refuse = true;
    const before = t.sent.length;
    await t.device.context.carrier.receive({ from: '+15550002', text: 'refused', simNumber: 1 });
    await eventually(() => t.logs.some((l) => /refused/.test(l)), 'the refusal logged');
    await sleep(1500);
    assert.equal(t.sent.length, before + 1, 'a refused report is not sent again');
  } finally {
    await t.stop();
  }
});

test('while reports cannot get through, the remembered deliveries are bounded: the oldest changes are forgotten, deliveries go on', async () => {
  const t = await setup(async () => {
    throw new Error('the server is away');
  });
  try {
    t.reporter.start();
    const notice = {
      attempt: 1,
      outcome: 'succeeded' as const,
      status: 200,
      error: null,
      durationMs: 1,
      url: 'https://e.com',
    };
    for (let i = 0; i < 10_050; i++) t.reporter.noteAttempt({ ...notice, deliveryId: `d-${i}` });
    const changed = (t.reporter as unknown as { changed: Map<string, unknown> }).changed;
    assert.ok(changed.size <= 10_000, `at most 10,000 remembered (${changed.size})`);
    assert.ok(changed.has('d-10049') && !changed.has('d-0'), 'the newest kept, the oldest forgotten');
    assert.equal(t.logs.filter((l) => /more than 10000 deliveries changed/.test(l)).length, 1, 'said once');
  } finally {
    await t.stop();
  }
});

test('a backlog goes out back to back: a full report is followed at once by the next, then the usual pause', async () => {
  // The first report is answered only once the backlog is there: one report at a time, so the 450
  // events wait whole, however slowly the machine takes them in.
  let backlogThere!: () => void;
  const gate = new Promise<void>((resolve) => (backlogThere = resolve));
  const t = await setup((_report, index) => (index === 0 ? gate : Promise.resolve()));
  try {
    t.reporter.start();
    await eventually(() => t.sent.length === 1, 'the first report');
    await t.device.api.call('POST', '/webhooks', { url: `${t.receiver.url}/hook`, event: 'sms:received' });
    // 450 events: 100 a report at most, so four full reports and one of 50
    for (let i = 0; i < 450; i++)
      await t.device.context.carrier.receive({ from: '+15550002', text: `backlog ${i}`, simNumber: 1 });
    await t.receiver.waitFor(450);
    assert.equal(t.sent.length, 1, 'nothing more sent while the first report was on its way');
    backlogThere();
    await eventually(() => t.sent.flatMap((s) => s.report.events ?? []).length === 450, 'every event reported', 15_000);
    const withEvents = t.sent.filter((s) => s.report.events?.length);
    assert.deepEqual(
      withEvents.slice(0, 4).map((s) => s.report.events!.length),
      [100, 100, 100, 100],
      'full reports first',
    );
    // without the backlog rule, 450 events would take five reports 500 ms apart (>= 2 s)
    const span = withEvents[4].at - withEvents[0].at;
    assert.ok(span < 1500, `the backlog went out back to back (${span.toFixed(0)} ms for five reports)`);
    assert.deepEqual(
      withEvents.flatMap((s) => s.report.events!).map((e) => e.summary.message),
      Array.from({ length: 450 }, (_, i) => `backlog ${i}`),
      'every event once, in order',
    );
  } finally {
    await t.stop();
  }
});
