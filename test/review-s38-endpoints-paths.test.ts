// README "Endpoints": "a path with a `%` not followed by two hex digits (a 400 `invalid_request`)". A path whose
// escapes are all two hex digits but decode to bytes that are not UTF-8 (`%E9`, é as Latin-1 writes it, or the
// overlong `%C0%AF`) is refused with the same 400 and the same words, which tell the client something false
// about its path: "each '%' in it must begin an escape of two hexadecimal digits (such as %2F)". Found by a
// QA pass against `tollgate serve` (session 38): src/proxy/framework-errors.ts gave every FST_ERR_BAD_URL
// (fastify's decodeURIComponent failure, which also covers invalid UTF-8) that one sentence.
import { describe, expect, it } from 'vitest';
import { useTestGateway } from './helpers/use-test-gateway.js';

const gw = useTestGateway(`
providers: {m: {type: mock}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: m/gpt-4o}]}}
keys: [{id: k, key: tg-k, project: p}]
`);

describe('a path whose escapes are well formed but not UTF-8', () => {
  it("is told its escapes must decode to UTF-8, not that they lack two hex digits", async () => {
    for (const path of ['/v1/models/caf%E9', '/v1/responses/%C0%AF']) {
      const res = await fetch(`${gw().url}${path}`, { headers: { authorization: 'Bearer tg-k' } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).not.toMatch(/two hexadecimal digits/);
      expect(body.error.message).toMatch(/must decode to UTF-8 text/);
    }
  });
});
