// Ids in the paths of the Responses API's retrieval endpoints and the Conversations API go into the
// upstream's path. Sent as raw request targets (no client normalizes them first), none of `..`, encoded
// dots and slashes, `?` or `#` lets a caller reach another upstream path than the owned object's own.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 4 }, (url) => `
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: sk-upstream-key-0123456789}}
routes: {r: {chat_models: [{model_id: m, model: openai/gpt-4o}]}}
keys: [{id: k, key: tg-k}]
`);
let responseId: string;
let conversationId: string;

beforeAll(async () => {
  const post = (path: string, body: object) =>
    fetch(`${gw().url}${path}`, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
  responseId = ((await post('/v1/responses', { model: 'm', input: 'hi' })) as { id: string }).id;
  conversationId = ((await post('/v1/conversations', {})) as { id: string }).id;
});

/** Sends `target` as the request line's target, byte for byte; resolves to the status. */
function rawGet(target: string, method = 'GET'): Promise<number> {
  return new Promise((resolve) => {
    const { port } = new URL(gw().url);
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg-k\r\nConnection: close\r\n\r\n`));
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0)));
  });
}

describe('ids in retrieval and conversation paths', () => {
  it('never reach another upstream path', async () => {
    const r = responseId;
    const c = conversationId;
    const targets = [
      `/v1/responses/${r}/../../chat/completions`, `/v1/responses/${r}%2F..%2F..%2Fchat%2Fcompletions`, `/v1/responses/${r}%2f%2e%2e%2f%2e%2e%2fmodels`,
      `/v1/responses/..`, `/v1/responses/%2e%2e`, `/v1/responses/%2e%2e/input_items`, `/v1/responses/${r}%3Fx=1`, `/v1/responses/${r}%23x`,
      `/v1/responses/..%2F${r}`, `/v1/responses/${r}/..%2F..%2Fmodels/cancel`, `/v1/responses/resp_..`, `/v1/responses/resp_%2e%2e/cancel`,
      `/v1/conversations/${c}/items/..`, `/v1/conversations/${c}/items/%2e%2e`, `/v1/conversations/${c}/items/.%2e`, `/v1/conversations/${c}/items/a%2F..%2F..%2Fmodels`,
      `/v1/conversations/${c}/items/msg_1%3Fa=1`, `/v1/conversations/${c}/items/msg_1%23a`, `/v1/conversations/${c}%2F..%2F..%2Fmodels`, `/v1/conversations/..%2F${c}`,
      `/v1/conversations/%2e%2e/items`, `/v1/conversations/${c}/items/msg_1%00`, `/v1/conversations/${c}/items/msg_1%0d%0aX:1`,
      // Controls: the owned objects' own paths, which do go upstream.
      `/v1/responses/${r}`, `/v1/conversations/${c}/items/msg_1`,
    ];
    upstream().clearRequests();
    for (const target of targets) {
      const status = await rawGet(target);
      expect(status, target).toBeGreaterThanOrEqual(200);
      const del = await rawGet(target, 'DELETE');
      expect(del, target).toBeGreaterThanOrEqual(200);
    }
    // What went upstream is the owned objects' own paths (the controls), whole segments only.
    expect(upstream().requests().length).toBeGreaterThanOrEqual(4);
    for (const sent of upstream().requests()) {
      expect(sent.path).toMatch(new RegExp(`^/v1/(?:responses/${r}|conversations/${c})(?:/items(?:/[\\w.+=-]+)?|/input_items|/cancel)?$`));
      expect(sent.path).not.toMatch(/(?:^|\/)\.\.?(?:\/|$)|%2e|%2f|%3f|%23/i);
    }
  });
});
