import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { TestReceiver } from '../helpers/receiver.ts';
import { eventually, tempDir } from '../helpers/device.ts';
import type { Spawned } from '../server/helpers.ts';
import { OUTPUT, TIMEOUT, brokenCheckNames, launch, open, shot, startUp } from './browser.ts';

test(
  'dashboard against smsgate up: webhook, incoming SMS live and delivered, failing redelivery; the server shows what the device reports',
  { timeout: 150_000 },
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    let failing = false;
    receiver.responder = () => (failing ? 500 : 200);
    let up: Spawned | undefined;
    let browser: Browser | undefined;
    try {
      up = await startUp(dir.path, 30_000);
      const { thirdPartyUrl, login, password, deviceUrl, deviceUsername, devicePassword } = up.ready;
      const serverUrl = new URL(thirdPartyUrl).origin;
      browser = await launch();

      // Without credentials the dashboard is refused, like the API.
      assert.equal((await fetch(`${deviceUrl}/`)).status, 401);
      assert.equal((await fetch(`${serverUrl}/`)).status, 401);

      // ---- the device's dashboard, logged in with the Local API credentials
      const context = await browser.newContext({
        httpCredentials: { username: deviceUsername, password: devicePassword },
        viewport: { width: 1280, height: 800 },
      });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const response = await page.goto(`${deviceUrl}/`);
      assert.equal(response?.status(), 200);
      await page.locator('main h2', { hasText: 'Overview' }).waitFor({ timeout: TIMEOUT }); // the landing page
      await open(page, 'Devices');
      await page.locator('[data-testid="device-row"]').waitFor({ timeout: TIMEOUT });
      assert.match(await page.locator('[data-testid="device-row"]').innerText(), /linked to a server/);
      await page.locator('.stream.on').waitFor({ timeout: TIMEOUT }); // the live stream is connected
      assert.equal(await page.locator('.loading').count(), 0, 'the loading note is gone');
      await shot(page, 'device-devices');

      // register a webhook to the real receiver
      await open(page, 'Webhooks');
      const hookUrl = `${receiver.url}/hook`;
      await page.fill('input[name="url"]', hookUrl);
      await page.selectOption('select[name="event"]', 'sms:received');
      await page.click('button[type="submit"]');
      await page
        .locator('[data-testid="local-webhooks"] [data-testid="webhook-row"]', { hasText: hookUrl })
        .waitFor({ timeout: TIMEOUT });
      await shot(page, 'device-webhooks');

      // inject an incoming SMS
      await open(page, 'Send test');
      await page.fill('form[aria-label="inject an incoming SMS"] input[name="text"]', 'Hello from Playwright');
      await page.click('form[aria-label="inject an incoming SMS"] button[type="submit"]');
      await page.locator('[data-testid="send-log"]', { hasText: '1 delivery queued' }).waitFor({ timeout: TIMEOUT });
      await receiver.waitFor(1, TIMEOUT);
      assert.equal(JSON.parse(receiver.requests[0].rawBody).payload.message, 'Hello from Playwright');
      // and send one through the virtual carrier, watching its state move
      await page.click('form[aria-label="send an SMS"] button[type="submit"]');
      await page.locator('[data-testid="send-log"]', { hasText: /: (Sent|Delivered)/ }).waitFor({ timeout: TIMEOUT });
      await shot(page, 'device-send');

      // it shows under Live events: the event and its 200 attempt, without a reload
      await open(page, 'Live events');
      await page
        .locator('[data-testid="live-event"]', { hasText: 'Hello from Playwright' })
        .waitFor({ timeout: TIMEOUT });
      await page.locator('[data-testid="live-attempt"]', { hasText: '200' }).waitFor({ timeout: TIMEOUT });
      await shot(page, 'device-live');

      // and in Deliveries with a 200 attempt
      await open(page, 'Deliveries');
      const delivery = page.locator('[data-testid="delivery"]').first();
      await delivery.locator('[data-testid="delivery-state"]', { hasText: 'succeeded' }).waitFor({ timeout: TIMEOUT });
      await delivery.locator('button', { hasText: 'Show attempts' }).click();
      await delivery.locator('[data-testid="attempt-row"]').first().waitFor({ timeout: TIMEOUT });
      assert.deepEqual(await delivery.locator('[data-testid="attempt-status"]').allInnerTexts(), ['200']);

      // the receiver fails; Redeliver makes a new attempt that shows its 500
      failing = true;
      await delivery.locator('button', { hasText: 'Redeliver' }).click();
      await delivery.locator('[data-testid="attempt-row"]').nth(1).waitFor({ timeout: TIMEOUT });
      assert.deepEqual(await delivery.locator('[data-testid="attempt-status"]').allInnerTexts(), ['200', '500']);
      await delivery.locator('[data-testid="delivery-state"]', { hasText: 'pending' }).waitFor({ timeout: TIMEOUT }); // a retry is scheduled
      assert.equal(receiver.requests.length, 2);
      await shot(page, 'device-deliveries');

      // filters go to the server: a state with no match empties the list
      await page.selectOption('select[name="state"]', 'failed');
      await page.locator('main', { hasText: 'No deliveries match.' }).waitFor({ timeout: TIMEOUT });

      // a phone-sized screen: every page still renders, the nav stays reachable
      await page.setViewportSize({ width: 375, height: 740 });
      for (const [title, name] of [
        ['Devices', 'devices'],
        ['Webhooks', 'webhooks'],
        ['Deliveries', 'deliveries'],
        ['Live events', 'live'],
        ['Send test', 'send'],
      ]) {
        await open(page, title);
        if (title === 'Deliveries') {
          await page.selectOption('select[name="state"]', '');
          await page.locator('[data-testid="delivery"] button', { hasText: 'Show attempts' }).first().click();
          await page.locator('[data-testid="attempt-row"]').nth(1).waitFor({ timeout: TIMEOUT });
        }
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        assert.ok(overflow <= 0, `${title} fits 375 px without sideways scrolling (overflow ${overflow} px)`);
        if (title === 'Devices')
          assert.deepEqual(await brokenCheckNames(page), [], 'health-check names stay whole at 375 px');
        await shot(page, `device-${name}-375`);
      }
      assert.equal(pageErrors.length, 0, `no script errors: ${pageErrors.join('; ')}`);
      await context.close();

      // ---- the server's dashboard, logged in with the server user
      const serverContext = await browser.newContext({
        httpCredentials: { username: login, password },
        viewport: { width: 1280, height: 800 },
      });
      const serverPage = await serverContext.newPage();
      serverPage.on('pageerror', (error) => pageErrors.push(error.message));
      assert.equal((await serverPage.goto(`${serverUrl}/`))?.status(), 200);
      await open(serverPage, 'Devices');
      await serverPage
        .locator('[data-testid="device-row"]', { hasText: 'virtual device' })
        .waitFor({ timeout: TIMEOUT });
      assert.match(await serverPage.locator('[data-testid="device-row"]').innerText(), /online/);
      // the device reported its health when it connected: status and queue depth show on the server
      await serverPage.locator('[data-testid="device-row"] [data-testid="queue-depth"]').waitFor({ timeout: TIMEOUT });
      assert.match(await serverPage.locator('[data-testid="queue-depth"]').innerText(), /^\d+$/);
      assert.match(
        await serverPage
          .locator('[data-testid="device-row"] .badge.pass, [data-testid="device-row"] .badge.warn')
          .first()
          .innerText(),
        /^(pass|warn)$/,
      );
      await shot(serverPage, 'server-devices');
      await open(serverPage, 'Webhooks');
      const cloudUrl = `${receiver.url}/cloud`;
      await serverPage.fill('input[name="url"]', cloudUrl);
      await serverPage.selectOption('select[name="event"]', 'sms:sent');
      await serverPage.click('button[type="submit"]');
      await serverPage
        .locator('[data-testid="cloud-webhooks"] [data-testid="webhook-row"]', { hasText: cloudUrl })
        .waitFor({ timeout: TIMEOUT });
      // the device's Local list, as it reported it: shown with its source and device, managed on the device (no Delete here)
      const localOnServer = serverPage.locator('[data-testid="local-webhooks"]', { hasText: 'virtual device' });
      const localRow = localOnServer.locator('[data-testid="webhook-row"]', { hasText: hookUrl });
      await localRow.waitFor({ timeout: TIMEOUT });
      assert.match(await localRow.innerText(), /source Local · device virtual device/);
      assert.match(await localOnServer.innerText(), /managed on the device/);
      assert.equal(await localRow.locator('button', { hasText: 'Delete' }).count(), 0);
      await shot(serverPage, 'server-webhooks');
      await open(serverPage, 'Send test');
      await serverPage.click('form[aria-label="send an SMS"] button[type="submit"]');
      // the server enqueues it, pushes it to the device, which sends it and reports back
      await serverPage
        .locator('[data-testid="send-log"]', { hasText: /: (Sent|Delivered)/ })
        .waitFor({ timeout: TIMEOUT });
      await shot(serverPage, 'server-send');

      // Deliveries: the device reported the incoming SMS's delivery, with its 200 attempt and the failed redelivery
      await open(serverPage, 'Deliveries');
      const reported = serverPage.locator('[data-testid="delivery"]', { hasText: hookUrl }).first();
      await reported.waitFor({ timeout: TIMEOUT });
      assert.match(await reported.locator('[data-testid="delivery-device"]').innerText(), /virtual device/);
      await reported.locator('button', { hasText: 'Show attempts' }).click();
      await reported.locator('[data-testid="attempt-row"]').nth(1).waitFor({ timeout: TIMEOUT });
      const reportedStatuses = await reported.locator('[data-testid="attempt-status"]').allInnerTexts();
      assert.deepEqual(
        reportedStatuses.slice(0, 2),
        ['200', '500'],
        'the first attempt answered 200, the redelivery 500',
      );
      await shot(serverPage, 'server-deliveries');

      // Redeliver from the server: the device sends again, now to a receiver that answers, and the attempt comes back
      failing = false;
      const receivedBefore = receiver.requests.filter((r) => r.path === '/hook').length;
      await reported.locator('button', { hasText: 'Redeliver' }).click();
      await reported
        .locator('[data-testid="redeliver-note"]', { hasText: 'Asked virtual device' })
        .waitFor({ timeout: TIMEOUT });
      await reported.locator('[data-testid="delivery-state"]', { hasText: 'succeeded' }).waitFor({ timeout: TIMEOUT });
      await eventually(
        async () => (await reported.locator('[data-testid="attempt-status"]').allInnerTexts()).at(-1) === '200',
        'the new 200 attempt on the server page',
        TIMEOUT,
      );
      assert.ok(
        receiver.requests.filter((r) => r.path === '/hook').length > receivedBefore,
        'the device sent it again',
      );

      // Live events: an SMS arriving on the device shows on the server's page as it is reported, without a reload
      await open(serverPage, 'Live events');
      await serverPage.locator('.stream.on').waitFor({ timeout: TIMEOUT });
      const deviceAuthHeader = 'Basic ' + Buffer.from(`${deviceUsername}:${devicePassword}`).toString('base64');
      const arrived = await fetch(`${deviceUrl}/sim/v1/incoming`, {
        method: 'POST',
        headers: { authorization: deviceAuthHeader, 'content-type': 'application/json' },
        body: JSON.stringify({ from: '+15557770000', text: 'Seen on the server' }),
      });
      assert.equal(arrived.status, 202);
      await serverPage
        .locator('[data-testid="live-event"]', { hasText: 'Seen on the server' })
        .waitFor({ timeout: TIMEOUT });
      assert.match(
        await serverPage.locator('[data-testid="live-event"]', { hasText: 'Seen on the server' }).innerText(),
        /sms:received[\s\S]*on virtual device/,
      );
      await serverPage
        .locator('[data-testid="live-attempt"]', { hasText: '200' })
        .first()
        .waitFor({ timeout: TIMEOUT });
      await shot(serverPage, 'server-live');

      // a phone-sized screen: every server page renders without sideways scrolling
      await serverPage.setViewportSize({ width: 375, height: 740 });
      for (const [title, name] of [
        ['Devices', 'devices'],
        ['Webhooks', 'webhooks'],
        ['Deliveries', 'deliveries'],
        ['Live events', 'live'],
        ['Send test', 'send'],
      ]) {
        await open(serverPage, title);
        if (title === 'Deliveries') {
          await serverPage.locator('[data-testid="delivery"] button', { hasText: 'Show attempts' }).first().click();
          await serverPage.locator('[data-testid="attempt-row"]').first().waitFor({ timeout: TIMEOUT });
        }
        if (title === 'Devices') {
          await serverPage.locator('[data-testid="device-row"] details summary').first().click();
          assert.deepEqual(await brokenCheckNames(serverPage), [], 'health-check names stay whole at 375 px');
        }
        const overflow = await serverPage.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        assert.ok(overflow <= 0, `server ${title} fits 375 px without sideways scrolling (overflow ${overflow} px)`);
        await shot(serverPage, `server-${name}-375`);
      }
      assert.equal(pageErrors.length, 0, `no script errors: ${pageErrors.join('; ')}`);
      await serverContext.close();

      // the Cloud webhook reached the device, which lists it under Cloud with its source
      const deviceAgain = await browser.newContext({
        httpCredentials: { username: deviceUsername, password: devicePassword },
      });
      const devicePage = await deviceAgain.newPage();
      await devicePage.goto(`${deviceUrl}/#/webhooks`);
      await devicePage
        .locator('[data-testid="cloud-webhooks"] [data-testid="webhook-row"]', { hasText: cloudUrl })
        .waitFor({ timeout: TIMEOUT });
      assert.match(await devicePage.locator('[data-testid="cloud-webhooks"]').innerText(), /source Cloud/);
      await shot(devicePage, 'device-webhooks-both');
      await deviceAgain.close();

      // Delete on the server's dashboard removes the Cloud webhook there, and the device's copy goes with it
      const serverAgain = await browser.newContext({ httpCredentials: { username: login, password } });
      const deletePage = await serverAgain.newPage();
      await deletePage.goto(`${serverUrl}/#/webhooks`);
      const cloudRow = deletePage.locator('[data-testid="cloud-webhooks"] [data-testid="webhook-row"]', {
        hasText: cloudUrl,
      });
      await cloudRow.locator('button', { hasText: 'Delete' }).click();
      await cloudRow.waitFor({ state: 'detached', timeout: TIMEOUT });
      const serverAuth = 'Basic ' + Buffer.from(`${login}:${password}`).toString('base64');
      assert.deepEqual(
        await (await fetch(`${thirdPartyUrl}/webhooks`, { headers: { authorization: serverAuth } })).json(),
        [],
      );
      await eventually(
        async () => {
          const overview = await (
            await fetch(`${deviceUrl}/dashboard/overview`, { headers: { authorization: deviceAuthHeader } })
          ).json();
          return overview.webhooks.cloud.length === 0;
        },
        'the device to drop the deleted Cloud webhook',
        TIMEOUT,
      );
      await serverAgain.close();
    } finally {
      await browser?.close();
      await up?.stop();
      await receiver.stop();
      dir.remove();
    }
  },
);
