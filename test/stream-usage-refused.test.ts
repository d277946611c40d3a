// Streams through an OpenAI-compatible upstream that refuses `stream_options`, as Azure OpenAI before
// api-version 2024-06-01 does (400 "Unrecognized request argument supplied: stream_options"): the gateway
// added the field to every stream to read its usage, so every streamed call failed through Tollgate though
// it worked directly. Now `stream_usage: false` never adds it, and a provider left at the default is sent the
// refused call once more without it and remembered; either way the stream is settled from the gateway's own
// count of the output (usage source `estimated`).
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { countTextTokens } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw, upstream, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 12 }, (url) => `
providers:
  azure: {type: openai, base_url: "${url}/v1", api_key: sk-up}
  azure_learnt: {type: openai, base_url: "${url}/v1", api_key: sk-up}
  azure_off: {type: openai, base_url: "${url}/v1", api_key: sk-up, stream_usage: false}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models:
      - {model_id: default-model, model: azure/gpt-4o}
      - {model_id: learnt-model, model: azure_learnt/gpt-4o}
      - {model_id: off-model, model: azure_off/gpt-4o}
keys: [{id: k, key: tg-k, project: p}]
`);

const viaGateway = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Say something.' }];
// The mock's switch for answering a request with `stream_options` as Azure does; it passes through the gateway.
const azure = { mock_refuse_stream_options: true } as Record<string, unknown>;

/** Streams a chat completion; the text and whether a usage chunk came. */
async function streamChat(client: OpenAI, body: Record<string, unknown>): Promise<{ text: string; usage: OpenAI.CompletionUsage | undefined }> {
  const stream = await client.chat.completions.create({ messages, stream: true, ...body } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  let text = '';
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    usage = chunk.usage ?? usage;
  }
  return { text, usage };
}

/** What the upstream received for the calls `run` makes. */
async function sentUpstream(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  upstream().clearRequests();
  await run();
  return upstream().requests().map((r) => r.body as Record<string, unknown>);
}

describe('an upstream that refuses stream_options as Azure does', () => {
  it('refuses the field when called directly, and streams without it', async () => {
    const direct = new OpenAI({ baseURL: `${upstreamUrl()}/v1`, apiKey: 'sk-up', maxRetries: 0 });
    const refused = await streamChat(direct, { model: 'gpt-4o', stream_options: { include_usage: true }, ...azure }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('Unrecognized request argument supplied: stream_options');
    expect((await streamChat(direct, { model: 'gpt-4o', ...azure })).text).not.toBe('');
  });
});

describe('stream_usage: false', () => {
  it('never adds stream_options, and settles the stream from the counted output', async () => {
    let answer = { text: '', usage: undefined as OpenAI.CompletionUsage | undefined };
    const sent = await sentUpstream(async () => (answer = await streamChat(viaGateway(), { model: 'off-model', ...azure })));
    expect(sent).toHaveLength(1);
    expect('stream_options' in sent[0]!).toBe(false);
    expect(answer.text.split(' ')).toHaveLength(12);
    expect(answer.usage).toBeUndefined();
    const call = gw().calls.at(-1)!;
    expect(call.status).toBe(200);
    expect(call.usage.source).toBe('estimated');
    expect(call.usage.output).toBe(countTextTokens(answer.text, 'gpt-4o'));
  });

  it("sends a client's own stream_options as the client sent them", async () => {
    let answer = { text: '', usage: undefined as OpenAI.CompletionUsage | undefined };
    const sent = await sentUpstream(async () => (answer = await streamChat(viaGateway(), { model: 'off-model', stream_options: { include_usage: true } })));
    expect(sent.map((b) => b.stream_options)).toEqual([{ include_usage: true }]);
    // The upstream here takes the field: its own usage is the client's and settles the call.
    expect(answer.usage?.completion_tokens).toBe(12);
    expect(gw().calls.at(-1)!.usage).toMatchObject({ output: 12, source: 'provider' });
  });

  it('also covers legacy completions streams', async () => {
    let text = '';
    const sent = await sentUpstream(async () => {
      const stream = await viaGateway().completions.create({ model: 'off-model', prompt: 'Say something.', max_tokens: 20, stream: true, ...azure } as unknown as OpenAI.CompletionCreateParamsStreaming);
      for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    });
    expect(sent).toHaveLength(1);
    expect('stream_options' in sent[0]!).toBe(false);
    expect(gw().calls.at(-1)!.usage).toMatchObject({ output: countTextTokens(text, 'gpt-4o'), source: 'estimated' });
  });
});

describe('stream_usage left at its default', () => {
  it('sends a refused call once more without stream_options, and charges it once from the counted output', async () => {
    const before = gw().calls.length;
    let answer = { text: '', usage: undefined as OpenAI.CompletionUsage | undefined };
    const sent = await sentUpstream(async () => (answer = await streamChat(viaGateway(), { model: 'learnt-model', ...azure })));
    // The first try was refused before anything was generated; the second streamed.
    expect(sent.map((b) => b.stream_options)).toEqual([{ include_usage: true }, undefined]);
    expect(answer.text.split(' ')).toHaveLength(12);
    expect(gw().calls.length).toBe(before + 1);
    const call = gw().calls.at(-1)!;
    expect(call.status).toBe(200);
    expect(call.usage.source).toBe('estimated');
    expect(call.usage.output).toBe(countTextTokens(answer.text, 'gpt-4o'));
  });

  it('remembers the refusal: later streams to that provider go without stream_options at once', async () => {
    const sent = await sentUpstream(() => streamChat(viaGateway(), { model: 'learnt-model', ...azure }));
    expect(sent).toHaveLength(1);
    expect('stream_options' in sent[0]!).toBe(false);
  });

  it("passes a refusal of the client's own stream_options on, as the upstream would have answered it", async () => {
    let error: unknown;
    const sent = await sentUpstream(async () => {
      error = await streamChat(viaGateway(), { model: 'default-model', stream_options: { include_obfuscation: false }, ...azure }).catch((e: unknown) => e);
    });
    expect(sent).toHaveLength(1);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('Unrecognized request argument supplied: stream_options');
    expect(gw().calls.at(-1)!.usage.output).toBe(0);
  });

  it('still asks an upstream that takes the field for its usage', async () => {
    let answer = { text: '', usage: undefined as OpenAI.CompletionUsage | undefined };
    const sent = await sentUpstream(async () => (answer = await streamChat(viaGateway(), { model: 'default-model' })));
    expect(sent.map((b) => b.stream_options)).toEqual([{ include_usage: true }]);
    // The gateway's own usage chunk is removed again: the client did not ask for it.
    expect(answer.usage).toBeUndefined();
    expect(gw().calls.at(-1)!.usage).toMatchObject({ output: 12, source: 'provider' });
  });
});
