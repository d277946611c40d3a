// A compressed body is inflated before it is parsed, and was held only to the endpoint's body limit
// (80 MiB on the OpenAI endpoints): a brotli body of 181 bytes made the gateway hold 80 MiB and parse it,
// and 30 of them at once (5 KB sent in all) took it from 0.26 to 3.2 GB of memory and 28 s of work. Any
// holder of a key could so stop the gateway for every other tenant. Now a body may inflate to at most
// 200 times its compressed size (Apache's DeflateInflateRatioLimit), and always to 1 MiB.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 4 }, (url) => `
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: sk-upstream-key-0123456789}}
routes: {r: {chat_models: [{model_id: m, model: openai/gpt-4o}]}}
keys:
  - {id: k, key: tg-k}
`);

/** A chat body padded with spaces (valid JSON) to `bytes` in all. */
function padded(bytes: number, content = 'hi'): Buffer {
  const head = `{"model":"m","messages":[{"role":"user","content":${JSON.stringify(content)}}]`;
  const body = Buffer.alloc(bytes, 0x20);
  body.write(head, 0);
  body[bytes - 1] = 0x7d; // }
  return body;
}

function post(body: Buffer, encoding: string): Promise<Response> {
  return fetch(`${gw().url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json', 'content-encoding': encoding }, body: new Uint8Array(body) });
}

describe('a compressed body that inflates far beyond its size (a compression bomb)', () => {
  it('is refused, not inflated to the endpoint limit and parsed, and nothing goes upstream', async () => {
    upstream().clearRequests();
    const brBomb = brotliCompressSync(padded(40 * 1024 * 1024), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
    const gzBomb = gzipSync(padded(40 * 1024 * 1024), { level: 9 });
    expect(brBomb.length).toBeLessThan(1000);
    expect(gzBomb.length).toBeLessThan(100_000);
    for (const [bomb, encoding] of [[brBomb, 'br'], [gzBomb, 'gzip']] as const) {
      const res = await post(bomb, encoding);
      expect(res.status).toBe(400);
      const error = (await res.json()).error;
      expect(error.message).toMatch(/expands to more than 200 times/);
    }
    expect(upstream().requests()).toHaveLength(0);
    expect(gw().calls).toHaveLength(0);
  });

  it('still takes compressed bodies of ordinary text, however large, and small bodies of any ratio', async () => {
    upstream().clearRequests();
    // 12 MiB of varied words (a long document): gzip gets it down ~3 to 4 times.
    const words = ['tokens', 'budget', 'gateway', 'limit', 'project', 'alpha', 'route', 'model', 'stream', 'ledger'];
    let seed = 7;
    const text = Array.from({ length: 1_800_000 }, () => words[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % words.length] + String(seed % 997)).join(' ');
    const doc = Buffer.from(JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: text }] }));
    expect(doc.length).toBeGreaterThan(12 * 1024 * 1024);
    expect((await post(gzipSync(doc), 'gzip')).status).toBe(200);
    // 900 KB of spaces from a hundred bytes: over any ratio, under the 1 MiB every body may inflate to.
    const small = brotliCompressSync(padded(900 * 1024));
    expect(small.length).toBeLessThan(200);
    expect((await post(small, 'br')).status).toBe(200);
    expect(upstream().requests()).toHaveLength(2);
  });
});
