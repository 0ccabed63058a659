import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { TEST_PASSWORD, startTestDevice } from '../helpers/device.ts';
import { newDevice, startTestServer } from '../server/helpers.ts';
import { STATE_RANK } from '../../src/protocol/index.ts';
import { LoggedInPages, OUTPUT, TIMEOUT, launch, shot } from './browser.ts';

const ROWS = 100_000;
const DAY_MS = 24 * 60 * 60_000;
/** What "a page renders its first view" must take at most, from navigation start. */
const FIRST_VIEW_MS = 1000;
/** Switching the Overview to the last day reads every row: allowed more, and recorded. */
const DAY_SWITCH_MS = 3000;

/**
 * Open every page on a fresh load and time, from navigation start, until it shows its data. The
 * password check (scrypt) is paid once per browser before, as by a user, not in a page.
 */
async function measurePages(page: Page, base: string, runtime: string) {
  const load = async (hash: string, ready: string, check?: () => Promise<void>) => {
    await page.goto('about:blank');
    await page.goto(`${base}/#/${hash}`);
    await page.locator(ready).first().waitFor({ state: 'attached', timeout: TIMEOUT });
    const ms = await page.evaluate(() => performance.now());
    await check?.();
    await shot(page, `scale-${runtime}-${hash}`);
    return Math.round(ms);
  };
  // A page over the limit is loaded again, up to three loads a second apart, and the fastest
  // counts: the suite runs two test files at once, and a burst of the other one can stall a load,
  // and the one right after it too (1,009 and 1,060 ms in one run, 311 ms alone); a slow page is
  // slow three times.
  const firstView = async (hash: string, ready: string, check?: () => Promise<void>) => {
    const loads = [await load(hash, ready, check)];
    while (Math.min(...loads) >= FIRST_VIEW_MS && loads.length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      loads.push(await load(hash, ready, check));
    }
    if (loads.length > 1) console.log(`${runtime} ${hash}: first view in ${loads.join(', then ')} ms`);
    return Math.min(...loads);
  };
  await page.goto(`${base}/#/devices`);
  await page.locator('[data-testid="device-row"]').first().waitFor({ timeout: TIMEOUT });
  const timings: Record<string, number> = {};
  timings.overview = await firstView('overview', '[data-testid="chart-attempts"] .u-over', async () => {
    const succeeded = Number(await page.locator('[data-testid="stat-succeeded"]').innerText());
    // the last hour holds about 1/24 of them
    assert.ok(succeeded > ROWS / 30 && succeeded < ROWS / 20, `${runtime}: succeeded in the last hour: ${succeeded}`);
    assert.match(await page.locator('[data-testid="failing-webhook"]').first().innerText(), /failing[\s\S]*HTTP 500/);
  });
  // the day: every row counts
  const started = performance.now();
  await page.locator('button', { hasText: 'Last day' }).click();
  await page
    .locator('[data-testid="chart-attempts"] .sr-only', { hasText: /^9\d{4} succeeded/ })
    .waitFor({ state: 'attached', timeout: TIMEOUT });
  const daySwitch = Math.round(performance.now() - started);
  timings.messages = await firstView('messages', '[data-testid="message"]', async () => {
    assert.match(await page.locator('[data-testid="message-count"]').innerText(), /^100\d{3} messages match/);
  });
  timings.deliveries = await firstView('deliveries', '[data-testid="delivery"]');
  timings.inbox = await firstView(
    'inbox',
    runtime === 'device' ? '[data-testid="inbox-message"]' : '[data-testid="refresh-form"]',
  );
  timings.devices = await firstView('devices', '[data-testid="device-row"]');
  timings.webhooks = await firstView('webhooks', '[data-testid="webhook-row"], [data-testid="cloud-webhooks"]');
  timings.live = await firstView('live', '[data-testid="live-feed"]');
  timings.send = await firstView('send', '[data-testid="send-log"]');
  timings.tokens = await firstView('tokens', '[data-testid="token-list"]');
  timings.settings = await firstView('settings', '[data-testid="settings-webhooks"]');
  console.log(
    `${runtime}: first view (ms from navigation start) with ${ROWS} rows; switch to the day ${daySwitch} ms:`,
    timings,
  );
  for (const [name, ms] of Object.entries(timings))
    assert.ok(ms < FIRST_VIEW_MS, `${runtime} ${name}: first view in ${ms} ms with ${ROWS} rows`);
  assert.ok(daySwitch < DAY_SWITCH_MS, `${runtime}: the day shown in ${daySwitch} ms`);
}

