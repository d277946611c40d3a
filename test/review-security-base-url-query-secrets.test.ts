// The provider secrets masked in what the gateway relays include the credential parameters of a base
// URL's query, known by name (`auth`, `key`, `token`, `secret`, ...). Two common ones were not: Azure
// Functions' `?code=` (its function key, how an OpenAI-compatible proxy hosted there is called) and an
// Azure SAS signature's `?sig=`. An upstream quoting its request URL in an error, as Express's own 404
// does ("Cannot POST /v1/chat/completions?code=..."), showed every client the key.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SecretMask } from '../src/providers/secret-mask.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const FUNCTION_KEY = 'AzFuncKey0123456789abcdefghijklmnopqrstuv==';
const SAS_SIGNATURE = 'SasSignature0123456789abcdefXYZ%3D';

/** Answers every request as Express does a path it has no route for: a 404 naming the request target. */
function expressNotFound(req: IncomingMessage, res: ServerResponse): void {
  const text = `Cannot ${req.method} ${req.url}`;
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: text, type: 'invalid_request_error', param: null, code: null } }));
}

const { gw } = useBehindWireUpstream(expressNotFound, (url) => `
providers:
  func: {type: openai, base_url: "${url}?code=${FUNCTION_KEY}"}
  sas: {type: openai, base_url: "${url}?sv=2022-11-02&sig=${SAS_SIGNATURE}"}
routes:
  r:
    chat_models: [{model_id: f, model: func/gpt-4.1}, {model_id: s, model: sas/gpt-4.1}]
keys: [{id: k, key: tg-k}]
`);

async function chat(model: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw().url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, text: await res.text() };
}

describe("a base URL's credential in its query, quoted back in an upstream error", () => {
  it("is masked for Azure Functions' ?code= and a SAS ?sig=", async () => {
    const func = await chat('f');
    expect(func.status).toBe(404);
    expect(func.text).toContain('Cannot POST /v1/chat/completions?code=');
    expect(func.text).not.toContain(FUNCTION_KEY);
    expect(func.text).not.toContain(FUNCTION_KEY.slice(3, -4));

    const sas = await chat('s');
    expect(sas.status).toBe(404);
    expect(sas.text).toContain('sv=2022-11-02');
    expect(sas.text).not.toContain(SAS_SIGNATURE.slice(3, -4));
  });

  it('leaves the other parameters of the query readable', () => {
    const mask = SecretMask.forUpstream(undefined, {}, '?api-version=2024-10-21&deployment=gpt-4o-mini-prod&code=AzFuncKey0123456789');
    expect(mask.text('api-version=2024-10-21&deployment=gpt-4o-mini-prod&code=AzFuncKey0123456789')).toBe(`api-version=2024-10-21&deployment=gpt-4o-mini-prod&code=${'*'.repeat(19)}`);
  });
});
