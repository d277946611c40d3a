// Debian's Chromium, driven by playwright-core, for the tests that need a real browser.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

const CHROMIUM = process.env.TOLLGATE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Whether a browser is there to test with. CI installs Chromium and sets TOLLGATE_BROWSER_TESTS=required,
 * so that a missing browser fails there instead of skipping.
 */
export function haveBrowser(): boolean {
  const found = existsSync(CHROMIUM);
  if (!found && process.env.TOLLGATE_BROWSER_TESTS === 'required') {
    throw new Error(`TOLLGATE_BROWSER_TESTS=required but there is no browser at ${CHROMIUM} (apt-get install chromium)`);
  }
  return found;
}

/** Starts Chromium headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // This machine has no outside network: Chromium's background connections would only fail.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A new page that fails fast on a missing element, with the page's script errors and console errors collected. */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(5000); // a missing element fails the test in seconds, not at vitest's timeout
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Console errors too: a resource that failed (a favicon's 404), a script or style the page's CSP refused.
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  return { page, errors };
}

/** The dashboard page's section under the heading `title`. */
export function section(page: Page, title: string): Locator {
  return page.locator('section').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}
