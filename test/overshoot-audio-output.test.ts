// Spoken answers (Chat Completions with `modalities: ["text", "audio"]`, gpt-4o-audio-preview, gpt-audio):
// the audio is billed as output tokens (`completion_tokens_details.audio_tokens`), and no text the gateway
// can count shows it: a stream carries it as base64 `delta.audio.data`, with a transcript far shorter in
// tokens. When the provider's usage never comes (the client left mid-stream, a server that reports none),
// the gateway charged only the text it saw: a stream the provider billed 1,210 output tokens for was
// settled at 0, and a hard limit never heard of the rest, so the next calls went past it. Like a reasoning
// model's hidden thinking (reasoning-unseen-output.test.ts), such a call is now charged its whole grant.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../src/proxy/gateway.js';
import { leftEarly } from './helpers/left-early.js';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

const frame = (value: object): string => `data: ${JSON.stringify(value)}\n\n`;
const USAGE = { prompt_tokens: 20, completion_tokens: 1210, total_tokens: 1230, completion_tokens_details: { audio_tokens: 1200, reasoning_tokens: 0 } };
/** 6 KB of pcm16 per chunk, base64: a fifth of a second of speech. */
const PCM = Buffer.alloc(4800, 7).toString('base64');

// Speaks as OpenAI streams audio: each chunk a piece of the transcript and of the audio, 30 ms apart, then
// the usage. Without `modalities` it answers text. `mock_omit_usage`: no usage at all (a compatible server).
const { gw } = useBehindWireUpstream((_req, res, raw) => {
  const body = JSON.parse(raw) as { model: string; stream?: boolean; modalities?: string[]; mock_omit_usage?: boolean };
  const audio = body.modalities?.includes('audio') === true;
  const head = { id: 'chatcmpl-a', object: 'chat.completion.chunk', created: 1760000000, model: body.model };
  const words = ['Yes, ', 'Boston ', 'is ', 'in ', 'Massachusetts.'];
  if (body.stream !== true) {
    const message = audio
      ? { role: 'assistant', content: null, refusal: null, audio: { id: 'audio_1', data: PCM.repeat(5), expires_at: 1760003600, transcript: words.join('') } }
      : { role: 'assistant', content: words.join(''), refusal: null };
    res.writeHead(200, { 'content-type': 'application/json' });
    const answer: Record<string, unknown> = { ...head, object: 'chat.completion', choices: [{ index: 0, message, logprobs: null, finish_reason: 'stop' }] };
    if (!body.mock_omit_usage) answer.usage = USAGE;
    return void res.end(JSON.stringify(answer));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i < words.length) {
      const delta = audio ? { audio: { id: 'audio_1', transcript: words[i], data: PCM } } : { content: words[i] };
      res.write(frame({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: i === words.length - 1 ? 'stop' : null }] }));
      i++;
      return void setTimeout(next, 30);
    }
    if (!body.mock_omit_usage) res.write(frame({ ...head, choices: [], usage: USAGE }));
    res.end('data: [DONE]\n\n');
  };
  next();
}, (url) => `
providers:
  compat: {type: openai, base_url: "${url}", api_key: sk-up}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models: [{model_id: gpt-4o-audio-preview, model: compat/gpt-4o-audio-preview}]
keys: [{id: k, key: tg-k, project: p}]
`);

const SPOKEN = { modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'pcm16' } };

/** Streams a call, leaving after `chunks` chunks (all of them when undefined); the call's record. */
function streamed(chunks: number | undefined, extra: object): Promise<CallRecord> {
  const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
  const body = { model: 'gpt-4o-audio-preview', messages: [{ role: 'user', content: 'Is Boston in Massachusetts?' }], stream: true, max_completion_tokens: 1500, ...extra };
  let seen = 0;
  return leftEarly(gw(), (signal) => client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, { signal }), () => ++seen === chunks);
}

describe('a spoken answer whose usage never comes', () => {
  it('is charged its whole grant when the client leaves the stream before the usage', async () => {
    const call = await streamed(2, SPOKEN);
    expect(call.status).toBe(499);
    // Was 0: the audio deltas carry no text the gateway counts, and the transcript's first words none either.
    expect(call.usage).toMatchObject({ output: 1500, source: 'estimated' });
  });

  it('is charged its whole grant when a server streams it without usage', async () => {
    const call = await streamed(undefined, { ...SPOKEN, mock_omit_usage: true });
    expect(call.status).toBe(200);
    expect(call.usage).toMatchObject({ output: 1500, source: 'estimated' });
  });

  it('is charged its whole grant when a server answers it without usage, not streamed', async () => {
    const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-k', maxRetries: 0 });
    const body = { model: 'gpt-4o-audio-preview', messages: [{ role: 'user', content: 'Is Boston in Massachusetts?' }], max_completion_tokens: 1500, ...SPOKEN, mock_omit_usage: true };
    await client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(gw().calls.at(-1)!.usage).toMatchObject({ output: 1500, source: 'estimated' });
  });

  it("is settled at the provider's usage, audio included, when it comes", async () => {
    const call = await streamed(undefined, SPOKEN);
    expect(call.status).toBe(200);
    expect(call.usage).toMatchObject({ input: 20, output: 1210, source: 'provider' });
  });

  it('a text answer of the same model left the same way is still charged what it showed', async () => {
    const call = await streamed(2, {});
    expect(call.status).toBe(499);
    expect(call.usage.source).toBe('estimated');
    expect(call.usage.output).toBeGreaterThan(0);
    expect(call.usage.output).toBeLessThan(20);
  });
});
