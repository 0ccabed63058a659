import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice } from '../helpers/device.ts';

const DELIVERIES = 100_000;

/**
 * The dashboard stays responsive with 100,000 deliveries because every list it shows is a page
 * the device cuts in SQL (keyset on seq): each call it makes is timed here against a full store.
 */
test(
  `the dashboard's calls stay fast with ${DELIVERIES.toLocaleString('en')} deliveries in the store`,
  { timeout: 120_000 },
  async () => {
    const device = await startTestDevice();
    try {
      const { db, outbox } = device.context;
      const target = {
        source: 'Local' as const,
        webhookId: 'bulk',
        url: 'http://127.0.0.1:9/never',
        envelopeDeviceId: device.deviceId,
      };
      // Written and settled in one transaction, so the dispatcher never sees them pending.
      db.transaction(() => {
        for (let i = 0; i < DELIVERIES; i++)
          outbox.enqueue(
            'sms:received',
            {
              messageId: `m${i}`,
              message: `text ${i}`,
              phoneNumber: '+15550001111',
              simNumber: 1,
              receivedAt: '2025-01-01T00:00:00.000+07:00',
            },
            [target],
            Date.now(),
          );
        db.prepare(
          `UPDATE deliveries SET state = CASE WHEN seq % 100 = 0 THEN 'failed' ELSE 'succeeded' END, attempts = 1`,
        ).run();
      })();

      const timed = async (path: string) => {
        const started = performance.now();
        const reply = await device.api.call('GET', path);
        const ms = performance.now() - started;
        assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.body)?.slice(0, 200)}`);
        return { body: reply.body, ms };
      };
      const timings: Record<string, number> = {};
      // Log in once first: the password hash (scrypt) is paid once per client, not per page.
      assert.equal((await device.api.call('GET', '/device')).status, 200);
      const first = await timed('/deliveries?limit=20');
      timings.first = first.ms;
      assert.equal(first.body.items.length, 20);
      // walk 50 pages deep by cursor: each page costs the same
      let cursor = first.body.nextCursor;
      let deepest = 0;
      for (let page = 2; page <= 50; page++) {
        const next = await timed(`/deliveries?limit=20&before=${cursor}`);
        assert.equal(next.body.items.length, 20);
        assert.ok(next.body.nextCursor < cursor, 'cursors go back in time');
        cursor = next.body.nextCursor;
        deepest = Math.max(deepest, next.ms);
      }
      timings.deepPage = deepest;
      const failed = await timed('/deliveries?limit=20&state=failed');
      assert.ok(
        failed.body.items.every((d: { state: string }) => d.state === 'failed') && failed.body.items.length === 20,
      );
      timings.stateFilter = failed.ms;
      timings.webhookFilter = (await timed('/deliveries?limit=20&webhookId=bulk')).ms;
      // no index by webhook (device migration 0016): a webhook with no delivery walks them all
      const noHook = await timed('/deliveries?limit=20&webhookId=gone');
      assert.equal(noHook.body.items.length, 0);
      timings.webhookFilterNoMatch = noHook.ms;
      const none = await timed('/deliveries?limit=20&event=sms:failed'); // no match: the worst case, a full scan
      assert.equal(none.body.items.length, 0);
      timings.eventFilterNoMatch = none.ms;
      const overview = await timed('/dashboard/overview');
      assert.equal(overview.body.queue.succeeded + overview.body.queue.failed, DELIVERIES);
      timings.overview = overview.ms;
      timings.detail = (await timed(`/deliveries/${first.body.items[0].id}`)).ms;
      const started = performance.now();
      assert.equal((await fetch(`${device.url}/metrics`)).status, 200);
      timings.metrics = performance.now() - started;

      for (const [name, ms] of Object.entries(timings)) {
        assert.ok(ms < 1000, `${name} took ${Math.round(ms)} ms with ${DELIVERIES} deliveries`);
      }
      console.log(
        'dashboard calls with 100k deliveries (ms):',
        Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
      );
    } finally {
      await device.cleanup();
    }
  },
);
