import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (scripts/ensure-services.sh installs it); never a downloaded browser. */
export const CHROMIUM = process.env.SMSGATE_CHROMIUM ?? '/usr/bin/chromium';
export const OUTPUT = fileURLToPath(new URL('../../test-output/dashboard/', import.meta.url));
export const TIMEOUT = 15_000;

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
