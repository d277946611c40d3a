// The official openai client against a gateway in front of the mock upstream (both real HTTP servers).
import { beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-secret';

function config(upstreamUrl: string): string {
  return `
server: {timezone: UTC, max_body_bytes: 65536}
providers:
  openai: {type: openai, base_url: "${upstreamUrl}/v1", api_key: ${UPSTREAM_KEY}}
organization: {monthly_budget: 10000000, daily_cap: 500000}
projects:
  production: {daily_limit: 200000, request_limit: 4000, priority: high}
  tiny: {daily_limit: 300}
users:
  tier_premium: {daily_limit: 50000, rate_limit: 100}
routes:
  production:
    chat_models:
      - {model_id: gpt-4o, model: openai/gpt-4o-2024-08-06}
      - {model_id: gpt-4o-mini, model: openai/gpt-4o-mini}
    embedding_models:
      - {model_id: text-embedding-3-small, model: openai/text-embedding-3-small}
    token_limiting:
      scope: user
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: 100000}
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 50000}
  secret-route:
    chat_models:
      - {model_id: gpt-4.1, model: openai/gpt-4.1}
keys:
  - {id: alice, key: tg-alice, user: alice, tier: tier_premium, project: production, routes: [production]}
  - {id: carol, key: tg-carol, user: carol, project: tiny, routes: [production]}
`;
}

function client(key = 'tg-alice', opts: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0, ...opts });
}

const ask = [{ role: 'user' as const, content: 'Say hello to the gateway.' }];

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 20, apiKey: UPSTREAM_KEY }, config);
beforeEach(() => upstream().clearRequests());

