import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { tempDir } from '../helpers/device.ts';
import { basic, call, type Spawned } from '../server/helpers.ts';
import { LoggedInPages, TIMEOUT, launch, open, startUp } from './browser.ts';

test(
  'a list page keeps the newest filter’s answer: an older, slower answer that arrives after it does not replace the list',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir();
    let up: Spawned | undefined;
    let browser: Browser | undefined;
    let pages: LoggedInPages | undefined;
    try {
      up = await startUp(dir.path);
      const { deviceUrl, deviceUsername, devicePassword } = up.ready;
      // a message that stays Pending: scheduled for tomorrow
      const sent = await call(`${deviceUrl}/message`, 'POST', {
        auth: basic(deviceUsername, devicePassword),
        body: {
          phoneNumbers: ['+15557654321'],
          textMessage: { text: 'kept in view' },
          scheduleAt: new Date(Date.now() + 24 * 3600_000).toISOString(),
        },
      });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const id = sent.body.id as string;

      browser = await launch();
      pages = new LoggedInPages(browser);
      const page = await pages.open(deviceUsername, devicePassword);
      await page.goto(`${deviceUrl}/`);
      await open(page, 'Messages');
      const card = page.locator(`[data-testid="message"][data-message-id="${id}"]`);
      await card.waitFor({ timeout: TIMEOUT });

      // The list of Failed messages (none) answers 1.5 s late, after the list the user asked for next.
      await page.route(
        (url) => url.searchParams.get('state') === 'Failed',
        async (route) => {
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          await route.continue();
        },
      );
      const lateAnswer = page.waitForResponse(
        (response) => new URL(response.url()).searchParams.get('state') === 'Failed',
      );
      await page.selectOption('select[name="state"]', 'Failed');
      await page.selectOption('select[name="state"]', '');
      await lateAnswer;
      // time for the page to take the late answer in, had it wanted to
      await page.waitForTimeout(500);
      assert.equal(await card.count(), 1, 'the message is still listed');
      assert.equal(await page.locator('[data-testid="message-count"]').innerText(), '1 message match');
      assert.equal(await page.locator('select[name="state"]').inputValue(), '');
      assert.deepEqual(pages.errors, [], 'no script errors');
    } finally {
      await pages?.close();
      await browser?.close();
      await up?.stop();
      dir.remove();
    }
  },
);
