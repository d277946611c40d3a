// Regression: a 529 (Anthropic's overloaded_error) went out as "HTTP/1.1 529 unknown", Node having no name
// for it, and so did Cloudflare's 52x (an origin behind Cloudflare failing). Read from the raw status line,
// as a proxy or a raw HTTP client logs it: "529 Overloaded", "524 A Timeout Occurred".
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstreamUrl } = useBehindMock(
  { latencyMs: 0, outputTokens: 5 },
  (url) => `
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: sk-up}
users:
  t: {daily_limit: 1000000}
routes:
  main:
    chat_models: [{model_id: claude-sonnet-4, model: claude/claude-sonnet-4-20250514}]
keys: [{id: alice, key: tg-alice, user: alice, tier: t}]
`,
);

/** POSTs `body` on a fresh connection; resolves to the response's status line and body. */
function rawPost(base: string, path: string, body: object): Promise<{ statusLine: string; body: string }> {
  const { hostname, port } = new URL(base);
  const json = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () =>
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nx-api-key: tg-alice\r\nanthropic-version: 2023-06-01\r\n` +
          `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
      ),
    );
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('end', () => resolve({ statusLine: text.slice(0, text.indexOf('\r\n')), body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
    socket.on('error', reject);
  });
}

const overloaded = { model: 'claude-sonnet-4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], mock_error_status: 529 };

describe('a 529 passed on from the upstream', () => {
  it('has the status line "529 Overloaded" on /v1/messages, streamed or not, and on count_tokens', async () => {
    for (const [path, body] of [
      ['/v1/messages', overloaded],
      ['/v1/messages', { ...overloaded, stream: true }],
      ['/v1/messages/count_tokens', { ...overloaded, max_tokens: undefined }],
    ] as const) {
      const res = await rawPost(gw().url, path, body);
      expect(res.statusLine, path).toBe('HTTP/1.1 529 Overloaded');
      expect(res.body).toContain('"overloaded_error"');
    }
  });

  it('and on /v1/chat/completions, where an OpenAI client of the Claude model gets it', async () => {
    const res = await rawPost(gw().url, '/v1/chat/completions', overloaded);
    expect(res.statusLine).toBe('HTTP/1.1 529 Overloaded');
  });

  it('is sent so by the mock upstream too, as Anthropic does', async () => {
    const res = await rawPost(upstreamUrl(), '/v1/messages', overloaded);
    expect(res.statusLine).toBe('HTTP/1.1 529 Overloaded');
  });
});

describe("Cloudflare's 52x passed on from the upstream", () => {
  it('have their names on the status line, as Cloudflare sends them', async () => {
    for (const [status, reason] of [
      [520, 'Web Server Returned an Unknown Error'],
      [522, 'Connection Timed Out'],
      [524, 'A Timeout Occurred'],
    ] as const) {
      const res = await rawPost(gw().url, '/v1/chat/completions', { ...overloaded, mock_error_status: status });
      expect(res.statusLine).toBe(`HTTP/1.1 ${status} ${reason}`);
    }
  });
});