/**
 * Every dashboard page shows its first view within a second with 100,000 deliveries (each with an
 * attempt), 100,000 outgoing messages and 100,000 received ones in the device's real SQLite file,
 * spread over the last day, in a real chromium. The rows are written by SQL in one transaction (the
 * store's own write path would take minutes) and are all finished, so nothing acts on them.
 */
test(
  `every dashboard page shows its first view within ${FIRST_VIEW_MS} ms with ${ROWS.toLocaleString('en')} deliveries, messages and received messages`,
  { timeout: 60_000 },
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    // On the real clock: on the tests' fast one, the device's retention (webhook log 7 days, scaled
    // by 0.05 to 8.4 hours) purges the older rows while the pages are measured, and the day's count
    // falls below 90,000 if loads were retried (seen in CI: a day switch that never showed 9xxxx).
    const device = await startTestDevice({ timeScale: 1 });
    let browser: Browser | undefined;
    try {
      const { db } = device.context;
      const now = Date.now();
      const filled = performance.now();
      db.transaction(() => {
        const params = { rows: ROWS, now, step: Math.floor(DAY_MS / ROWS) };
        // i = 1 is the newest, written last: seq follows creation, as the outbox writes deliveries and
        // the Overview finds its window (device migration 0016); one in 50 failed, to a webhook of its own
        db.prepare(
          `WITH RECURSIVE n(i) AS (SELECT :rows UNION ALL SELECT i - 1 FROM n WHERE i > 1)
           INSERT INTO deliveries (id, event_id, event, webhook_source, webhook_id, url, body, state, attempts,
                                   next_attempt_at, created_at, updated_at, last_status, last_error)
           SELECT 'bulk-' || i, 'bulk-event', 'sms:received', 'Local',
                  CASE WHEN i % 50 = 0 THEN 'bulk-failing' ELSE 'bulk-' || (i % 5) END,
                  CASE WHEN i % 50 = 0 THEN 'http://127.0.0.1:9/failing' ELSE 'http://127.0.0.1:9/ok' END,
                  '{"event":"sms:received"}',
                  CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END, 1,
                  :now - i * :step, :now - i * :step, :now - i * :step + 40,
                  CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END,
                  CASE WHEN i % 50 = 0 THEN 'HTTP 500' END
             FROM n`,
        ).run(params);
        // as the outbox records them: a success on the delivery's row, a failure as a row of attempts
        db.prepare(
          `UPDATE deliveries SET success_started_at = created_at, success_duration_ms = 5 + seq % 200,
                                 success_response_preview = 'ok'
            WHERE event_id = 'bulk-event' AND state = 'succeeded'`,
        ).run();
        db.prepare(
          `INSERT INTO attempts (delivery_seq, number, started_at, duration_ms, status, error, response_preview)
           SELECT seq, 1, created_at, 5 + seq % 200, last_status, last_error, 'ok' FROM deliveries
            WHERE event_id = 'bulk-event' AND state = 'failed'`,
        ).run();
        db.prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
           INSERT INTO messages (id, source, text, sim_number, with_delivery_report, valid_until, state, states,
                                 created_at, updated_at)
           SELECT 'bulk-' || i, 'Local', 'bulk message ' || i, 1, 1, NULL,
                  CASE WHEN i % 50 = 0 THEN 'Failed' ELSE 'Delivered' END,
                  json_object('Pending', :now - i * :step, 'Processed', :now - i * :step + 10,
                              'Sent', :now - i * :step + 20,
                              CASE WHEN i % 50 = 0 THEN 'Failed' ELSE 'Delivered' END, :now - i * :step + 30),
                  :now - i * :step, :now - i * :step + 30
             FROM n`,
        ).run(params);
        db.prepare(
          `INSERT INTO message_recipients (message_id, position, phone_number, state, error)
           SELECT id, 0, '+1555' || substr('000000' || rowid, -7), state,
                  CASE WHEN state = 'Failed' THEN 'RESULT_ERROR_GENERIC_FAILURE' END
             FROM messages WHERE id LIKE 'bulk-%'`,
        ).run();
        db.prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
           INSERT INTO inbox (id, type, message_id, sender, sim_number, text, received_at)
           SELECT 'bulk-in-' || i, 'SMS', 'bulk-in-' || i, '+1555' || substr('000000' || i, -7), 1,
                  'received ' || i, :now - i * :step
             FROM n`,
        ).run(params);
      })();
      const fillMs = Math.round(performance.now() - filled);
      const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      const successesOnRows = (
        db.prepare(`SELECT COUNT(*) AS n FROM deliveries WHERE success_started_at IS NOT NULL`).get() as { n: number }
      ).n;
      assert.ok(count('deliveries') >= ROWS && count('attempts') + successesOnRows >= ROWS, 'an attempt per delivery');
      assert.ok(count('messages') >= ROWS && count('inbox') >= ROWS);

      console.log(`device: ${ROWS} rows each written in ${fillMs} ms`);
      browser = await launch();
      const pages = new LoggedInPages(browser);
      const page = await pages.open(device.username, TEST_PASSWORD);
      await measurePages(page, device.url, 'device');
      assert.deepEqual(pages.errors, []);
    } finally {
      await browser?.close();
      await device.cleanup();
    }
  },
);

