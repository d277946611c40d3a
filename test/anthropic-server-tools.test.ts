// Anthropic's server tools (web search, web fetch, code execution, MCP servers) run inside the provider and
// bill what they read as input tokens, which the request body never shows. Concurrent web-search calls
// must not pass a hard limit many times over: each reserves an allowance for that input, as a Responses
// call does for stored context. The official SDK against a gateway in front of a small upstream that
// answers like a web-search turn (30,000 input tokens billed for a one-line question).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

const BILLED_INPUT = 30_000;
let server: Server;
let gw: TestGateway;

/** Answers every call after 100 ms; a call with a web_search tool reports the search results it read as input. */
function startSearchUpstream(): Promise<string> {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; tools?: Array<{ type?: string }> };
      const searched = body.tools?.some((t) => t.type?.startsWith('web_search_')) === true;
      const content = searched
        ? [
            { type: 'server_tool_use', id: 'srvtoolu_01', name: 'web_search', input: { query: 'news' } },
            { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_01', content: [] },
            { type: 'text', text: 'Here is the news.' },
          ]
        : [{ type: 'text', text: 'Hello.' }];
      const usage = {
        input_tokens: searched ? BILLED_INPUT : 12,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 50,
        ...(searched ? { server_tool_use: { web_search_requests: 3 } } : {}),
      };
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_upstream' });
        res.end(JSON.stringify({ id: 'msg_01', type: 'message', role: 'assistant', model: body.model, content, stop_reason: 'end_turn', stop_sequence: null, usage }));
      }, 100);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

const config = (url: string): string => `
server: {timezone: UTC}
providers:
  claude: {type: anthropic, base_url: "${url}"}
projects:
  small: {daily_limit: 20000}
  big: {daily_limit: 10000000}
routes:
  claude:
    chat_models: [{model_id: claude, model: claude/claude-sonnet-4-5}]
keys:
  - {id: s, key: tg-small, project: small}
  - {id: b, key: tg-big, project: big}
`;

const client = (key: string): Anthropic => new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0 });
const ask = [{ role: 'user' as const, content: "What's in the news today?" }];
const webSearch = [{ type: 'web_search_20250305' as const, name: 'web_search' as const, max_uses: 3 }];

beforeAll(async () => {
  gw = await startTestGateway(config(await startSearchUpstream()));
});
afterAll(async () => {
  await gw?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('server tools bring input the body does not show', () => {
  it('concurrent web-search calls pass a hard limit by at most one call, not many times over', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        client('tg-small')
          .messages.create({ model: 'claude', max_tokens: 500, messages: ask, tools: webSearch })
          .then(() => 'ok' as const, (e: unknown) => (e instanceof Anthropic.RateLimitError ? ('429' as const) : e)),
      ),
    );
    expect(outcomes.filter((o) => o !== 'ok' && o !== '429')).toEqual([]);
    // One call's reservation takes the whole window: the others wait for the next.
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    const settled = gw.calls.filter((c) => c.principal.keyId === 's' && c.status === 200);
    const used = settled.reduce((n, c) => n + c.usage.input + c.usage.output, 0);
    expect(used).toBe(BILLED_INPUT + 50);
    expect(await gw.store.openReservations()).toBe(0);
  });

  it('reserves the allowance only for calls with server tools', async () => {
    await client('tg-big').messages.create({ model: 'claude', max_tokens: 100, messages: ask });
    const plain = gw.calls.at(-1)!;
    expect(plain.reserved.input).toBeLessThan(100);
    await client('tg-big').messages.create({ model: 'claude', max_tokens: 100, messages: ask, tools: webSearch });
    const searched = gw.calls.at(-1)!;
    // enforcement.stored_context_tokens (128,000) on top of the body's estimate.
    expect(searched.reserved.input).toBeGreaterThanOrEqual(128_000);
    expect(searched.usage.input).toBe(BILLED_INPUT);
  });
});
