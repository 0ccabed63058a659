import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { spawnSmsgate, type Spawned } from '../server/helpers.ts';
import { basic } from '../helpers/http.ts';

/** Debian's chromium (scripts/ensure-services.sh installs it); never a downloaded browser. */
export const CHROMIUM = process.env.SMSGATE_CHROMIUM ?? '/usr/bin/chromium';
export const OUTPUT = fileURLToPath(new URL('../../test-output/dashboard/', import.meta.url));
export const TIMEOUT = 15_000;

/** `smsgate up` (a server and its linked virtual device) on `dataDir`, each on a free port. */
export function startUp(dataDir: string, timeoutMs = 60_000): Promise<Spawned> {
  return spawnSmsgate(['up', '--data-dir', dataDir, '--port', '0', '--device-port', '0'], { timeoutMs });
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${OUTPUT}${name}.png`, fullPage: true });
}

/** Health-check names (e.g. messages:failed) that the layout wrapped onto more than one line. */
export async function brokenCheckNames(page: Page): Promise<string[]> {
  await page.locator('table.checks td.mono').first().waitFor({ timeout: TIMEOUT });
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('table.checks td.mono')).flatMap((cell) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
      return lines.size > 1 ? [cell.textContent ?? ''] : [];
    }),
  );
}

/** Navigate with the app's own nav links, as a user would. */
export async function open(page: Page, title: string): Promise<void> {
  await page.locator('nav a', { hasText: title }).click();
  await page.locator('main h2', { hasText: title }).waitFor({ timeout: TIMEOUT });
}

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 740 };

/**
 * Pages logged in with Basic credentials, each in a context of its own, collecting the script
 * errors any of them raises; `close()` closes them all.
 */
export class LoggedInPages {
  readonly errors: string[] = [];
  private readonly contexts: BrowserContext[] = [];

  constructor(private readonly browser: Browser) {}

  async open(username: string, password: string, options: { acceptDownloads?: boolean } = {}): Promise<Page> {
    // The credentials go as a header on every request, as a browser sends them once its login
    // prompt was answered: Playwright's httpCredentials answer the prompt instead, but they turn the
    // browser's cache off, and a user's browser keeps the dashboard's files. A download is fetched
    // without that header, so a page that downloads answers the prompt.
    const login = options.acceptDownloads
      ? { httpCredentials: { username, password } }
      : { extraHTTPHeaders: { authorization: basic(username, password) } };
    const context = await this.browser.newContext({ ...login, viewport: DESKTOP, ...options });
    this.contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => this.errors.push(error.message));
    return page;
  }

  async close(): Promise<void> {
    for (const context of this.contexts) await context.close();
  }
}

/** The page as it is now fits 375 px: nothing to scroll sideways. */
export async function fitsPhone(page: Page, what: string): Promise<void> {
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `${what} fits 375 px without sideways scrolling (overflow ${overflow} px)`);
}

/** Screenshots of the page as it is, desktop and 375 px wide; the narrow one must not scroll sideways. */
export async function shots(page: Page, name: string): Promise<void> {
  await shot(page, name);
  await page.setViewportSize(PHONE);
  await fitsPhone(page, name);
  await shot(page, `${name}-375`);
  await page.setViewportSize(DESKTOP);
}
