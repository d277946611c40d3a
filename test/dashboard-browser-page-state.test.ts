// The web dashboard in Chromium, as a FinOps user switches between organizations: the figures on screen
// always say whose they are and for which day, a load that fails never leaves another organization's
// figures under the name just typed, and an organization without calls reads as zeros.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { haveBrowser, launchChromium, openPage as newPage, section } from './helpers/chromium.js';
import type { LedgerRow } from '../src/ledger/ledger.js';
import { sampleRow } from './helpers/sample-row.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

const browserHere = haveBrowser();

const ADMIN = 'admin-secret';
// Saturday 5 December 2026, 03:30 in New York (08:30 UTC): still the 5th there.
const NOW = Date.UTC(2026, 11, 5, 8, 30);

const config = (ledger: string): string => `
server: {timezone: America/New_York, admin_key: ${ADMIN}}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organizations:
  busy: {daily_cap: 100000}
  idle: {daily_cap: 5000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice, organization: busy}
  - {id: ivan, key: tg-ivan, user: ivan, organization: idle}
`;

// Three calls of 1,000 + 234 tokens for busy, one hour ago.
const seed = (): LedgerRow[] =>
  [0, 1, 2].map((i) =>
    sampleRow({
      ts: NOW - 3_600_000 + i * 60_000, organization: 'busy', project: null, user: 'alice', keyId: 'alice', groups: [], limits: [], shadowBlocked: [],
      route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', stream: false, streamEnd: null, tags: {}, decision: 'admitted', status: 200,
      inputTokens: 1000, outputTokens: 234, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null,
      costUsd: 0.00484, inputCostUsd: 0.0025, toolFeesUsd: 0,
    }),
  );

describe.skipIf(!browserHere)('web dashboard page state in Chromium', () => {
  const gw = useUsageGateway(config, { seed, startMs: NOW });
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());

  const openPage = (): Promise<{ page: Page; errors: string[] }> => newPage(browser);
  const todayFigure = (page: Page) => section(page, 'Today').locator('.figure');

  it('names the organization, the time zone and the moment the figures are for', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${gw().url}/dashboard?org=busy#key=${ADMIN}`);
    await expect.poll(() => todayFigure(page).textContent()).toBe('3,702 tokens');
    // "Today" is the gateway's day (server.timezone), not the browser's: 03:30 on the 5th in New York.
    expect(await page.locator('#shown').textContent()).toBe('busy · as of 2026-12-05 03:30 America/New_York (days and months start at midnight there)');
    expect(await section(page, 'Today').locator('.sub').textContent()).toBe('$0.01 · 3 requests');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("clears the figures when a load fails, so another organization's are never shown under the name typed", async () => {
    const { page, errors } = await openPage();
    await page.goto(`${gw().url}/dashboard?org=busy#key=${ADMIN}`);
    await expect.poll(() => todayFigure(page).textContent()).toBe('3,702 tokens');
    await page.fill('#org', 'bussy');
    await page.click('#load');
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/^Name a configured organization/);
    expect(await page.locator('main section').count()).toBe(0);
    expect(await page.locator('#shown').count()).toBe(0);

    await page.fill('#org', 'busy');
    await page.click('#load');
    await expect.poll(() => todayFigure(page).textContent()).toBe('3,702 tokens');
    await page.fill('#key', 'not-the-admin-key');
    await page.click('#load');
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/admin key/i);
    expect(await page.locator('main section').count()).toBe(0);
    expect(errors.filter((e) => !/Failed to load resource: .* (400|401)/.test(e))).toEqual([]);
    await page.close();
  });

  it('shows an organization without calls as zeros, the chart scale included, and loads on Enter', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${gw().url}/dashboard`);
    await page.fill('#org', 'idle');
    await page.fill('#key', ADMIN);
    await page.press('#key', 'Enter');
    await expect.poll(() => todayFigure(page).textContent()).toBe('0 tokens');
    expect(await section(page, 'Today').locator('.sub').textContent()).toBe('$0.00 · 0 requests');
    // The chart's scale says what its tallest bar is worth: nothing, not "1".
    expect(await section(page, 'Tokens per day (burn rate)').locator('svg > text').first().textContent()).toBe('0');
    expect(await section(page, 'Limits').locator('.sub').textContent()).toBe('0 of 5,000 (0%)');
    expect(await section(page, 'Alerts').textContent()).toContain('No active alerts.');
    expect(errors).toEqual([]);
    await page.close();
  });
});
