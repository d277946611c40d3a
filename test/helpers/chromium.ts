// Debian's Chromium, driven by playwright-core, for the tests that need a real browser.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

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
