// Regressions from a security audit, against real `tollgate serve` and `tollgate check` processes:
// - `Content-Encoding: constructor` hung the request forever (the decoder table was an object literal,
//   so the client's name found `Object`), with or without a key; `__proto__` was a 500 and an error log line.
// - Requests no endpoint reads a body for (unknown paths, OPTIONS, DELETE) had their body inflated and
//   parsed before the 404, without any key: 30 KB of gzip cost 10 MB of inflating and a JSON parse.
// - One object of 700,000 keys (9.7 MB, one container, so under the container cap) stalled the event loop
//   2 s per request: parsing, copying and serializing it for the upstream.
// - `tollgate check` printed an environment variable's value when an error named part of a scalar
//   (`model: "${VAR}/x"` gave "unknown provider `<the value>`").
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const CLIENT_KEY = 'tg-audit-client-key';
let upstream: RunningProcess;
let gateway: RunningProcess;

beforeAll(async () => {
  upstream = await startCli(['mock-upstream', '--port', '0', '--output-tokens', '5', '--api-key', 'sk-up']);
  const config = writeConfig(`
server: {max_body_bytes: 10485760}
providers:
  up: {type: openai, base_url: "${upstream.url}/v1", api_key: sk-up}
users:
  t: {daily_limit: 1000000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys: [{id: alice, key: \${TG_AUDIT_CLIENT_KEY}, user: alice, tier: t}]
`);
  gateway = await startCli(['serve', '--config', config, '--host', '127.0.0.1', '--port', '0'], { TG_AUDIT_CLIENT_KEY: CLIENT_KEY });
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

const hello = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });

/** Sends a request and gives up after 5 s: a request that hangs is the failure. */
async function send(method: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<{ status: number; code?: string }> {
  const res = await fetch(gateway.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : Uint8Array.from(body),
    signal: AbortSignal.timeout(5_000),
  });
  const json = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return { status: res.status, code: json.error?.code };
}

describe('Content-Encoding names that are Object members', () => {
  it('are refused at once as unsupported encodings, for a caller with a key', async () => {
    for (const encoding of ['constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const res = await send('POST', '/v1/chat/completions', { authorization: `Bearer ${CLIENT_KEY}`, 'content-encoding': encoding }, hello);
      expect({ encoding, ...res }).toEqual({ encoding, status: 415, code: 'unsupported_encoding' });
    }
  });

  it('do not hang or fail a request without a key on a path the gateway does not serve', async () => {
    for (const encoding of ['constructor', '__proto__']) {
      const res = await send('POST', '/v1/files', { 'content-encoding': encoding }, '{}');
      expect({ encoding, ...res }).toEqual({ encoding, status: 404, code: 'not_found' });
    }
    expect(gateway.output()).not.toContain('unhandled error');
  });
});

describe('bodies no endpoint reads', () => {
  it('are neither inflated nor parsed before the 404 or 405 (no key needed to reach it)', async () => {
    // Not JSON at all: parsing it would answer 400 invalid_json instead of the 404.
    expect(await send('POST', '/v1/files', {}, '{not json')).toEqual({ status: 404, code: 'not_found' });
    expect(await send('OPTIONS', '/api/audit', {}, '{not json')).toEqual({ status: 405, code: 'method_not_allowed' });
    expect(await send('DELETE', '/v1/chat/completions', {}, '{not json')).toEqual({ status: 405, code: 'method_not_allowed' });
    // Not gzip either, though it says so.
    expect(await send('POST', '/v1/files', { 'content-encoding': 'gzip' }, 'plain text')).toEqual({ status: 404, code: 'not_found' });
    // 9 MB of JSON in 30 KB of gzip: answered without being inflated.
    const bomb = gzipSync(JSON.stringify({ a: Array(90_000).fill('x'.repeat(100)) }));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(await send('POST', '/nowhere', { 'content-encoding': 'gzip' }, bomb)).toEqual({ status: 404, code: 'not_found' });
  });

  it('still reach the proxied endpoints, compressed or not, once the key is checked', async () => {
    const auth = { authorization: `Bearer ${CLIENT_KEY}` };
    expect((await send('POST', '/v1/chat/completions', auth, hello)).status).toBe(200);
    expect((await send('POST', '/v1/chat/completions', { ...auth, 'content-encoding': 'gzip' }, gzipSync(hello))).status).toBe(200);
    expect(await send('POST', '/v1/chat/completions', auth, '{not json')).toEqual({ status: 400, code: 'invalid_json' });
    expect(await send('POST', '/v1/chat/completions', {}, '{not json')).toEqual({ status: 401, code: 'missing_api_key' });
  });
});

describe('bodies with very many object keys', () => {
  it('are refused before they are parsed, and the gateway keeps answering meanwhile', async () => {
    const keys = Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`k${i}`, 1]));
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, ...keys });
    let slowest = 0;
    let done = false;
    const probe = (async () => {
      while (!done) {
        const t = performance.now();
        await fetch(gateway.url + '/healthz');
        slowest = Math.max(slowest, performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const results = await Promise.all([1, 2, 3].map(() => send('POST', '/v1/chat/completions', { authorization: `Bearer ${CLIENT_KEY}` }, body)));
    done = true;
    await probe;
    expect(results).toEqual(Array(3).fill({ status: 400, code: 'invalid_request' }));
    // Unbounded, each such body held the event loop for ~1 s here (3 together: over 2 s).
    expect(slowest).toBeLessThan(1500);
  });
});

describe('tollgate check', () => {
  it('never prints a value from the environment, even when an error names only part of a scalar', () => {
    const secret = 'sk-live-do-not-print-4242';
    const file = writeConfig(`
providers:
  up: {type: openai, api_key: sk-up}
routes:
  main:
    chat_models: [{model_id: m, model: "\${TG_AUDIT_VENDOR}/gpt-4o"}]
`);
    const result = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', TG_AUDIT_VENDOR: secret } });
    expect(result.status).not.toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toContain('routes.main.chat_models[0].model: unknown provider');
    expect(output).not.toContain(secret);
  });
});
