// Requests at the edges of HTTP that Node or fastify answered on their own, before the gateway saw them:
// in neither API's error format and with no request id (a bare 400, a 417, fastify's
// `{"error":"Bad Request","code":"FST_ERR_BAD_URL"}`), refused where the APIs serve them (a byte order
// mark), or charged to one of two keys without a word (two Authorization headers). Found by a QA pass at
// the HTTP layer with raw sockets and the official SDKs.
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 3, apiKey: 'sk-up' }, (url) => `
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: sk-up}
  anthropic: {type: anthropic, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}, {model_id: claude, model: anthropic/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k, project: p}]
`);
beforeEach(() => upstream().clearRequests());

const chat = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 });

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `bytes` on a new connection and reads the one answer until the gateway closes it. */
function rawRequest(bytes: string | Buffer): Promise<RawAnswer> {
  const port = Number(new URL(gw().url).port);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

describe('paths the router cannot decode', () => {
  it("are refused in the endpoint's own error format with a request id, naming no framework", async () => {
    const openai = await fetch(`${gw().url}/v1/models/%ZZ`, { headers: { authorization: 'Bearer tg-k' } });
    expect(openai.status).toBe(400);
    expect(openai.headers.get('x-request-id')).toMatch(/^req_/);
    const openaiText = await openai.text();
    expect(openaiText).not.toMatch(/FST_|fastify/i);
    expect(JSON.parse(openaiText)).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_request', message: expect.stringContaining('%ZZ') } });

    const anthropic = await fetch(`${gw().url}/v1/messages/%ZZ`, {
      method: 'POST',
      headers: { 'x-api-key': 'tg-k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(anthropic.status).toBe(400);
    expect(anthropic.headers.get('request-id')).toMatch(/^req_/);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' }, request_id: expect.stringMatching(/^req_/) });
    expect(upstream().requests()).toHaveLength(0);
  });

  it("answer a stored-response id past 256 characters as any unknown id (OpenAI's 404), not with fastify's 414", async () => {
    const res = await fetch(`${gw().url}/v1/responses/resp_${'a'.repeat(300)}`, { headers: { authorization: 'Bearer tg-k' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/not found/) } });
    expect(upstream().requests()).toHaveLength(0);
  });
});

describe('the Host header', () => {
  it("missing from an HTTP/1.1 request: a 400 in the API's format with a request id (Node's own was an empty body)", async () => {
    const res = await rawRequest(`POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`);
    expect(res.status).toBe(400);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'malformed_http', message: expect.stringContaining('Host') } });
    expect(upstream().requests()).toHaveLength(0);
  });

  it('may be left out by an HTTP/1.0 client, which is served', async () => {
    const res = await rawRequest(`POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`);
    expect(res.status).toBe(200);
    expect(upstream().requests()).toHaveLength(1);
  });
});

describe('an Expect header other than 100-continue', () => {
  it('is ignored, as nginx does, and the call served once (Node answered a bare 417)', async () => {
    const res = await rawRequest(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nExpect: something-else\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`,
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ object: 'chat.completion' });
    expect(upstream().requests()).toHaveLength(1);
  });
});

describe('a JSON body that starts with a UTF-8 byte order mark', () => {
  it('is read as JSON (RFC 8259 lets a parser ignore it, as Python’s and fastify’s do), and goes upstream without it', async () => {
    const res = await fetch(`${gw().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
      body: Uint8Array.from(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(chat)])),
    });
    expect(res.status).toBe(200);
    const sent = upstream().requests();
    expect(sent).toHaveLength(1);
    expect(sent[0].text.charCodeAt(0)).toBe('{'.charCodeAt(0));
    expect(sent[0].body).toMatchObject({ model: 'gpt-4o', max_tokens: 3 });
  });
});

