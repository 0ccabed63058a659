import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, newDevice } from '../server/helpers.ts';
import { startTestDevice } from '../helpers/device.ts';
import { launch } from './browser.ts';
import { eventually } from '../helpers/common.ts';

/** Everything the page's Content-Security-Policy refused, as the page itself reports it. */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('reportViolation', (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { reportViolation(t: string): void }).reportViolation(
        `${e.violatedDirective} ${e.blockedURI}`,
      ),
    );
  });
  page.on('console', (message) => {
    if (/Content Security Policy/.test(message.text())) violations.push(message.text());
  });
  return violations;
}

/** Whether a page of another origin could show `url` in a frame. */
async function frameable(browser: Browser, url: string, credentials: { username: string; password: string }) {
  const context = await browser.newContext({ httpCredentials: credentials });
  try {
    const page = await context.newPage();
    await page.setContent(`<iframe src="${url}" width="600" height="400"></iframe>`);
    await page.waitForLoadState('load'); // the frame's load, of the page or of the browser's error page
    // the dashboard's and Swagger UI's root elements: there only when the page itself is shown
    const loaded = (await page.frames()[1].locator('#app, #swagger-ui').count()) > 0;
    return loaded;
  } finally {
    await context.close();
  }
}

test(
  'pages under a Content-Security-Policy: Swagger UI and the dashboard render with nothing refused, and no page can be framed',
  { timeout: 120_000 },
  async () => {
    const server = await startTestServer();
    const device = await startTestDevice();
    let browser: Browser | undefined;
    try {
      const { login, password } = await newDevice(server);
      browser = await launch();
      for (const [name, base, credentials] of [
        ['server', server.url, { username: login, password }],
        ['device', device.url, { username: device.username, password: device.api.password }],
      ] as const) {
        const context = await browser.newContext({ httpCredentials: credentials });
        const page = await context.newPage();
        const violations = await watchViolations(page);
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));

        const docs = await page.goto(`${base}/docs`);
        assert.equal(docs?.status(), 200);
        assert.match(docs!.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
        // Swagger UI drew the document: its title and the operations in view (the others as one scrolls)
        // (counted, not awaited with waitFor: Playwright's waiting runs script the policy refuses)
        await eventually(async () => (await page.locator('.opblock').count()) >= 3, `${name}: Swagger UI operations`);
        assert.match(await page.locator('.info .title').innerText(), /smsgate/);

        const dashboard = await page.goto(`${base}/`);
        assert.equal(dashboard?.status(), 200);
        assert.match(dashboard!.headers()['content-security-policy'] ?? '', /default-src 'self'/);
        await eventually(async () => (await page.locator('main h2').count()) > 0, `${name}: the dashboard's page`);
        // its live stream connects
        await eventually(async () => (await page.locator('.stream.on').count()) > 0, `${name}: the live stream`);
        assert.deepEqual(violations, [], `${name}: nothing refused by the policy`);
        assert.deepEqual(errors, [], `${name}: no page errors`);
        await context.close();

        for (const path of ['/docs', '/']) {
          const framed = await frameable(browser, `${base}${path}`, credentials);
          assert.equal(framed, false, `${name} ${path} does not load in another site's frame`);
        }
      }
    } finally {
      await browser?.close();
      await device.cleanup();
      await server.cleanup();
    }
  },
);
