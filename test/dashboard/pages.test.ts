import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { TestReceiver } from '../helpers/receiver.ts';
import { eventually, tempDir } from '../helpers/device.ts';
import { basic, call as httpCall, type Spawned } from '../server/helpers.ts';
import { DESKTOP, LoggedInPages, OUTPUT, PHONE, TIMEOUT, fitsPhone, launch, open, shot, startUp } from './browser.ts';
import { verifyWebhook } from '../../src/receiver/index.ts';

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

test(
  "dashboard pages on both runtimes: the Overview charts real deliveries and names the failing webhook; a webhook test event arrives signed; Edit replaces a webhook; Messages lists each recipient's state and filters",
  { timeout: 150_000 },
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    receiver.responder = (request) => (request.path === '/down' ? 500 : 200);
    let up: Spawned | undefined;
    let browser: Browser | undefined;
    let pages: LoggedInPages | undefined;
    try {
      up = await startUp(dir.path);
      const { thirdPartyUrl, login, password, deviceUrl, deviceUsername, devicePassword } = up.ready;
      const serverUrl = new URL(thirdPartyUrl).origin;
      const deviceAuth = basic(deviceUsername, devicePassword);
      const call = (method: string, path: string, body?: unknown) =>
        httpCall(`${deviceUrl}${path}`, method, { auth: deviceAuth, body });
      for (const path of ['/up', '/down'])
        assert.equal(
          (await call('POST', '/webhooks', { url: `${receiver.url}${path}`, event: 'sms:received' })).status,
          201,
        );
      for (let i = 0; i < 3; i++)
        assert.equal((await call('POST', '/sim/v1/incoming', { from: '+15551234567', text: `hi ${i}` })).status, 202);
      await receiver.waitFor(8, TIMEOUT); // 3 answered, and the failing ones tried again

      browser = await launch();
      pages = new LoggedInPages(browser);
      const newPage = (user: string, pass: string) => pages!.open(user, pass);

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
        await page.setViewportSize(PHONE);
        await page.locator('[data-testid="chart-attempts"] .u-over').waitFor({ timeout: TIMEOUT });
        await fitsPhone(page, `${runtime} Overview`);
        await shot(page, `${runtime}-overview-375`);
      }

      // ---- Webhooks: a test event through the real outbox, signed, and its attempt on the page
      const serverAuth = basic(login, password);
      const get = async (base: string, auth: string, path: string) =>
        (await fetch(`${base}${path}`, { headers: { authorization: auth } })).json();
      const pings = (path: string) =>
        receiver.requests.filter((r) => r.path === path && JSON.parse(r.rawBody).event === 'system:ping');
      const assertSigned = (path: string, key: string) => {
        const ping = pings(path).at(-1)!;
        assert.deepEqual(verifyWebhook(key, ping.rawBody, ping.headers), { ok: true }, `${path}: signed with the key`);
        assert.ok(JSON.parse(ping.rawBody).payload.health.status, 'a system:ping payload: the health document');
      };

      const devicePage = await newPage(deviceUsername, devicePassword);
      await devicePage.goto(`${deviceUrl}/#/webhooks`);
      await devicePage.locator('main h2', { hasText: 'Webhooks' }).waitFor({ timeout: TIMEOUT });
      const upRow = devicePage.locator('[data-testid="local-webhooks"] [data-testid="webhook-row"]', {
        hasText: `${receiver.url}/up`,
      });
      await upRow.locator('button', { hasText: 'Send test event' }).click();
      await upRow.locator('[data-testid="test-result"] [data-testid="attempt-status"]', { hasText: '200' }).waitFor({
        timeout: TIMEOUT,
      });
      assert.equal(pings('/up').length, 1, 'the receiver got one system:ping');
      assertSigned('/up', (await get(deviceUrl, deviceAuth, '/settings')).webhooks.signing_key);
      await shot(devicePage, 'device-webhooks-test');
      // Edit: the form takes the webhook, and saving posts the same id with the new URL
      await upRow.locator('button', { hasText: 'Edit' }).click();
      await devicePage.locator('[data-testid="editing"]').waitFor({ timeout: TIMEOUT });
      assert.equal(await devicePage.inputValue('input[name="url"]'), `${receiver.url}/up`);
      const upId = await upRow.getAttribute('data-webhook-id');
      await devicePage.fill('input[name="url"]', `${receiver.url}/up-edited`);
      await devicePage.click('button[type="submit"]');
      await devicePage
        .locator(`[data-testid="webhook-row"][data-webhook-id="${upId}"]`, { hasText: '/up-edited' })
        .waitFor({ timeout: TIMEOUT });
      const localHooks = await get(deviceUrl, deviceAuth, '/webhooks');
      assert.deepEqual(
        localHooks.filter((h: { id: string }) => h.id === upId).map((h: { url: string }) => h.url),
        [`${receiver.url}/up-edited`],
        'the same id, replaced',
      );
      assert.equal(localHooks.length, 2, 'no webhook added');
      await devicePage.setViewportSize(PHONE);
      await fitsPhone(devicePage, 'device Webhooks');
      await shot(devicePage, 'device-webhooks-test-375');

      // the server: a Cloud webhook made in the page, then its test event, sent by the device
      const serverPage = await newPage(login, password);
      await serverPage.goto(`${serverUrl}/#/webhooks`);
      await serverPage.locator('main h2', { hasText: 'Webhooks' }).waitFor({ timeout: TIMEOUT });
      await serverPage.fill('input[name="url"]', `${receiver.url}/cloud`);
      await serverPage.selectOption('select[name="event"]', 'sms:sent');
      await serverPage.click('button[type="submit"]');
      const cloudRow = serverPage.locator('[data-testid="cloud-webhooks"] [data-testid="webhook-row"]', {
        hasText: `${receiver.url}/cloud`,
      });
      await cloudRow.waitFor({ timeout: TIMEOUT });
      await eventually(
        async () => (await get(deviceUrl, deviceAuth, '/dashboard/overview')).webhooks.cloud.length === 1,
        'the device to sync the Cloud webhook',
        TIMEOUT,
        100,
      );
      await cloudRow.locator('button', { hasText: 'Send test event' }).click();
      await cloudRow.locator('[data-testid="test-result"]', { hasText: 'Asked device' }).waitFor({ timeout: TIMEOUT });
      await cloudRow.locator('[data-testid="test-result"] [data-testid="attempt-status"]', { hasText: '200' }).waitFor({
        timeout: TIMEOUT,
      });
      assert.equal(pings('/cloud').length, 1);
      // the device signs what it delivers, Cloud webhooks too (the server never shows the key)
      assertSigned('/cloud', (await get(deviceUrl, deviceAuth, '/settings')).webhooks.signing_key);
      await shot(serverPage, 'server-webhooks-test');
      await cloudRow.locator('button', { hasText: 'Edit' }).click();
      await serverPage.fill('input[name="url"]', `${receiver.url}/cloud-edited`);
      await serverPage.click('button[type="submit"]');
      await serverPage
        .locator('[data-testid="cloud-webhooks"] [data-testid="webhook-row"]', { hasText: '/cloud-edited' })
        .waitFor({ timeout: TIMEOUT });
      const cloudHooks = await get(thirdPartyUrl, serverAuth, '/webhooks');
      assert.deepEqual(
        cloudHooks.map((h: { url: string; event: string }) => [h.url, h.event]),
        [[`${receiver.url}/cloud-edited`, 'sms:sent']],
      );
      await serverPage.setViewportSize(PHONE);
      await fitsPhone(serverPage, 'server Webhooks');
      await shot(serverPage, 'server-webhooks-test-375');

      // ---- Messages: one delivered and one failed per runtime (the carrier fails +15550000001)
      // ids: "<runtime> hello" names the card by its id, since a final message's text is hashed on the server
      const send = async (base: string, auth: string, path: string, text: string, to: string) => {
        const reply = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ id: text.replace(' ', '-'), textMessage: { text }, phoneNumbers: [to] }),
        });
        assert.equal(reply.status, 202, await reply.text());
      };
      for (const [runtime, page, base, auth, path] of [
        ['device', devicePage, deviceUrl, deviceAuth, '/message'],
        ['server', serverPage, thirdPartyUrl, serverAuth, '/messages'],
      ] as const) {
        await send(base, auth, path, `${runtime} hello`, '+15557654321');
        await send(base, auth, path, `${runtime} doomed`, '+15550000001');
        await page.setViewportSize(DESKTOP);
        await open(page, 'Messages');
        const card = (text: string) =>
          page.locator(`[data-testid="message"][data-message-id="${text.replace(' ', '-')}"]`);
        await eventually(
          async () => {
            await page.locator('button', { hasText: 'Refresh' }).click();
            return (
              (await card(`${runtime} hello`).locator('[data-testid="recipient-state"]').innerText()) === 'Delivered' &&
              (await card(`${runtime} doomed`).locator('[data-testid="recipient-state"]').innerText()) === 'Failed'
            );
          },
          `${runtime}: the messages reach Delivered and Failed on the page`,
          TIMEOUT,
          300,
        );
        // the server keeps only a hash of a final message's number (and text)
        const number =
          runtime === 'device'
            ? '+15557654321'
            : createHash('sha256').update('+15557654321').digest('hex').slice(0, 16);
        assert.ok(
          (await card(`${runtime} hello`).innerText()).includes(number),
          `${runtime}: the card shows ${number}`,
        );
        if (runtime === 'server')
          assert.match(
            await card('server hello').locator('[data-testid="message-device"]').innerText(),
            /virtual device/,
          );
        await shot(page, `${runtime}-messages`);
        await page.selectOption('select[name="state"]', 'Failed');
        await card(`${runtime} hello`).waitFor({ state: 'detached', timeout: TIMEOUT });
        assert.deepEqual(
          await page.locator('[data-testid="message-state"]').allInnerTexts(),
          (await page.locator('[data-testid="message-state"]').allInnerTexts()).map(() => 'Failed'),
        );
        await card(`${runtime} doomed`).waitFor({ timeout: TIMEOUT });
        // a time window after now matches nothing
        await page.fill('input[name="from"]', '2099-01-01T00:00');
        await page.locator('main', { hasText: 'No messages match.' }).waitFor({ timeout: TIMEOUT });
        await page.setViewportSize(PHONE);
        await page.fill('input[name="from"]', '');
        await page.selectOption('select[name="state"]', '');
        await card(`${runtime} hello`).waitFor({ timeout: TIMEOUT });
        await shot(page, `${runtime}-messages-375`);
        await fitsPhone(page, `${runtime} Messages`);
      }

      assert.deepEqual(pages.errors, [], 'no script errors');
    } finally {
      await pages?.close();
      await browser?.close();
      await up?.stop();
      await receiver.stop();
      dir.remove();
    }
  },
);
