// Browser apps on another origin calling the gateway (server.cors_origins), in a real browser (Debian's
// Chromium driven by playwright-core): pages served by a local node:http server call the gateway with fetch.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { haveBrowser, launchChromium } from './helpers/chromium.js';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

const browserHere = haveBrowser();

/** A web app's origin: one empty page, served from its own port (another port is another origin). */
async function servePage(): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>tool</title>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe.skipIf(!browserHere)('browser apps calling the gateway (CORS) in Chromium', () => {
  let browser: Browser;
  let gw: TestGateway;
  let allowed: { origin: string; server: Server };
  let other: { origin: string; server: Server };
  beforeAll(async () => {
    allowed = await servePage();
    other = await servePage();
    gw = await startTestGateway(`
server: {cors_origins: ["${allowed.origin}"]}
providers: {demo: {type: mock, output_tokens: 10}}
users: {web: {rate_limit: 2, daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
  - {id: tool, key: tg-web-tool, user: tool, tier: web, routes: [r]}
  - {id: claude, key: tg-web-claude, user: claude, tier: web, routes: [r]}
`);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    allowed?.server.close();
    other?.server.close();
  });

  const openPage = async (origin: string): Promise<{ page: Page; consoleErrors: string[] }> => {
    const page = await browser.newPage();
    page.setDefaultTimeout(5000);
    const consoleErrors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
    await page.goto(`${origin}/`);
    return { page, consoleErrors };
  };

  it('lets an allowed origin call with a Bearer key and read the rate-limit headers, a 429 and a stream', async () => {
    const { page } = await openPage(allowed.origin);
    const seen = await page.evaluate(async (gateway) => {
      // Headers the openai SDK sends from a browser too: each one must pass the preflight.
      const headers = { authorization: 'Bearer tg-web-tool', 'content-type': 'application/json', 'x-stainless-os': 'Linux', 'x-tollgate-tags': 'app=tool' };
      const call = (stream: boolean) =>
        fetch(`${gateway}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }) });
      const first = await call(false);
      const body = (await first.json()) as { choices: Array<{ message: { content: string } }> };
      const streamed = await call(true);
      let text = '';
      const reader = streamed.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (let part = await reader.read(); !part.done; part = await reader.read()) text += part.value;
      const refused = await call(false);
      return {
        status: first.status,
        content: body.choices[0].message.content,
        remainingTokens: first.headers.get('x-ratelimit-remaining-tokens'),
        remainingRequests: first.headers.get('x-ratelimit-remaining-requests'),
        requestId: first.headers.get('x-tollgate-request-id'),
        streamType: streamed.headers.get('content-type'),
        streamEvents: text.split('\n\n').filter((e) => e.startsWith('data: ')).length,
        streamDone: text.includes('data: [DONE]'),
        refusedStatus: refused.status,
        retryAfter: refused.headers.get('retry-after'),
        limit: refused.headers.get('x-tollgate-limit'),
        refusedBody: await refused.json(),
      };
    }, gw.url);
    expect(seen.status).toBe(200);
    expect(seen.content.length).toBeGreaterThan(0);
    // Unexposed headers read as null in a browser: these are what the page budgets with.
    expect(seen.remainingTokens).toMatch(/^\d+$/);
    expect(seen.remainingRequests).toBe('1');
    expect(seen.requestId).toMatch(/^req_/);
    expect(seen.streamType).toMatch(/^text\/event-stream/);
    expect(seen.streamEvents).toBeGreaterThan(2);
    expect(seen.streamDone).toBe(true);
    expect(seen.refusedStatus).toBe(429);
    expect(seen.retryAfter).toMatch(/^\d+$/);
    expect(seen.limit).toBe('user:tool:rate');
    expect(seen.refusedBody).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded', message: expect.stringContaining("User 'tool' (tier web) rate limit reached") } });
    await page.close();
  });

  it('lets it call the Anthropic endpoint as the anthropic SDK does from a browser', async () => {
    const { page } = await openPage(allowed.origin);
    const seen = await page.evaluate(async (gateway) => {
      const res = await fetch(`${gateway}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': 'tg-web-claude', 'anthropic-version': '2023-06-01', 'anthropic-dangerous-direct-browser-access': 'true', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
      });
      return { status: res.status, type: ((await res.json()) as { type: string }).type, requestId: res.headers.get('request-id'), remaining: res.headers.get('anthropic-ratelimit-requests-remaining') };
    }, gw.url);
    expect(seen).toEqual({ status: 200, type: 'message', requestId: expect.stringMatching(/^req_/), remaining: '1' });
    await page.close();
  });

  it('blocks an origin that is not on the list: fetch fails with a CORS error, before any call is made', async () => {
    const calls = gw.calls.length;
    const { page, consoleErrors } = await openPage(other.origin);
    const error = await page.evaluate(async (gateway) => {
      try {
        await fetch(`${gateway}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: 'Bearer tg-web-tool', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
        });
        return 'no error';
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
    }, gw.url);
    expect(error).toBe('TypeError: Failed to fetch');
    await expect.poll(() => consoleErrors.join('\n')).toMatch(/blocked by CORS policy/);
    // The preflight was refused, so the call itself was never sent.
    expect(gw.calls.length).toBe(calls);
    await page.close();
  });
});