describe('two Authorization headers', () => {
  // Node keeps the first and drops the other: a proxy that appends its own key (Envoy's
  // `append: true`) had the client's charged, or its own, depending on the order, and no one told.
  const twoAuthorizations = (second: string) =>
    rawRequest(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nAuthorization: Bearer tg-k\r\nAuthorization: ${second}\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`,
    );

  it('naming different keys are refused as ambiguous, as a Bearer and an x-api-key that differ are, and nothing goes upstream', async () => {
    const res = await twoAuthorizations('Bearer tg-other');
    expect(res.status).toBe(401);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'ambiguous_api_key' } });
    const models = await rawRequest('GET /v1/models HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nAuthorization: Bearer tg-k\r\nAuthorization: Bearer tg-other\r\n\r\n');
    expect(models.status).toBe(401);
    expect(upstream().requests()).toHaveLength(0);
  });

  it('naming the same key are served', async () => {
    const res = await twoAuthorizations('bearer  tg-k');
    expect(res.status).toBe(200);
    expect(upstream().requests()).toHaveLength(1);
  });
});

describe('a CONNECT request (a client whose HTTPS_PROXY names the gateway)', () => {
  it('is told the endpoint is unknown, in OpenAI’s format with a request id, instead of a connection closed without a word', async () => {
    const res = await rawRequest('CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n');
    expect(res.status).toBe(404);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'not_found', message: expect.stringContaining('CONNECT api.openai.com:443') } });
  });
});

// A request body in a transfer coding other than chunked (`Transfer-Encoding: gzip, chunked`): Node takes
// the chunks off and hands the gateway the still-compressed bytes, which it parsed as JSON (a 400 "not
// valid JSON" that named no cause) or, when they were not compressed after all, served as if the header
// said chunked. Now a 400 naming the coding, in the API's error format, the body unread, nothing upstream.

/** `body` as one chunk and the last, as chunked transfer coding frames it. */
const chunked = (body: Buffer): Buffer => Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
/** A request of `head` (its request line and headers but Host) and `body`, on a connection to be closed. */
const withBody = (head: string, body: Buffer): Buffer => Buffer.concat([Buffer.from(`${head}Host: x\r\nConnection: close\r\n\r\n`), body]);

describe('Transfer-Encoding', () => {
  it('gzip before chunked is refused with a 400 naming the coding, in OpenAI’s format, and nothing goes upstream', async () => {
    const res = await rawRequest(
      withBody(
        'POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n',
        chunked(gzipSync(chat)),
      ),
    );
    expect(res.status).toBe(400);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expect(JSON.parse(res.body)).toMatchObject({ error: { type: 'invalid_request_error', code: 'unsupported_transfer_coding', message: expect.stringContaining("Transfer-Encoding 'gzip, chunked'") } });
    expect(upstream().requests()).toHaveLength(0);
  });

  it('in Anthropic’s format on /v1/messages, even when the body was not encoded after all (it was served)', async () => {
    const body = JSON.stringify({ model: 'claude', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] });
    const res = await rawRequest(
      withBody(
        'POST /v1/messages HTTP/1.1\r\nx-api-key: tg-k\r\nanthropic-version: 2023-06-01\r\nContent-Type: application/json\r\nTransfer-Encoding: deflate, chunked\r\n',
        chunked(Buffer.from(body)),
      ),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining("'deflate, chunked'") } });
    expect(upstream().requests()).toHaveLength(0);
  });

  it('chunked alone, in any case, is served', async () => {
    const res = await rawRequest(
      withBody(
        'POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nTransfer-Encoding: Chunked\r\n',
        chunked(Buffer.from(chat)),
      ),
    );
    expect(res.status).toBe(200);
    expect(upstream().requests()).toHaveLength(1);
  });

  it('gzip alone is left to Node, which refuses it: one 400 in OpenAI’s format, not two answers', async () => {
    const res = await rawRequest(
      withBody(
        'POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer tg-k\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n',
        gzipSync(chat),
      ),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'malformed_http' } }); // a second answer after it would not parse
    expect(upstream().requests()).toHaveLength(0);
  });
});
