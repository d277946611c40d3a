// An app on the OpenAI SDK reaches Claude by a config change: the route model `anthropic/claude-sonnet-4`
// is served through /v1/chat/completions, translated both ways (streaming included).
import { beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { countTextTokens, estimateInput } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-secret';
const MODEL = 'claude-sonnet-4-20250514';

const { gw, upstream } = useBehindMock({ latencyMs: 0, outputTokens: 12, apiKey: UPSTREAM_KEY }, (url) => `
providers:
  claude: {type: anthropic, base_url: "${url}", api_key: ${UPSTREAM_KEY}}
projects: {p: {daily_limit: 1000000}}
routes:
  anthropic:
    chat_models: [{model_id: claude-sonnet-4, model: claude/${MODEL}}]
keys: [{id: a, key: tg-a, project: p}]
`);
beforeEach(() => upstream().clearRequests());

const client = () => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say hello.' },
];

describe('OpenAI SDK → Claude', () => {
  it('translates the request and the answer', async () => {
    const { data, response } = await client()
      .chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, max_tokens: 50, temperature: 1.7, stop: ['\n\n'] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message.content?.split(' ')).toHaveLength(12);
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ completion_tokens: 12 });
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('1000000');

    const [sent] = upstream().requests();
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent.body).toEqual({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say hello.' }],
      system: [{ type: 'text', text: 'You are terse.' }],
      temperature: 1,
      stop_sequences: ['\n\n'],
      max_tokens: 50,
    });
    const call = gw().calls[gw().calls.length - 1];
    expect(call).toMatchObject({ endpoint: 'chat', usage: { output: 12, source: 'provider', input: data.usage!.prompt_tokens } });
    // Reserved on what Anthropic bills: the translated body, with Claude's estimator.
    expect(call.reserved.input).toBe(estimateInput('messages', { ...(sent.body as object) }, MODEL).exact());
  });

  it('sends max_tokens even when the client gave none (Anthropic requires it)', async () => {
    await client().chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages });
    expect((upstream().requests()[0].body as { max_tokens: number }).max_tokens).toBe(gw().gateway.policy.enforcement.defaultMaxTokens);
  });

  it('streams translated chunks; usage only when asked', async () => {
    const stream = await client().chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, max_tokens: 50, stream: true });
    let text = '';
    let finish: string | null = null;
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) sawUsage = true;
    }
    expect(text.split(' ')).toHaveLength(12);
    expect(finish).toBe('stop');
    expect(sawUsage).toBe(false);
    expect((upstream().requests()[0].body as { stream: boolean }).stream).toBe(true);
    expect(gw().calls[gw().calls.length - 1]).toMatchObject({ streamEnd: 'complete', usage: { output: 12, source: 'provider' } });

    const withUsage = await client().chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    let finishWithUsage: string | null = null;
    for await (const chunk of withUsage) {
      if (chunk.usage) usage = chunk.usage;
      finishWithUsage = chunk.choices[0]?.finish_reason ?? finishWithUsage;
    }
    expect(finishWithUsage).toBe('length');
    expect(usage?.completion_tokens).toBe(5);

    // No usage from upstream: the usage chunk carries the gateway's own count, the one it settles.
    const counted = await client().chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, max_tokens: 50, stream: true, stream_options: { include_usage: true }, ...({ mock_omit_usage: true } as object) });
    let countedText = '';
    let reported: OpenAI.CompletionUsage | undefined;
    for await (const chunk of counted) {
      countedText += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) reported = chunk.usage;
    }
    const call = gw().calls[gw().calls.length - 1];
    expect(call.usage).toMatchObject({ output: countTextTokens(countedText, MODEL), source: 'estimated' });
    expect(reported).toMatchObject({ completion_tokens: call.usage.output, prompt_tokens: call.usage.input });
  });

  it('carries prompt caching to Claude: cache_control marks and the beta header, and reports the cached input', async () => {
    const cached = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-a', maxRetries: 0, defaultHeaders: { 'anthropic-beta': 'extended-cache-ttl-2025-04-11' } });
    const document = 'A long shared document. '.repeat(200);
    const body = {
      model: 'anthropic/claude-sonnet-4',
      max_tokens: 50,
      messages: [
        { role: 'system', content: [{ type: 'text', text: document, cache_control: { type: 'ephemeral', ttl: '1h' } }] },
        { role: 'user', content: 'Summarize it.' },
      ],
      // The mock answers a cache hit on that many of the prompt's tokens.
      mock_cache_read_tokens: 1000,
    };
    const data = await cached.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const [sent] = upstream().requests();
    expect(sent.headers['anthropic-beta']).toBe('extended-cache-ttl-2025-04-11');
    expect((sent.body as { system: unknown }).system).toEqual([{ type: 'text', text: document, cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(1000);
    const call = gw().calls[gw().calls.length - 1];
    expect(call.usage.cachedInput).toBe(1000);
  });

  it('turns Anthropic errors into OpenAI errors the SDK understands', async () => {
    const limited = await client()
      .chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, ...({ mock_error_status: 429 } as object) })
      .catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as { error: unknown }).error).toMatchObject({ message: expect.any(String), type: 'rate_limit_error' });
    const refused = await client()
      .chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, n: 2 })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as { param: string }).param).toBe('n');
    const embeddings = await client().embeddings.create({ model: 'anthropic/claude-sonnet-4', input: 'x' }).catch((e: unknown) => e);
    expect(embeddings).toBeInstanceOf(OpenAI.NotFoundError); // no embedding model on that route
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('a stream failure after the 200 reaches the OpenAI SDK as an APIError', async () => {
    const stream = await client().chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, max_tokens: 50, stream: true, ...({ mock_error_event_after_chunks: 6 } as object) });
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(gw().calls[gw().calls.length - 1]).toMatchObject({ status: 502, streamEnd: 'upstream_failed' });
    expect(await gw().store.openReservations()).toBe(0);
  });
});
