// A request body in a transfer coding other than chunked (`Transfer-Encoding: gzip, chunked`): Node takes
// the chunks off and hands the gateway the still-compressed bytes, which it parsed as JSON (a 400 "not
// valid JSON" that named no cause) or, when they were not compressed after all, served as if the header
// said chunked. Now a 400 naming the coding, in the API's error format, the body unread, nothing upstream.
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ apiKey: 'sk-up' }, (url) => `
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}
  anthropic: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}, {model_id: claude, model: anthropic/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
beforeEach(() => upstream().clearRequests());

const chat = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 });

/** `body` as one chunk and the last, as chunked transfer coding frames it. */
const chunked = (body: Buffer): Buffer => Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);

/** Writes `head` and `body` on a new connection and reads the answer until the gateway closes the connection. */
function rawRequest(head: string, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const port = Number(new URL(gw().url).port);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat([Buffer.from(`${head}Host: x\r\nConnection: close\r\n\r\n`), body])));
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('close', () => {
      const [headText, ...rest] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n');
      const [statusLine, ...lines] = headText.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

describe('Transfer-Encoding', () => {
  it('gzip before chunked is refused with a 400 naming the coding, in OpenAI’s format, and nothing goes upstream', async () => {
    const res = await rawRequest(
      'POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n',
      chunked(gzipSync(chat)),
    );
    expect(res.status).toBe(400);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expect(JSON.parse(res.body)).toMatchObject({ error: { type: 'invalid_request_error', code: 'unsupported_transfer_coding', message: expect.stringContaining("Transfer-Encoding 'gzip, chunked'") } });
    expect(upstream().requests()).toHaveLength(0);
  });

  it('in Anthropic’s format on /v1/messages, even when the body was not encoded after all (it was served)', async () => {
    const body = JSON.stringify({ model: 'claude', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] });
    const res = await rawRequest(
      'POST /v1/messages HTTP/1.1\r\nx-api-key: tg-k\r\nanthropic-version: 2023-06-01\r\nContent-Type: application/json\r\nTransfer-Encoding: deflate, chunked\r\n',
      chunked(Buffer.from(body)),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining("'deflate, chunked'") } });
    expect(upstream().requests()).toHaveLength(0);
  });

  it('chunked alone, in any case, is served', async () => {
    const res = await rawRequest(
      'POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nTransfer-Encoding: Chunked\r\n',
      chunked(Buffer.from(chat)),
    );
    expect(res.status).toBe(200);
    expect(upstream().requests()).toHaveLength(1);
  });

  it('gzip alone is left to Node, which refuses it: one 400 in OpenAI’s format, not two answers', async () => {
    const res = await rawRequest(
      'POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n',
      gzipSync(chat),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'malformed_http' } }); // a second answer after it would not parse
    expect(upstream().requests()).toHaveLength(0);
  });
});