describe('non-streaming chat', () => {
  it('answers through the SDK, rewrites the model, and never forwards the client key', async () => {
    const { data, response } = await client().chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 50 }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.usage?.completion_tokens).toBe(20);
    expect(response.headers.get('x-tollgate-request-id')).toMatch(/^req_/);
    expect(Number(response.headers.get('x-ratelimit-limit-tokens'))).toBeGreaterThan(0);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('99');

    const [sent] = upstream().requests();
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify(sent.headers)).not.toContain('tg-alice');
    expect((sent.body as { model: string }).model).toBe('gpt-4o-2024-08-06');
  });

  it("gives the gateway's request id where the SDK reads it, on answers and errors alike, and the provider's as x-upstream-request-id", async () => {
    const { response, request_id } = await client().chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 5 }).withResponse();
    const id = response.headers.get('x-tollgate-request-id');
    expect(id).toMatch(/^req_[0-9a-f]{12}_/);
    expect(request_id).toBe(id);
    expect(gw().calls[gw().calls.length - 1].requestId).toBe(id); // the ledger row's request_id
    expect((await client().chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 5 }))._request_id).toMatch(/^req_[0-9a-f]{12}_/);
    // The mock upstream's own id (its format is req_ + hex) comes too, under another name.
    expect(response.headers.get('x-upstream-request-id')).toMatch(/^req_/);
    expect(response.headers.get('x-upstream-request-id')).not.toBe(id);

    const stream = await client().chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 5, stream: true }).withResponse();
    for await (const _ of stream.data);
    expect(stream.response.headers.get('x-request-id')).toBe(stream.response.headers.get('x-tollgate-request-id'));

    const notFound = await client().chat.completions.create({ model: 'gpt-9', messages: ask }).catch((e: unknown) => e);
    expect((notFound as InstanceType<typeof OpenAI.APIError>).requestID).toMatch(/^req_/);
    // Errors raised before the handler runs (the body is parsed first) carry it as well.
    const badJson = await fetch(`${gw().url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tg-alice' }, body: '{"model":' });
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get('x-request-id')).toMatch(/^req_/);
    expect(badJson.headers.get('x-request-id')).toBe(badJson.headers.get('x-tollgate-request-id'));
    expect(badJson.headers.get('request-id')).toBeNull();
  });

  it('settles the limits with the upstream usage, not the reservation', async () => {
    const before = gw().calls.length;
    const res = await client().chat.completions.create({ model: 'production/gpt-4o-mini', messages: ask, max_tokens: 500 });
    const call = gw().calls[before];
    expect(call.usage).toMatchObject({ input: res.usage!.prompt_tokens, output: res.usage!.completion_tokens, source: 'provider' });
    expect(call.reserved.output).toBe(500);
    const limits = gw().gateway.engine.applicable.for(call.principal, call.target);
    const states = await gw().store.peek(limits.map((l) => l.item));
    const outputLimit = limits.findIndex((l) => l.id === 'route:production:key:alice:output');
    const allOutput = gw().calls.filter((c) => c.principal.keyId === 'alice').reduce((s, c) => s + c.usage.output, 0);
    expect(states[outputLimit].used).toBe(allOutput);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('without usage from the upstream, counts each of n choices apart, as they are billed', async () => {
    const before = gw().calls.length;
    // Two choices of 10 one-token words: counted as one text, the first one's last word and the second's
    // first run together, and 23 were charged for the 20 the provider bills.
    const data = await client().chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 50, n: 2, ...({ mock_omit_usage: true, mock_output_tokens: 10 } as object) });
    expect(data.usage).toBeUndefined();
    const texts = data.choices.map((c) => c.message.content ?? '');
    expect(texts.map((t) => countTextTokens(t, 'gpt-4o-2024-08-06'))).toEqual([10, 10]);
    expect(countTextTokens(texts.join(''), 'gpt-4o-2024-08-06')).toBe(23);
    expect(gw().calls[before].usage).toMatchObject({ output: 20, source: 'estimated' });
  });

  it('passes unknown fields through untouched', async () => {
    await client().chat.completions.create({
      model: 'gpt-4o',
      messages: ask,
      max_tokens: 10,
      // @ts-expect-error: a field the gateway does not know
      vendor_extension: { nested: [1, 'two', null] },
      temperature: 0.3,
    });
    const body = upstream().requests()[0].body as Record<string, unknown>;
    expect(body.vendor_extension).toEqual({ nested: [1, 'two', null] });
    expect(body.temperature).toBe(0.3);
    expect(body.max_tokens).toBe(10);
  });
});

describe('streaming chat', () => {
  it('streams chunk by chunk and removes the usage chunk the gateway asked for', async () => {
    const before = gw().calls.length;
    const stream = await client().chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 50, stream: true });
    let text = '';
    let chunksWithUsageField = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      // Not even `"usage": null`, which the provider adds to every chunk once the gateway asks for usage.
      if ('usage' in chunk) chunksWithUsageField++;
    }
    expect(chunksWithUsageField).toBe(0);
    expect(text.length).toBeGreaterThan(0);
    expect((upstream().requests()[0].body as { stream_options: unknown }).stream_options).toEqual({ include_usage: true });
    expect(gw().calls[before].usage).toMatchObject({ output: 20, source: 'provider' });
  });

  it('keeps the usage chunk when the client asked for it', async () => {
    const stream = await client().chat.completions.create({
      model: 'gpt-4o',
      messages: ask,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
    });
    let usage: OpenAI.CompletionUsage | undefined;
    const usageFields: unknown[] = [];
    for await (const chunk of stream) {
      usageFields.push(chunk.usage);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(usage?.completion_tokens).toBe(20);
    // As the provider sends it: `"usage": null` on every chunk but the last.
    expect(usageFields.slice(0, -1).every((u) => u === null)).toBe(true);
  });

  it('without usage from the upstream, counts each of n choices apart: the sum of their counts, not the interleaved text\'s', async () => {
    // 17 choices of 3 one-token words each: the provider bills 51; their first words, run together in the
    // interleaved stream, count 52.
    const n = 17;
    const streamed = async (body: object) => {
      const before = gw().calls.length;
      const stream = await client().chat.completions.create({ model: 'gpt-4o', messages: ask, n, stream: true, ...({ mock_omit_usage: true, mock_output_tokens: 3 } as object), ...body });
      const texts = Array<string>(n).fill('');
      let interleaved = '';
      for await (const chunk of stream) {
        for (const c of chunk.choices) {
          texts[c.index] += c.delta?.content ?? '';
          interleaved += c.delta?.content ?? '';
        }
      }
      return { perChoice: texts.map((t) => countTextTokens(t, 'gpt-4o-2024-08-06')), interleaved: countTextTokens(interleaved, 'gpt-4o-2024-08-06'), call: gw().calls[before] };
    };
    const roomy = await streamed({ max_tokens: 10 });
    expect(roomy.perChoice).toEqual(Array(n).fill(3));
    expect(roomy.interleaved).toBe(52);
    expect(roomy.call).toMatchObject({ streamEnd: 'complete', usage: { output: 51, source: 'estimated' } });
    // At a cap of exactly what the choices produce (3 each: 51), the interleaved count passed it and the
    // stream was cut, one choice short of its last token.
    const exact = await streamed({ max_tokens: 3 });
    expect(exact.perChoice).toEqual(Array(n).fill(3));
    expect(exact.call).toMatchObject({ streamEnd: 'complete', reserved: { output: 51 }, usage: { output: 51, source: 'estimated' } });
  });

  it('legacy completions stream without a usage field unless asked', async () => {
    const fields = async (extra: object): Promise<number> => {
      let n = 0;
      const stream = await client().completions.create({ model: 'gpt-4o', prompt: 'Once upon a time', max_tokens: 5, stream: true, ...extra });
      for await (const chunk of stream) if ('usage' in chunk) n++;
      return n;
    };
    expect(await fields({})).toBe(0);
    expect(await fields({ stream_options: { include_usage: true } })).toBeGreaterThan(1);
  });
});

describe('other endpoints', () => {
  it('serves embeddings and legacy completions', async () => {
    const emb = await client().embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two'] });
    expect(emb.data).toHaveLength(2);
    expect(emb.data[0].embedding.length).toBeGreaterThan(0);
    const comp = await client().completions.create({ model: 'gpt-4o', prompt: 'Once upon a time', max_tokens: 5 });
    expect(comp.usage?.completion_tokens).toBe(5);
    expect(comp.choices[0].finish_reason).toBe('length');
  });

  it('lists only the models the key may use', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toContain('gpt-4o');
    expect(ids).toContain('production/gpt-4o-mini');
    // The route's name alone is a model: its first model, which it serves.
    expect(ids).toContain('production');
    await expect(client().chat.completions.create({ model: 'production', messages: ask, max_tokens: 5 })).resolves.toMatchObject({ model: expect.stringContaining('gpt-4o') });
    expect(ids).not.toContain('gpt-4.1');
    expect(ids.some((id) => id.startsWith('secret-route'))).toBe(false);
  });
});

describe('errors', () => {
  it('a missing or unknown key is a 401 in OpenAI format', async () => {
    await expect(client('tg-nobody').chat.completions.create({ model: 'gpt-4o', messages: ask })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const res = await fetch(`${gw().url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toMatchObject({ code: 'missing_api_key', type: 'invalid_request_error' });
  });

  it('an unknown model or one on a route the key may not use is a 404 naming the usable models', async () => {
    const err = await client()
      .chat.completions.create({ model: 'gpt-4.1', messages: ask })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe('model_not_found');
    // Every name the key can send, bare and qualified, then the route alone, as GET /v1/models lists them; the chat models only.
    expect(err.message).toMatch(/Models this key can use: gpt-4o, production\/gpt-4o, gpt-4o-mini, production\/gpt-4o-mini, production\.$/);
    expect(upstream().requests()).toHaveLength(0);
  });

  it('a request over the project request_limit is a 400 that explains itself', async () => {
    // Clamping is on by default: 4000 output tokens plus the input do not fit, 4000 minus the input does.
    const clamped = await client().chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 4000 }).withResponse();
    const input = clamped.data.usage!.prompt_tokens;
    expect(clamped.response.headers.get('x-tollgate-clamped-max-tokens')).toBe(String(4000 - input));
    expect((upstream().requests()[0].body as { max_tokens: number }).max_tokens).toBe(4000 - input);
    const huge = 'word '.repeat(5000);
    const refused = await client()
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: huge }], max_tokens: 10 })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused.code).toBe('request_over_limit');
    expect(refused.message).toMatch(/request limit of 4000 tokens/);
  });

  it('bad bodies get clear 400s and reach nobody', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${gw().url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': type, authorization: 'Bearer tg-alice' }, body });
    const malformed = await post('{"model": "gpt-4o", "messages": [');
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error.code).toBe('invalid_json');
    const wrongType = await post(JSON.stringify({ model: 'gpt-4o', messages: 'hello' }));
    expect(wrongType.status).toBe(400);
    expect((await wrongType.json()).error.message).toContain("'messages'");
    const missing = await post(JSON.stringify({ model: 'gpt-4o' }));
    expect(missing.status).toBe(400);
    const badMax = await post(JSON.stringify({ model: 'gpt-4o', messages: ask, max_tokens: 'lots' }));
    expect((await badMax.json()).error.param).toBe('max_tokens');
    const tooBig = await post(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }));
    expect(tooBig.status).toBe(413);
    expect((await tooBig.json()).error.code).toBe('body_too_large');
    expect(upstream().requests()).toHaveLength(0);
  });

  it('an upstream failure refunds the reservation and passes the provider error through', async () => {
    const before = await gw().store.openReservations();
    const err = await client()
      .chat.completions.create({ model: 'gpt-4o', messages: ask, max_tokens: 10, ...({ mock_error_status: 500 } as object) })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    const last = gw().calls[gw().calls.length - 1];
    expect(last).toMatchObject({ decision: 'failed', usage: { input: 0, output: 0 } });
    expect(await gw().store.openReservations()).toBe(before);
  });
});
