// The web dashboard in a real browser (Debian's Chromium driven by playwright-core): the page fetches the
// dashboard API with the admin key and shows its figures, alerts and breakdowns as the API gives them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { haveBrowser, launchChromium, openPage as newPage, section } from './helpers/chromium.js';
import { useUsageGateway } from './helpers/usage-gateway.js';
import { ADMIN, NOW, config, seed } from './helpers/dashboard-alerts-seed.js';

const browserHere = haveBrowser();

interface DashboardJson {
  current_usage: { today: { tokens: number; requests: number } };
  alerts: Array<{ level: string; message: string }>;
  alerts_omitted: number;
  breakdown: { by_user: Array<{ user: string; tokens: number; others?: number }> };
}

describe.skipIf(!browserHere)('web dashboard in Chromium', () => {
  const gw = useUsageGateway(config, { seed, startMs: NOW });
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());

  const api = async (org: string): Promise<DashboardJson> => {
    const res = await fetch(`${gw().url}/api/tokens/dashboard?org=${org}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return res.json() as Promise<DashboardJson>;
  };
  const openPage = (): Promise<{ page: Page; errors: string[] }> => newPage(browser);
  const number = (n: number): string => Math.round(n).toLocaleString('en-US');
  /** The page's section headed `title` (headings are exact; other sections may mention the word). */

  it("shows an organization's figures, its most pressing alerts and how many more there are", async () => {
    const d = await api('globex');
    expect(d.alerts_omitted).toBe(6);
    const { page, errors } = await openPage();
    // The key in the fragment never reaches the server; the page takes it out of the address bar.
    await page.goto(`${gw().url}/dashboard?org=globex#key=${ADMIN}`);
    await page.locator('.figure').first().waitFor();
    expect(new URL(page.url()).hash).toBe('');

    expect(await section(page, 'Today').locator('.figure').textContent()).toBe(`${number(d.current_usage.today.tokens)} tokens`);
    const shown = await section(page, 'Alerts').locator('.alert').allTextContents();
    expect(shown).toEqual(d.alerts.map((a) => a.message));
    expect(await section(page, 'Alerts').locator('.alert.critical').count()).toBe(d.alerts.filter((a) => a.level === 'critical').length);
    expect(await page.locator('#alerts-omitted').textContent()).toBe('6 more limits are past a threshold (the most pressing are shown).');

    const userRows = section(page, 'By user').locator('tr');
    expect(await userRows.count()).toBe(d.breakdown.by_user.length + 1);
    const first = d.breakdown.by_user[0];
    expect(await userRows.nth(1).locator('td').allTextContents()).toEqual(expect.arrayContaining([first.user, number(first.tokens)]));
    expect(errors).toEqual([]);
    await page.close();
  });

  // Regression test from a FinOps review: costs under $0.0001 read `$0.0000`, as if free, and $0.01 of $0.01 looked spent.
  it('writes money so that no cost reads as free: cents from one cent up, two significant digits below', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${gw().url}/dashboard?org=initech#key=${ADMIN}`);
    await page.locator('.figure').first().waitFor();
    const costOf = async (user: string): Promise<string | null> =>
      section(page, 'By user').locator('tr').filter({ has: page.getByRole('cell', { name: user, exact: true }) }).locator('td').nth(2).textContent();
    expect(await costOf('tiny')).toBe('$0.0000025');
    expect(await costOf('pat')).toBe('$0.01');
    expect(await costOf('big')).toBe('$1,234.57');
    expect(await section(page, 'Today').locator('.sub').textContent()).toMatch(/^\$0\.01 · /);
    expect(await section(page, 'This month').locator('.sub').textContent()).toMatch(/^\$1,234\.58 · /);
    // The limit's meter tells the dollars used from the dollars allowed, and 99.975% from 100%, as the alert does.
    expect(await section(page, 'Limits').locator('.sub').textContent()).toBe('$0.009998 of $0.01 (99.9%)');
    expect(await section(page, 'Alerts').locator('.alert').allTextContents()).toEqual(['org:initech:daily is at 99.9% of its limit ($0.009998 of $0.01; action: warn).']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("passes the address's ?top= to the API and shows the rest as one row", async () => {
    const all = await api('globex');
    // Every user, counting those the API's default cut already folded into its last entry.
    const users = all.breakdown.by_user.reduce((n, u) => n + (u.others ?? 1), 0);
    expect(users).toBeGreaterThan(2);
    const { page, errors } = await openPage();
    await page.goto(`${gw().url}/dashboard?org=globex&top=1#key=${ADMIN}`);
    await page.locator('.figure').first().waitFor();
    const userRows = section(page, 'By user').locator('tr');
    // The heading row, the costliest user, and one row for the others.
    expect(await userRows.count()).toBe(3);
    expect(await userRows.nth(1).locator('td').first().textContent()).toBe(all.breakdown.by_user[0].user);
    expect(await userRows.nth(2).locator('td').first().textContent()).toBe(`${users - 1} others`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("follows the address's organization with the tab's key, and says why when the admin key is wrong", async () => {
    const acme = await api('acme');
    const { page, errors } = await openPage();
    await page.goto(`${gw().url}/dashboard?org=globex#key=${ADMIN}`);
    await page.locator('.figure').first().waitFor();
    // Another organization's address in the same tab: the key comes from the tab, the organization from the address.
    await page.goto(`${gw().url}/dashboard?org=acme`);
    await page.locator('.figure').first().waitFor();
    expect(await page.inputValue('#org')).toBe('acme');
    expect(await section(page, 'Alerts').locator('.alert').count()).toBe(acme.alerts.length);
    expect(await page.locator('#alerts-omitted').count()).toBe(0);

    await page.fill('#key', 'not-the-admin-key');
    await page.click('#load');
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/admin key/i);
    // The refused fetch is the browser's own console line; nothing else went wrong.
    expect(errors.filter((e) => !/Failed to load resource: .* 401/.test(e))).toEqual([]);
    await page.close();
  });

  it('says so when the answer is not the API (a proxy error page, the network), and is never framed', async () => {
    const { page, errors } = await openPage();
    const response = await page.goto(`${gw().url}/dashboard?org=globex#key=${ADMIN}`);
    expect(response!.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await page.locator('.figure').first().waitFor();
    await page.route('**/api/tokens/dashboard*', (route) => route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body>Bad Gateway</body></html>' }));
    await page.click('#load');
    await expect.poll(() => page.locator('#error').textContent()).toBe("HTTP 502 (not the dashboard API's JSON)");
    await page.route('**/api/tokens/dashboard*', (route) => route.abort('connectionrefused'));
    await page.click('#load');
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/^Could not reach the gateway: /);
    // The failed loads are the browser's console errors here; nothing was thrown by the page.
    expect(errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
    await page.close();
  });
});
