// A security pass on live processes: `tollgate mock-upstream --api-key sk-up` behind a recording proxy,
// and `tollgate serve` at log level debug with a SQLite ledger and an admin key. Every endpoint that goes
// upstream (chat, completions, embeddings, responses and its retrieval routes, conversations, messages,
// count_tokens, chat translated to Claude) is called with the client's key and every header that must
// not pass (cookies, proxy credentials, forwarding, hop-by-hop, the client's OpenAI organization): each
// reaches the configured upstream with the provider key alone, and none of the client's secrets is in
// the process's output, the ledger's files, /metrics, the dashboard API or the audit.
import { request as httpRequest, createServer, type IncomingMessage, type Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const CLIENT_KEY = 'tg-s38sec-Client0Key1Secret2abcdef';
const ADMIN_KEY = 'adm-s38sec-Admin0Key1Secret2abcdef';
const PROVIDER_KEY = 'sk-up';
const COOKIE = 'session=s38sec-Cookie0Secret';
const PROXY_CREDENTIAL = 'Basic czM4c2VjLVByb3h5MFNlY3JldA==';

interface Seen { method: string; url: string; headers: IncomingMessage['headers'] }
let upstream: RunningProcess;
let gateway: RunningProcess;
let recorder: Server;
let ledgerDir: string;
const seen: Seen[] = [];
let proxyPort: number;

beforeAll(async () => {
  upstream = await startCli(['mock-upstream', '--port', '0', '--output-tokens', '4', '--latency-ms', '0', '--api-key', PROVIDER_KEY]);
  // Records what reaches the upstream, then passes it on unchanged.
  recorder = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    const out = httpRequest({ host: '127.0.0.1', port: Number(new URL(upstream.url).port), method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  proxyPort = (recorder.address() as AddressInfo).port;
  const config = writeConfig(`
server: {admin_key: \${S38SEC_ADMIN}}
storage: {counters: memory, ledger: "sqlite:./ledger.db"}
providers:
  oai: {type: openai, base_url: "http://127.0.0.1:${proxyPort}/v1", api_key: ${PROVIDER_KEY}}
  ant: {type: anthropic, base_url: "http://127.0.0.1:${proxyPort}", api_key: ${PROVIDER_KEY}}
routes:
  r1:
    chat_models: [{model_id: gpt-4o, model: oai/gpt-4o}, {model_id: claude-sonnet-4-5, model: ant/claude-sonnet-4-5}]
    embedding_models: [{model_id: text-embedding-3-small, model: oai/text-embedding-3-small}]
keys: [{id: alice, key: \${S38SEC_CLIENT}}]
`);
  ledgerDir = path.dirname(config);
  gateway = await startCli(['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], {
    S38SEC_ADMIN: ADMIN_KEY,
    S38SEC_CLIENT: CLIENT_KEY,
    TOLLGATE_LOG_LEVEL: 'debug',
  });
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
  await new Promise((r) => recorder?.close(r));
});

/** The headers a hostile or careless client adds; none may go upstream. */
const CLIENT_HEADERS: Record<string, string> = {
  authorization: `Bearer ${CLIENT_KEY}`,
  'x-api-key': CLIENT_KEY,
  cookie: COOKIE,
  'proxy-authorization': PROXY_CREDENTIAL,
  'proxy-connection': 'keep-alive',
  'keep-alive': 'timeout=5',
  connection: 'keep-alive, x-hop',
  'x-hop': 'hop-value',
  'x-forwarded-for': '203.0.113.9',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  forwarded: 'for=203.0.113.9;host=evil.example',
  'x-real-ip': '203.0.113.9',
  'x-original-url': '/admin',
  'openai-organization': 'org-of-the-client',
  'openai-project': 'proj-of-the-client',
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
};

/** One request through node:http (fetch refuses hop-by-hop headers), with `Host` a stranger's. */
function call(method: string, target: string, body?: object): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      { host: '127.0.0.1', port: Number(new URL(gateway.url).port), method, path: target, headers: { ...CLIENT_HEADERS, host: 'evil.example', ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const hi = [{ role: 'user', content: 'hi' }];

describe('every endpoint that goes upstream, on a live gateway', () => {
  it("sends the provider key alone, to the configured upstream, and leaves the client's secrets nowhere", async () => {
    const answers: string[] = [];
    const ok = async (method: string, target: string, body?: object) => {
      const { status, text } = await call(method, target, body);
      answers.push(text);
      expect(status, `${method} ${target}: ${text.slice(0, 200)}`).toBe(200);
      return text;
    };
    await ok('POST', '/v1/chat/completions', { model: 'gpt-4o', messages: hi, max_tokens: 4 });
    await ok('POST', '/v1/chat/completions', { model: 'gpt-4o', messages: hi, max_tokens: 4, stream: true });
    await ok('POST', '/v1/chat/completions', { model: 'claude-sonnet-4-5', messages: hi, max_tokens: 4 });
    await ok('POST', '/v1/completions', { model: 'gpt-4o', prompt: 'hi', max_tokens: 4 });
    await ok('POST', '/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' });
    await ok('POST', '/v1/messages', { model: 'claude-sonnet-4-5', messages: hi, max_tokens: 4 });
    await ok('POST', '/v1/messages', { model: 'claude-sonnet-4-5', messages: hi, max_tokens: 4, stream: true });
    await ok('POST', '/v1/messages/count_tokens', { model: 'claude-sonnet-4-5', messages: hi });
    const response = JSON.parse(await ok('POST', '/v1/responses', { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, store: true, background: true })) as { id: string };
    await ok('GET', `/v1/responses/${response.id}`);
    await ok('GET', `/v1/responses/${response.id}/input_items`);
    await ok('POST', `/v1/responses/${response.id}/cancel`);
    await ok('DELETE', `/v1/responses/${response.id}`);
    const conversation = JSON.parse(await ok('POST', '/v1/conversations', {})) as { id: string };
    await ok('GET', `/v1/conversations/${conversation.id}`);
    await ok('POST', `/v1/conversations/${conversation.id}`, { metadata: { a: 'b' } });
    const items = JSON.parse(await ok('POST', `/v1/conversations/${conversation.id}/items`, { items: [{ type: 'message', role: 'user', content: 'x' }] })) as { data: { id: string }[] };
    await ok('GET', `/v1/conversations/${conversation.id}/items`);
    await ok('GET', `/v1/conversations/${conversation.id}/items/${items.data[0].id}`);
    await ok('DELETE', `/v1/conversations/${conversation.id}/items/${items.data[0].id}`);
    await ok('DELETE', `/v1/conversations/${conversation.id}`);
    await ok('GET', '/v1/models');
    // With anthropic-version sent (as here), the models are those /v1/messages serves.
    await ok('GET', '/v1/models/claude-sonnet-4-5');

    // 19 calls went upstream (models are answered by the gateway), every one with the provider key alone.
    expect(seen.length).toBeGreaterThanOrEqual(19);
    for (const s of seen) {
      const where = `${s.method} ${s.url}`;
      expect(s.headers.host, where).toBe(`127.0.0.1:${proxyPort}`);
      expect(s.url, where).toMatch(/^\/v1\/(chat\/completions|completions|embeddings|messages(\/count_tokens)?|responses|conversations)(\/|$)/);
      const anthropic = s.url.startsWith('/v1/messages');
      expect(anthropic ? s.headers['x-api-key'] : s.headers.authorization, where).toBe(anthropic ? PROVIDER_KEY : `Bearer ${PROVIDER_KEY}`);
      expect(anthropic ? s.headers.authorization : s.headers['x-api-key'], where).toBeUndefined();
      for (const name of ['cookie', 'proxy-authorization', 'proxy-connection', 'keep-alive', 'x-hop', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-real-ip', 'x-original-url', 'openai-organization', 'openai-project']) {
        expect(s.headers[name], `${where} ${name}`).toBeUndefined();
      }
      expect(JSON.stringify(s.headers), where).not.toContain(CLIENT_KEY);
    }

    // Refusals: a wrong or missing admin key, and the client's key as one, on both admin endpoints.
    for (const p of ['/api/tokens/dashboard', '/api/audit']) {
      for (const headers of <Record<string, string>[]>[{}, { authorization: `Bearer ${CLIENT_KEY}` }, { authorization: `Bearer ${ADMIN_KEY}x` }, { 'x-api-key': ADMIN_KEY }, { authorization: `Basic ${ADMIN_KEY}` }]) {
        const r = await fetch(`${gateway.url}${p}`, { headers });
        expect(r.status, `${p} ${JSON.stringify(headers)}`).toBe(401);
        answers.push(await r.text());
      }
    }
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const readable = [
      await (await fetch(`${gateway.url}/api/tokens/dashboard?top=100`, { headers: admin })).text(),
      await (await fetch(`${gateway.url}/api/audit`, { headers: admin })).text(),
      await (await fetch(`${gateway.url}/metrics`)).text(),
      await (await fetch(`${gateway.url}/dashboard`)).text(),
    ];
    expect(readable[0]).toContain('alice');
    await gateway.stop();
    // Only after the stop: the ledger's rows are flushed to its files.
    const ledgerFiles = readdirSync(ledgerDir).filter((f) => f.startsWith('ledger.db')).map((f) => readFileSync(path.join(ledgerDir, f)).toString('latin1'));
    expect(ledgerFiles.join('')).toContain('alice');
    const everywhere = [gateway.output(), ...answers, ...readable, ...ledgerFiles].join('\n');
    for (const secret of [CLIENT_KEY, ADMIN_KEY, 'Cookie0Secret', PROXY_CREDENTIAL, `Bearer ${PROVIDER_KEY}`]) expect(everywhere).not.toContain(secret);
  }, 20_000);
});