/**
 * The same on the server (SQLite): 100,000 reported deliveries with an attempt each and 100,000
 * messages with their states, written by SQL into its real server.db beside the running server.
 */
test(
  `every server dashboard page shows its first view within ${FIRST_VIEW_MS} ms with ${ROWS.toLocaleString('en')} deliveries and messages`,
  { timeout: 60_000 },
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const server = await startTestServer();
    let browser: Browser | undefined;
    const db = new Database(join(server.dataDir, 'server.db'));
    try {
      const phone = await newDevice(server, 'bulk phone');
      const deviceId = phone.registration.id;
      const userId = (db.prepare(`SELECT user_id FROM devices WHERE id = ?`).get(deviceId) as { user_id: string })
        .user_id;
      const now = Date.now();
      const params = { rows: ROWS, now, step: Math.floor(DAY_MS / ROWS), userId, deviceId };
      const filled = performance.now();
      db.pragma('busy_timeout = 5000');
      db.transaction(() => {
        db.prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
           INSERT INTO device_deliveries (device_id, id, user_id, event_id, event, webhook_source, webhook_id, url,
                                          state, attempts, next_attempt_at, last_status, last_error, created_at,
                                          updated_at, reported_at)
           SELECT :deviceId, 'bulk-' || i, :userId, 'event-' || i, 'sms:received', 'Cloud',
                  CASE WHEN i % 50 = 0 THEN 'bulk-failing' ELSE 'bulk-' || (i % 5) END,
                  CASE WHEN i % 50 = 0 THEN 'http://127.0.0.1:9/failing' ELSE 'http://127.0.0.1:9/ok' END,
                  CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END, 1, NULL,
                  CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END, CASE WHEN i % 50 = 0 THEN 'HTTP 500' END,
                  :now - i * :step, :now - i * :step + 40, :now - i * :step + 500
             FROM n`,
        ).run(params);
        db.prepare(
          `INSERT INTO device_attempts (device_id, delivery_id, number, started_at, duration_ms, status, error,
                                        response_preview, outcome)
           SELECT device_id, id, 1, created_at, 5 + seq % 200, last_status, last_error, 'ok',
                  CASE WHEN state = 'failed' THEN 'failed' ELSE 'succeeded' END
             FROM device_deliveries WHERE device_id = :deviceId`,
        ).run({ deviceId });
        db.prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
           INSERT INTO messages (user_id, id, device_id, text, sim_number, with_delivery_report, is_encrypted, priority,
                                 valid_until, state, state_rank, created_at, updated_at)
           SELECT :userId, 'bulk-' || i, :deviceId, 'bulk message ' || i, 1, 1, 0, 0, NULL,
                  CASE WHEN i % 50 = 0 THEN 'Failed' ELSE 'Delivered' END,
                  CASE WHEN i % 50 = 0 THEN :failedRank ELSE :deliveredRank END,
                  :now - i * :step, :now - i * :step + 30
             FROM n`,
        ).run({ ...params, failedRank: STATE_RANK.Failed, deliveredRank: STATE_RANK.Delivered });
        db.prepare(
          `INSERT INTO message_recipients (user_id, message_id, position, phone_number, state, state_rank, error)
           SELECT user_id, id, 0, '+1555' || substr('000000' || rowid, -7), state, state_rank,
                  CASE WHEN state = 'Failed' THEN 'RESULT_ERROR_GENERIC_FAILURE' END
             FROM messages WHERE user_id = :userId`,
        ).run({ userId });
        for (const [state, offset] of [
          ['Sent', 20],
          ['Delivered', 30],
        ] as const)
          db.prepare(
            `INSERT INTO message_states (user_id, message_id, state, at)
             SELECT user_id, id, CASE WHEN :state = 'Delivered' THEN state ELSE :state END, created_at + :offset
               FROM messages WHERE user_id = :userId`,
          ).run({ userId, state, offset });
      })();
      console.log(`server: ${ROWS} rows each written in ${Math.round(performance.now() - filled)} ms`);

      browser = await launch();
      const pages = new LoggedInPages(browser);
      const page = await pages.open(phone.login, phone.password);
      await measurePages(page, server.url, 'server');
      assert.deepEqual(pages.errors, []);
    } finally {
      db.close();
      await browser?.close();
      await server.cleanup();
    }
  },
);
