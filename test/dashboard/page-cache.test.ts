import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { TEST_PASSWORD, startTestDevice } from '../helpers/device.ts';
import { basic } from '../helpers/http.ts';
import { LoggedInPages, TIMEOUT, launch } from './browser.ts';

/**
 * The page names its scripts and styles by a digest of this build (/ui/v-…/), so a browser keeps
 * them: a reload fetches the page and its data, not its files again. Unversioned paths, and an
 * earlier build's, still answer with today's file, to be checked again each time.
 */
test("the dashboard's files are kept by the browser under this build's URLs; other paths are revalidated", async () => {
  const device = await startTestDevice();
  let browser: Browser | undefined;
  try {
    const auth = { authorization: basic(device.username, TEST_PASSWORD) };
    const index = await (await fetch(`${device.url}/`, { headers: auth })).text();
    const linked = [...index.matchAll(/(?:href|src)="(\/ui\/[^"]+)"/g)].map(([, path]) => path);
    assert.ok(linked.length > 10, `the page links its files (${linked.length})`);
    const version = /^\/ui\/(v-[0-9a-f]{12})\//.exec(linked[0])?.[1];
    assert.ok(version, `a versioned path: ${linked[0]}`);
    assert.deepEqual(
      linked.filter((path) => !path.startsWith(`/ui/${version}/`)),
      [],
      'every file under one version',
    );

    const get = (path: string) => fetch(`${device.url}${path}`, { headers: auth });
    const current = await get(`/ui/${version}/app.js`);
    assert.equal(current.status, 200);
    assert.equal(current.headers.get('cache-control'), 'private, max-age=31536000, immutable');
    const body = await current.text();
    for (const path of ['/ui/app.js', '/ui/v-000000000000/app.js']) {
      const other = await get(path);
      assert.equal(other.status, 200, path);
      assert.equal(other.headers.get('cache-control'), 'no-cache', path);
      assert.equal(await other.text(), body, `${path} is today's file`);
    }
    const missing = await get(`/ui/${version}/no-such.js`);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { message: string }).message, /no dashboard file no-such\.js/);

    // a real browser: the second load takes every file from its cache
    browser = await launch();
    const pages = new LoggedInPages(browser);
    const page = await pages.open(device.username, TEST_PASSWORD);
    const fetched = async () => {
      await page.locator('main h2').first().waitFor({ timeout: TIMEOUT });
      return page.evaluate(() =>
        performance
          .getEntriesByType('resource')
          .filter((entry) => (entry as PerformanceResourceTiming).transferSize > 0)
          .map((entry) => new URL(entry.name).pathname)
          .filter((path) => path.startsWith('/ui/')),
      );
    };
    await page.goto(`${device.url}/#/send`);
    assert.ok((await fetched()).length > 10, 'the first load fetches the files');
    await page.reload();
    assert.deepEqual(await fetched(), [], 'the reload fetches none of them');
    assert.deepEqual(pages.errors, []);
  } finally {
    await browser?.close();
    await device.cleanup();
  }
});
