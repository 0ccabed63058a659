import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { TestReceiver } from '../helpers/receiver.ts';
import { eventually, tempDir } from '../helpers/device.ts';
import { basic, call as httpCall, type Spawned } from '../server/helpers.ts';
import { LoggedInPages, OUTPUT, TIMEOUT, launch, open, shots, startUp } from './browser.ts';

const run = promisify(execFile);

// made by test/vectors/encryption.py with pycryptodome, independently of the code under test
const { vectors } = JSON.parse(readFileSync(new URL('../vectors/encryption.json', import.meta.url), 'utf8')) as {
  vectors: { name: string; passphrase: string; encrypted: string }[];
};
const encrypted = {
  text: vectors.find((v) => v.name === 'ascii text')!,
  number: vectors.find((v) => v.name === 'a phone number')!,
};

/** The HTTP status curl gets for `url` with this token, as someone outside the browser would. */
async function curlStatus(url: string, token: string): Promise<number> {
  const { stdout } = await run('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-H',
    `Authorization: Bearer ${token}`,
    url,
  ]);
  return Number(stdout);
}

/** The value the chart's legend shows with the cursor on its last (current) minute: a drawn point. */
async function lastPoint(page: Page, testid: string, label: string): Promise<number> {
  const chart = page.locator(`[data-testid="${testid}"]`);
  const over = chart.locator('.u-over');
  await over.waitFor({ timeout: TIMEOUT });
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
  const text = await chart.locator('.u-legend tr.u-series', { hasText: label }).locator('.u-value').innerText();
  return Number(text.replace(/[^\d.]/g, '') || 0);
}

