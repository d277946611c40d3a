// A response that failed is answered 200 with `status: "failed"` and its `error`: an error the provider
// reports, relayed by GET /v1/responses/{id} (a background response, say) or as the answer to the call
// itself. Its message quoting the gateway's key (an OpenAI-compatible server echoing its Authorization
// header) reached the client as is, where the same error in a stream's `response.failed` event, or in any
// 4xx/5xx, is masked.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { maskSecret } from '../src/providers/secret-mask.js';
import { responseObject } from './helpers/wire-upstream.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const KEY = 'sk-proj-Upstream0Secret1Key2ForTests3abcd';
const ID = 'resp_fails_later1';
const FAILS_AT_ONCE = 'resp_fails_at_once1';

/** Makes the response (completed), then shows it failed, its error quoting the credentials it was sent. */
function failsLater(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const usage = { input_tokens: 3, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 5 };
  const failed = (id: string) => ({ ...responseObject(id, { model: 'gpt-4o', input: 'hi' }, 'failed', null), error: { code: 'server_error', message: `could not authenticate with ${req.headers.authorization}` } });
  const shown = req.method !== 'POST' ? failed(ID) : raw.includes('"fail"') ? failed(FAILS_AT_ONCE) : responseObject(ID, { model: 'gpt-4o', input: 'hi' }, 'completed', usage);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(shown));
}

const { gw } = useBehindWireUpstream(failsLater, (url) => `
providers: {openai: {type: openai, base_url: "${url}", api_key: ${KEY}}}
routes: {r: {chat_models: [{model_id: m, model: openai/gpt-4o}]}}
keys: [{id: k, key: tg-k}]
`);

describe("a stored response's error, retrieved", () => {
  it("has the gateway's key masked, with Content-Length that of the masked body", async () => {
    const headers = { authorization: 'Bearer tg-k', 'content-type': 'application/json' };
    const made = await fetch(`${gw().url}/v1/responses`, { method: 'POST', headers, body: JSON.stringify({ model: 'm', input: 'hi' }) });
    expect((await made.json()).id).toBe(ID);
    const res = await fetch(`${gw().url}/v1/responses/${ID}`, { headers });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    expect(res.status).toBe(200);
    expect(JSON.parse(text).error.message).toBe(`could not authenticate with Bearer ${maskSecret(KEY)}`);
    expect(text).not.toContain(KEY);
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
  });

  it('as the answer to the call itself, has the key masked too', async () => {
    const res = await fetch(`${gw().url}/v1/responses`, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', input: 'fail' }) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    expect(res.status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ id: FAILS_AT_ONCE, status: 'failed', error: { message: `could not authenticate with Bearer ${maskSecret(KEY)}` } });
    expect(text).not.toContain(KEY);
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
  });
});
