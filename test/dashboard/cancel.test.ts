import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { eventually, tempDir } from '../helpers/device.ts';
import { basic, call, type Spawned } from '../server/helpers.ts';
import { MobileClient, register } from '../../src/device/link/mobile-client.ts';
import { LoggedInPages, OUTPUT, TIMEOUT, launch, open, shot, shots, startUp } from './browser.ts';

const NUMBER = '+15557654321';

/** What one runtime needs for the test: its API, a way to keep a message Pending, and its own moves. */
interface Side {
  runtime: 'device' | 'server';
  page: Page;
  url: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** send a message that stays Pending until the test moves it */
  sendPending(text: string): Promise<string>;
  /** what takes the message past Pending behind the page's back */
  moveOn(id: string): Promise<void>;
  /** what ends a cancel the page asked for (the server waits for its phone) */
  confirm(id: string): Promise<void>;
}

test(
  "Cancel on the Messages page, on both runtimes: a Pending message ends Cancelled, only Pending ones have the button, and a message that moved on meanwhile gets the API's refusal in its words",
  { timeout: 120_000 },
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const dir = tempDir();
    let up: Spawned | undefined;
    let browser: Browser | undefined;
    let pages: LoggedInPages | undefined;
    try {
      up = await startUp(dir.path);
      const { thirdPartyUrl, login, password, deviceUrl, deviceUsername, devicePassword } = up.ready;
      const serverUrl = new URL(thirdPartyUrl).origin;
      browser = await launch();
      pages = new LoggedInPages(browser);
      const caller =
        (base: string, auth: string) =>
        (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> =>
          call(`${base}${path}`, method, { auth, body });
      const sent = async (call: Side['call'], path: string, body: object) => {
        const reply = await call('POST', path, { phoneNumbers: [NUMBER], ...body });
        assert.equal(reply.status, 202, JSON.stringify(reply.body));
        return reply.body.id as string;
      };

      // The device holds a message with a scheduleAt of tomorrow; moving on is a cancel through the API.
      const onDevice = caller(deviceUrl, basic(deviceUsername, devicePassword));
      const tomorrow = () => new Date(Date.now() + 24 * 3600_000).toISOString();
      // The server's message waits for a phone that never pulls unless told: it takes the message
      // (Processed) to move on, and confirms a cancel as the phone would.
      const quiet = await register(serverUrl, { basicAuth: { login, password }, name: 'quiet phone' });
      const quietPhone = new MobileClient(serverUrl, quiet.token);
      await quietPhone.getDevice();
      const onServer = caller(thirdPartyUrl, basic(login, password));
      const sides: Side[] = [
        {
          runtime: 'device',
          page: await pages.open(deviceUsername, devicePassword),
          url: deviceUrl,
          call: onDevice,
          sendPending: (text) => sent(onDevice, '/message', { textMessage: { text }, scheduleAt: tomorrow() }),
          moveOn: async (id) => assert.equal((await onDevice('DELETE', `/message/${id}`)).status, 200),
          confirm: async () => {},
        },
        {
          runtime: 'server',
          page: await pages.open(login, password),
          url: serverUrl,
          call: onServer,
          sendPending: (text) => sent(onServer, '/messages', { textMessage: { text }, deviceId: quiet.id }),
          // the phone takes it and says so (a phone's Pending is the server's Processed)
          moveOn: async (id) => {
            assert.ok((await quietPhone.pullMessages()).some((m) => m.id === id));
            await quietPhone.reportMessages([
              { id, state: 'Pending', recipients: [{ phoneNumber: NUMBER, state: 'Pending' }] },
            ]);
          },
          confirm: (id) =>
            quietPhone.reportMessages([
              { id, state: 'Cancelled', recipients: [], states: { Cancelled: new Date().toISOString() } },
            ]),
        },
      ];

      for (const { runtime, page, url, call, sendPending, moveOn, confirm } of sides) {
        const path = runtime === 'device' ? '/message' : '/messages';
        const kept = await sendPending(`${runtime} to cancel`);
        const moving = await sendPending(`${runtime} moving on`);
        await page.goto(`${url}/`);
        await open(page, 'Messages');
        const card = (id: string) => page.locator(`[data-testid="message"][data-message-id="${id}"]`);
        const state = (id: string) => card(id).locator('[data-testid="message-state"]').innerText();
        await card(kept).waitFor({ timeout: TIMEOUT });
        assert.equal(await state(kept), 'Pending');
        assert.equal(await state(moving), 'Pending');
        await shot(page, `${runtime}-messages-cancel`);

        // the page still shows "moving" Pending when it moves on: the API refuses, the card says why
        await moveOn(moving);
        const refusal = await call('DELETE', `${path}/${moving}`);
        assert.equal(refusal.status, 409);
        await card(moving).locator('button', { hasText: 'Cancel' }).click();
        await card(moving).locator('[role="alert"]', { hasText: refusal.body.message }).waitFor({ timeout: TIMEOUT });

        // Cancel by keyboard: the button takes focus and Enter
        await card(kept).locator('button', { hasText: 'Cancel' }).focus();
        await page.keyboard.press('Enter');
        await eventually(
          async () => ['Cancelling', 'Cancelled'].includes(await state(kept)),
          `${runtime}: the page shows the cancel taken`,
          TIMEOUT,
          100,
        );
        await confirm(kept);
        await eventually(
          async () => {
            await page.locator('button', { hasText: 'Refresh' }).click();
            return (await state(kept)) === 'Cancelled';
          },
          `${runtime}: the page shows the message Cancelled`,
          TIMEOUT,
          300,
        );
        assert.equal((await call('GET', `${path}/${kept}`)).body.state, 'Cancelled', `${runtime}: so does the API`);
        assert.equal(await card(kept).locator('button', { hasText: 'Cancel' }).count(), 0, 'only Pending ones');
        assert.deepEqual(
          await card(kept).locator('[data-testid="recipient-state"]').allInnerTexts(),
          ['Cancelled'],
          `${runtime}: the recipient is cancelled too`,
        );
        await shots(page, `${runtime}-messages-cancelled`);
      }
      assert.deepEqual(pages.errors, [], 'no script errors');
    } finally {
      await pages?.close();
      await browser?.close();
      await up?.stop();
      dir.remove();
    }
  },
);