test(
  'dashboard pages on both runtimes: queue depth charted from real deliveries; Inbox lists what arrived, downloads an MMS part and its refresh replays webhooks; Settings change and show the API’s refusal; a token made in the page works with curl until revoked there',
  { timeout: 180_000 },
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    let up: Spawned | undefined;
    let browser: Browser | undefined;
    let pages: LoggedInPages | undefined;
    try {
      up = await startUp(dir.path);
      const { thirdPartyUrl, login, password, deviceUrl, deviceUsername, devicePassword } = up.ready;
      const serverUrl = new URL(thirdPartyUrl).origin;
      const deviceAuth = basic(deviceUsername, devicePassword);
      const serverAuth = basic(login, password);
      const call = (base: string, auth: string, method: string, path: string, body?: unknown) =>
        httpCall(`${base}${path}`, method, { auth, body });
      const device = (method: string, path: string, body?: unknown) => call(deviceUrl, deviceAuth, method, path, body);

      // one webhook that answers, one nobody listens on: its deliveries wait in the queue, retrying
      for (const url of [`${receiver.url}/in`, 'http://127.0.0.1:9/nobody'])
        assert.equal((await device('POST', '/webhooks', { url, event: 'sms:received' })).status, 201);
      for (const text of ['first hello', 'second hello'])
        assert.equal((await device('POST', '/sim/v1/incoming', { from: '+15551230000', text })).status, 202);
      const picture = Buffer.from('a tiny picture, not really a png');
      assert.equal(
        (
          await device('POST', '/sim/v1/incoming', {
            type: 'MMS',
            from: '+15559990000',
            subject: 'holiday',
            attachments: [{ contentType: 'image/png', name: 'beach.png', data: picture.toString('base64') }],
          })
        ).status,
        202,
      );
      const bytes = Buffer.from([0xca, 0xfe, 0x01]);
      assert.equal(
        (
          await device('POST', '/sim/v1/incoming', {
            type: 'DATA_SMS',
            from: '+15558880000',
            data: bytes.toString('base64'),
            port: 5000,
          })
        ).status,
        202,
      );
      const received = () =>
        receiver.requests.filter((r) => r.path === '/in' && JSON.parse(r.rawBody).event === 'sms:received');
      await eventually(async () => received().length === 2, 'the two SMS delivered to /in', TIMEOUT, 100);
      // the MMS: its notification, then its download with the part
      await eventually(
        async () => (await device('GET', '/inbox?type=MMS_DOWNLOADED')).body.length === 1,
        'the MMS downloaded',
        TIMEOUT,
        100,
      );

      browser = await launch();
      pages = new LoggedInPages(browser);
      const newPage = (user: string, pass: string) => pages!.open(user, pass, { acceptDownloads: true });
      const devicePage = await newPage(deviceUsername, devicePassword);
      const serverPage = await newPage(login, password);

      // ---- Overview: queue depth over time, its last point the deliveries waiting now
      for (const [runtime, page, url] of [
        ['device', devicePage, deviceUrl],
        ['server', serverPage, serverUrl],
      ] as const) {
        await page.goto(`${url}/`);
        await page.locator('main h2', { hasText: 'Overview' }).waitFor({ timeout: TIMEOUT });
        // the two SMS to the silent webhook wait; the server learns it from the device's reports
        await eventually(
          async () => (await lastPoint(page, 'chart-queue', 'queue depth')) === 2,
          `${runtime}: the queue chart's current point is the two waiting deliveries`,
          TIMEOUT,
          250,
        );
        if (runtime === 'device')
          assert.equal(Number(await page.locator('[data-testid="stat-queue-depth"]').innerText()), 2);
        // the highest point is the API's: 2, or 4 when the answered two finished in the minute after
        // they and the waiting two entered (the end of that earlier minute held all four)
        const stats =
          runtime === 'device'
            ? await device('GET', '/stats?range=hour')
            : await call(thirdPartyUrl, serverAuth, 'GET', '/stats?range=hour');
        const highest = Math.max(...(stats.body.queue as { depth: number }[]).map((point) => point.depth));
        assert.ok(highest === 2 || highest === 4, `${runtime}: the queue's highest point is ${highest}`);
        assert.match(
          await page.locator('[data-testid="chart-queue"] .sr-only').innerText(),
          new RegExp(`, at most ${highest}$`),
          `${runtime}: the chart's text summary`,
        );
        await shots(page, `${runtime}-overview-queue`);
      }

      // ---- Inbox on the device: the list, the MMS part's bytes, and the refresh
      await open(devicePage, 'Inbox');
      const rows = devicePage.locator('[data-testid="inbox-message"]');
      await rows.first().waitFor({ timeout: TIMEOUT });
      assert.equal(await devicePage.locator('[data-testid="inbox-count"]').innerText(), '5 messages received');
      assert.deepEqual((await devicePage.locator('[data-testid="inbox-type"]').allInnerTexts()).sort(), [
        'DATA_SMS',
        'MMS',
        'MMS_DOWNLOADED',
        'SMS',
        'SMS',
      ]);
      assert.deepEqual(
        (await devicePage.locator('[data-testid="inbox-preview"]').allInnerTexts()).sort(),
        ['first hello', 'holiday', 'holiday', 'second hello', bytes.toString('base64')].sort(),
        'a data SMS shows its bytes in base64',
      );
      const [download] = await Promise.all([
        devicePage.waitForEvent('download'),
        devicePage.locator('[data-testid="attachment"]', { hasText: 'beach.png' }).click(),
      ]);
      assert.equal(download.suggestedFilename(), 'beach.png');
      assert.deepEqual(readFileSync((await download.path())!), picture, 'the part downloads as it was received');
      await devicePage.selectOption('select[name="inboxType"]', 'SMS');
      await eventually(async () => (await rows.count()) === 2, 'the type filter keeps the SMS', TIMEOUT, 100);
      await devicePage.locator('[data-testid="refresh-form"] button[type="submit"]').click();
      const outcome = devicePage.locator('[data-testid="refresh-outcome"]');
      await outcome.waitFor({ timeout: TIMEOUT });
      assert.match(
        await outcome.innerText(),
        /Found 2 received messages in the window; 2 events recorded \(Individual\)/,
      );
      await eventually(async () => received().length === 4, 'the refresh delivered both SMS again', TIMEOUT, 100);
      // the API's words for a bad request: no message type
      await devicePage.locator('[data-testid="refresh-form"] input[name="type"][value="SMS"]').uncheck();
      await devicePage.locator('[data-testid="refresh-form"] button[type="submit"]').click();
      const refused = await device('POST', '/inbox/refresh', {
        since: '2000-01-01T00:00:00Z',
        until: '2000-01-02T00:00:00Z',
        messageTypes: [],
      });
      assert.equal(refused.status, 400);
      await devicePage
        .locator('[data-testid="refresh-form"] [role="alert"]', { hasText: refused.body.message })
        .waitFor({ timeout: TIMEOUT });
      await shots(devicePage, 'device-inbox');

      // ---- Inbox on the server: the refresh asks the device, which replays through its webhooks
      await open(serverPage, 'Inbox');
      assert.equal(await serverPage.locator('[data-testid="inbox-list"]').count(), 0, 'the server keeps no inbox');
      const devices = (await call(thirdPartyUrl, serverAuth, 'GET', '/devices')).body as { id: string }[];
      await serverPage.selectOption('select[name="deviceId"]', devices[0].id);
      await serverPage.selectOption('select[name="webhookDelivery"]', 'Individual');
      await serverPage.locator('[data-testid="refresh-form"] button[type="submit"]').click();
      await serverPage
        .locator('[data-testid="refresh-outcome"]', { hasText: `Asked 1 device (${devices[0].id})` })
        .waitFor({ timeout: TIMEOUT });
      await eventually(async () => received().length === 6, 'the device replayed both SMS again', TIMEOUT, 100);
      await shots(serverPage, 'server-inbox');

      // ---- Settings: a change saved, then a refusal in the API's words
      for (const [runtime, page, base, auth] of [
        ['device', devicePage, deviceUrl, deviceAuth],
        ['server', serverPage, thirdPartyUrl, serverAuth],
      ] as const) {
        await open(page, 'Settings');
        const group = page.locator('[data-testid="settings-webhooks"]');
        await group.locator('input[name="webhooks.retry_count"]').fill('7');
        await group.locator('button[type="submit"]').click();
        await group.locator('[data-testid="saved"]').waitFor({ timeout: TIMEOUT });
        assert.equal((await call(base, auth, 'GET', '/settings')).body.webhooks.retry_count, 7, `${runtime}: saved`);
        const messages = page.locator('[data-testid="settings-messages"]');
        await messages.locator('input[name="messages.work_hours_start"]').fill('25:00');
        await messages.locator('button[type="submit"]').click();
        const refusal = await call(base, auth, 'PATCH', '/settings', { messages: { work_hours_start: '25:00' } });
        assert.equal(refusal.status, 400);
        await messages.locator('[role="alert"]', { hasText: refusal.body.message }).waitFor({ timeout: TIMEOUT });
        assert.notEqual(
          (await call(base, auth, 'GET', '/settings')).body.messages.work_hours_start,
          '25:00',
          `${runtime}: nothing changed`,
        );
        await shots(page, `${runtime}-settings`);
      }

      // ---- Write-only settings: the device's passphrase set in the page decrypts a message made with it
      await open(devicePage, 'Settings');
      const secrets = devicePage.locator('[data-testid="settings-write-only"]');
      await secrets.locator('input[name="encryption.passphrase"]').fill(encrypted.text.passphrase);
      await secrets.locator('input[name="encryption.passphrase"]').press('Enter');
      await secrets.locator('[data-testid="write-only-saved"]').waitFor({ timeout: TIMEOUT });
      assert.equal(
        JSON.stringify((await call(deviceUrl, deviceAuth, 'GET', '/settings')).body).includes(
          encrypted.text.passphrase,
        ),
        false,
        'the passphrase is never shown',
      );
      const secret = await call(deviceUrl, deviceAuth, 'POST', '/message', {
        textMessage: { text: encrypted.text.encrypted },
        phoneNumbers: [encrypted.number.encrypted],
        isEncrypted: true,
      });
      assert.equal(secret.status, 202, JSON.stringify(secret.body));
      const final = await eventually(
        async () => {
          const state = (await call(deviceUrl, deviceAuth, 'GET', `/message/${secret.body.id}`)).body;
          return ['Sent', 'Delivered', 'Failed'].includes(state.state) ? state : undefined;
        },
        'the encrypted message left the device',
        TIMEOUT,
        100,
      );
      assert.notEqual(final.state, 'Failed', JSON.stringify(final));

      // ---- Tokens: made in the page, used with curl, revoked in the page
      for (const [runtime, page, probe] of [
        ['device', devicePage, `${deviceUrl}/message`],
        ['server', serverPage, `${thirdPartyUrl}/messages`],
      ] as const) {
        await open(page, 'Tokens');
        // by keyboard: Space ticks the scope, Enter on the button creates the token
        await page.locator('input[name="scope"][value="messages:list"]').focus();
        await page.keyboard.press('Space');
        assert.ok(await page.locator('input[name="scope"][value="messages:list"]').isChecked());
        await page.locator('button', { hasText: 'Create token' }).focus();
        await page.keyboard.press('Enter');
        const token = await page.locator('[data-testid="access-token"]').inputValue();
        assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, `${runtime}: a JWT is shown once`);
        assert.equal(await curlStatus(probe, token), 200, `${runtime}: the token works with curl`);
        assert.equal(
          await curlStatus(probe.replace(/\/messages?$/, '/webhooks'), token),
          403,
          `${runtime}: only within its scope`,
        );
        const id = await page.locator('[data-testid="issued-token"] .card-title .mono').innerText();
        const row = page.locator(`[data-testid="token-row"][data-token-id="${id}"]`);
        await row.locator('[data-testid="token-state"]', { hasText: 'active' }).waitFor({ timeout: TIMEOUT });
        assert.match(await row.innerText(), /messages:list/);
        await shots(page, `${runtime}-tokens`);
        await page.locator('button', { hasText: 'Done' }).click();
        await row.locator('button', { hasText: 'Revoke' }).click();
        await row.locator('[data-testid="token-state"]', { hasText: 'revoked' }).waitFor({ timeout: TIMEOUT });
        assert.equal(await curlStatus(probe, token), 401, `${runtime}: revoked, curl is refused`);
        // a bad lifetime: the API's words
        await page.locator('input[name="scope"][value="messages:list"]').check();
        await page.fill('input[name="ttl"]', '-5');
        await page.locator('button', { hasText: 'Create token' }).click();
        await page.locator('[role="alert"]', { hasText: /ttl/ }).waitFor({ timeout: TIMEOUT });
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
