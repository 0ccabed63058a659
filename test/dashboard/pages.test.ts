import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TestReceiver } from '../helpers/receiver.ts';
import { eventually, tempDir } from '../helpers/device.ts';
import { spawnSmsgate, type Spawned } from '../server/helpers.ts';
import { OUTPUT, TIMEOUT, launch, shot } from './browser.ts';

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

/**
 * The values the chart's legend shows with the cursor on each of the last `minutes` minutes: uPlot
 * reads them from the data it drew, so a number here is a point on the canvas.
 */
async function chartValues(page: Page, testid: string, label: string, minutes = 4): Promise<number[]> {
  const chart = page.locator(`[data-testid="${testid}"]`);
  const over = chart.locator('.u-over');
  await over.waitFor({ timeout: TIMEOUT });
  const box = (await over.boundingBox())!;
  const step = box.width / 59; // an hour: 60 one-minute points across
  const values: number[] = [];
  for (let k = 0; k < minutes; k++) {
    await page.mouse.move(box.x + box.width - 1 - k * step, box.y + box.height / 2);
    const text = await chart.locator('.u-legend tr.u-series', { hasText: label }).locator('.u-value').innerText();
    values.push(Number(text.replace(/[^\d.]/g, '') || 0));
  }
  return values;
}

async function fitsPhone(page: Page, what: string): Promise<void> {
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `${what} fits 375 px without sideways scrolling (overflow ${overflow} px)`);
}

test(
  'dashboard pages on both runtimes: the Overview charts real deliveries and names the failing webhook',
  { timeout: 150_000 },
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    receiver.responder = (request) => (request.path === '/down' ? 500 : 200);
    let up: Spawned | undefined;
    let browser: Browser | undefined;
    const contexts: BrowserContext[] = [];
    const pageErrors: string[] = [];
    try {
      up = await spawnSmsgate(['up', '--data-dir', dir.path, '--port', '0', '--device-port', '0'], {
        timeoutMs: 30_000,
      });
      const { thirdPartyUrl, login, password, deviceUrl, deviceUsername, devicePassword } = up.ready;
      const serverUrl = new URL(thirdPartyUrl).origin;
      const deviceAuth = basic(deviceUsername, devicePassword);
      const call = async (method: string, path: string, body?: unknown) => {
        const reply = await fetch(`${deviceUrl}${path}`, {
          method,
          headers: { authorization: deviceAuth, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: reply.status, body: await reply.json() };
      };
      for (const path of ['/up', '/down'])
        assert.equal(
          (await call('POST', '/webhooks', { url: `${receiver.url}${path}`, event: 'sms:received' })).status,
          201,
        );
      for (let i = 0; i < 3; i++)
        assert.equal((await call('POST', '/sim/v1/incoming', { from: '+15551234567', text: `hi ${i}` })).status, 202);
      await receiver.waitFor(8, TIMEOUT); // 3 answered, and the failing ones tried again

      browser = await launch();
      const newPage = async (user: string, pass: string) => {
        const context = await browser!.newContext({
          httpCredentials: { username: user, password: pass },
          viewport: { width: 1280, height: 900 },
        });
        contexts.push(context);
        const page = await context.newPage();
        page.on('pageerror', (error) => pageErrors.push(error.message));
        return page;
      };

      for (const [runtime, url, user, pass] of [
        ['device', deviceUrl, deviceUsername, devicePassword],
        ['server', serverUrl, login, password],
      ] as const) {
        const page = await newPage(user, pass);
        await page.goto(`${url}/`);
        await page.locator('main h2', { hasText: 'Overview' }).waitFor({ timeout: TIMEOUT });
        // the server shows what the device reported (within about a second): the page refreshes itself
        await eventually(
          async () => Number(await page.locator('[data-testid="stat-succeeded"]').innerText()) >= 3,
          `${runtime}: three succeeded attempts on the Overview`,
          TIMEOUT,
          200,
        );
        assert.ok(Number(await page.locator('[data-testid="stat-retried"]').innerText()) >= 3);
        const succeeded = await chartValues(page, 'chart-attempts', 'succeeded');
        assert.equal(
          succeeded.reduce((a, b) => a + b, 0),
          Number(await page.locator('[data-testid="stat-succeeded"]').innerText()),
          `${runtime}: the chart's points of the last minutes hold every succeeded attempt (${succeeded})`,
        );
        const p99 = await chartValues(page, 'chart-latency', 'p99');
        assert.ok(
          p99.some((v) => v > 0),
          `${runtime}: a p99 point is drawn (${p99})`,
        );
        const failing = page.locator('[data-testid="failing-webhook"]');
        assert.equal(await failing.count(), 1);
        assert.match(await failing.innerText(), new RegExp(`${receiver.url}/down[\\s\\S]*HTTP 500`));
        // keyboard: the range buttons take focus and Enter
        await page.locator('button', { hasText: 'Last day' }).focus();
        await page.keyboard.press('Enter');
        await page.locator('button[aria-pressed="true"]', { hasText: 'Last day' }).waitFor({ timeout: TIMEOUT });
        await page.locator('button', { hasText: 'Last hour' }).click();
        await page.locator('button[aria-pressed="true"]', { hasText: 'Last hour' }).waitFor({ timeout: TIMEOUT });
        await shot(page, `${runtime}-overview`);
        await page.setViewportSize({ width: 375, height: 740 });
        await page.locator('[data-testid="chart-attempts"] .u-over').waitFor({ timeout: TIMEOUT });
        await fitsPhone(page, `${runtime} Overview`);
        await shot(page, `${runtime}-overview-375`);
      }
      assert.deepEqual(pageErrors, [], 'no script errors');
    } finally {
      for (const context of contexts) await context.close();
      await browser?.close();
      await up?.stop();
      await receiver.stop();
      dir.remove();
    }
  },
);
