import { createRequire } from 'node:module';
import { formatFunctionDefinitions } from 'gpt-tokenizer/functionCalling';
import { describe, expect, it } from 'vitest';
import { countTokens } from './encoders.js';
import { baseModelName, countTextTokens, estimateInput, profileFor, type Endpoint } from './index.js';
import { dataUrl, pdf, wav } from './test-fixtures.js';
import { MAX_WAV_BYTES_PER_SECOND } from './media-cost.js';

// js-tiktoken is a second, independent implementation: the oracle for "checked against the encoder directly".
const require = createRequire(import.meta.url);
const { Tiktoken } = require('js-tiktoken/lite') as { Tiktoken: new (r: unknown) => { encode(t: string, a: string[], d: string[]): number[] } };
const oracle = (enc: 'o200k_base' | 'cl100k_base') => {
  const mod = require(`js-tiktoken/ranks/${enc}`) as { default?: unknown };
  const t = new Tiktoken(mod.default ?? mod);
  return (s: string) => t.encode(s, [], []).length;
};
const o200k = oracle('o200k_base');
const cl100k = oracle('cl100k_base');

// From OpenAI's cookbook "How to count tokens with tiktoken", section 6, with the prompt_tokens the API returned.
const COOKBOOK_MESSAGES = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

// Section 7 of the same notebook: tools plus two messages.
const COOKBOOK_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
];
const COOKBOOK_TOOL_MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

const exact = (endpoint: Endpoint, body: Record<string, unknown>, model: string) => estimateInput(endpoint, body, model).exact();

describe('OpenAI chat: the cookbook example', () => {
  it.each([
    ['gpt-4o', 124],
    ['gpt-4o-mini', 124],
    ['gpt-4o-2024-08-06', 124],
    ['openai/gpt-4o', 124],
    ['gpt-4', 129],
    ['gpt-4-0613', 129],
    ['gpt-3.5-turbo', 129],
  ])('%s bills %i prompt tokens', (model, tokens) => {
    const e = estimateInput('chat', { model, messages: COOKBOOK_MESSAGES }, model);
    expect(e.exact()).toBe(tokens);
    expect(e.upperBound).toBeGreaterThanOrEqual(tokens);
  });

  it('with tools is never below what the API billed (gpt-4o: 101, gpt-4: 105), and not wildly above', () => {
    for (const [model, billed] of [['gpt-4o', 101], ['gpt-4o-mini', 101], ['gpt-4', 105], ['gpt-3.5-turbo', 105]] as const) {
      const n = exact('chat', { messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS }, model);
      expect(n).toBeGreaterThanOrEqual(billed);
      expect(n).toBeLessThan(billed * 1.5);
    }
  });

  it('counts tool definitions above the TypeScript-like rendering OpenAI puts in the prompt, on random schemas', () => {
    let seed = 7;
    const r = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const words = ['id', 'location', 'unit', 'the city', 'list of items', 'Get the weather', 'celsius', 'x_y', 'über', '東京', '🙂'];
    const w = () => words[Math.floor(r() * words.length)];
    const prop = (d: number): Record<string, unknown> => {
      const k = r();
      if (k < 0.3) return r() < 0.5 ? { type: 'string', description: w() } : { type: 'string', enum: Array.from({ length: 1 + Math.floor(r() * 12) }, w) };
      if (k < 0.45) return { type: 'number', description: w() };
      if (k < 0.55) return { type: 'boolean' };
      if (k < 0.75 && d < 4) return { type: 'array', items: prop(d + 1) };
      if (d < 4) return { type: 'object', properties: Object.fromEntries(Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => [w() + i, prop(d + 1)])) };
      return { type: 'null' };
    };
    for (let i = 0; i < 300; i++) {
      const fns = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, j) => ({
        name: `fn_${j}`,
        ...(r() < 0.7 ? { description: w() } : {}),
        parameters: { type: 'object', properties: Object.fromEntries(Array.from({ length: Math.floor(r() * 5) }, (_, q) => [w() + q, prop(0)])) },
      }));
      for (const [model, enc] of [['gpt-4o', 'o200k_base'], ['gpt-4', 'cl100k_base']] as const) {
        const ours = exact('chat', { messages: [], tools: fns.map((f) => ({ type: 'function', function: f })) }, model) - 3;
        // gpt-tokenizer's port of the namespace rendering (validated against the API) plus its 9-token overhead.
        const rendered = countTokens(enc, formatFunctionDefinitions(fns as never)) + 9;
        expect(ours).toBeGreaterThanOrEqual(rendered);
      }
    }
  });
});

describe('text counts match the encoder', () => {
  const samples = ['tiktoken is great!', 'お誕生日おめでとう', 'antidisestablishmentarianism', 'plain <|endoftext|> text', '👨‍👩‍👧‍👦 \ud83d lone', '   \n\t code()  '];
  it.each(samples)('%j', (s) => {
    expect(countTextTokens(s, 'gpt-4o')).toBe(o200k(s));
    expect(countTextTokens(s, 'gpt-4-turbo')).toBe(cl100k(s));
    expect(countTextTokens(s, 'text-embedding-3-small')).toBe(cl100k(s));
  });

  it('pre-tokens up to 512 chars are merged exactly; longer ones (quadratic to merge) count as their bytes', () => {
    const medium = 'x ' + 'ab'.repeat(200) + ' y' + '東京大学'.repeat(100);
    expect(countTextTokens(medium, 'gpt-4o')).toBe(o200k(medium));
    const long = 'see: ' + 'a'.repeat(20_000) + ' end';
    expect(countTextTokens(long, 'gpt-4o')).toBe(o200k('see:') + 20_001 + o200k(' end'));
    expect(countTextTokens(' '.repeat(50_000), 'gpt-4')).toBe(50_000);
  });

  it('agrees with the documented vectors (cookbook)', () => {
    expect(countTextTokens('tiktoken is great!', 'gpt-4o')).toBe(6);
    expect(countTextTokens('お誕生日おめでとう', 'gpt-4o')).toBe(8);
    expect(countTextTokens('お誕生日おめでとう', 'gpt-4')).toBe(9);
  });
});

describe('model names', () => {
  it.each([
    ['gpt-4o', 'o200k_base'],
    ['chatgpt-4o-latest', 'o200k_base'],
    ['gpt-4.1-nano', 'o200k_base'],
    ['gpt-4.5-preview', 'o200k_base'],
    ['o1-mini', 'o200k_base'],
    ['o3', 'o200k_base'],
    ['o4-mini-2025-04-16', 'o200k_base'],
    ['gpt-5-mini', 'o200k_base'],
    ['azure-east/gpt-5.1', 'o200k_base'],
    ['ft:gpt-4o-mini-2024-07-18:acme::abc123', 'o200k_base'],
    ['gpt-4-turbo', 'cl100k_base'],
    ['gpt-35-turbo', 'cl100k_base'],
    ['gpt-3.5-turbo-instruct', 'cl100k_base'],
    ['text-embedding-3-large', 'cl100k_base'],
    ['text-embedding-ada-002', 'cl100k_base'],
    ['davinci-002', 'cl100k_base'],
    ['babbage-002', 'cl100k_base'],
  ])('%s → OpenAI %s', (model, encoding) => {
    expect(profileFor(model)).toMatchObject({ family: 'openai', encoding, factor: 1 });
  });

  it.each([
    ['claude-3-5-sonnet-20241022', 'claude', 1.4],
    ['claude-sonnet-4-20250514', 'claude', 1.4],
    ['anthropic.claude-3-haiku-20240307-v1:0', 'claude', 1.4],
    ['claude-opus-4-6', 'claude', 1.4],
    ['claude-opus-4-7', 'claude', 1.8],
    ['claude-something-new', 'claude', 1.8],
    ['meta-llama/Llama-3.1-8B-Instruct', 'generic', 1.5],
    ['Qwen/Qwen2.5-7B-Instruct', 'generic', 1.5],
    ['mistralai/Mistral-7B-Instruct-v0.3', 'generic', 2],
    ['llama-2-13b-chat', 'generic', 2],
    ['gpt-oss-20b', 'generic', 1.5],
    ['totally-unknown', 'generic', 1.5],
  ])('%s → %s × %d', (model, family, factor) => {
    expect(profileFor(model)).toMatchObject({ family, factor });
  });

  it('strips route prefixes and fine-tune suffixes', () => {
    expect(baseModelName('openai/GPT-4o')).toBe('gpt-4o');
    expect(baseModelName('ft:gpt-4o:org:custom:id')).toBe('gpt-4o');
  });
});

describe('conservative estimates for models whose tokenizer is not public', () => {
  const text = 'The quick brown fox jumps over the lazy dog, then reads the gateway documentation twice.';

  it('Claude ≤ 4.6: ⌈1.4 × cl100k⌉; ≥ 4.7: ⌈1.8 × cl100k⌉ or cl100k + whitespace runs, whichever is more', () => {
    expect(countTextTokens(text, 'claude-3-5-sonnet-latest')).toBe(Math.ceil(1.4 * cl100k(text)));
    expect(countTextTokens(text, 'claude-opus-4-7')).toBe(Math.ceil(1.8 * cl100k(text)));
    // Opus 4.7 splits the space before each word into its own token: "hi" + " hi" × 50 measured at ≈ 101 text tokens.
    expect(countTextTokens('hi' + ' hi'.repeat(50), 'claude-opus-4-7')).toBeGreaterThanOrEqual(101);
  });

  it('open models: ⌈1.5 × cl100k⌉ (2 × for 32k-vocabulary families), never above UTF-8 bytes + 1', () => {
    expect(countTextTokens(text, 'llama-3.1-70b')).toBe(Math.ceil(1.5 * cl100k(text)));
    expect(countTextTokens(text, 'mixtral-8x7b')).toBe(2 * cl100k(text));
    const dense = '\u{10FFFD}\u{E0001}\u0378'.repeat(20); // byte-per-token text: the byte cap binds
    expect(countTextTokens(dense, 'mixtral-8x7b')).toBe(Buffer.byteLength(dense) + 1);
  });

  it('Anthropic messages: system, blocks, tool use and results, documents, built-in tools', () => {
    const body = {
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        { role: 'user', content: 'Weather in Rome?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'weather', input: { city: 'Rome' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'Sunny, 24°C' }] }] },
      ],
      tools: [{ name: 'weather', description: 'Current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    };
    const base = exact('messages', body, 'claude-sonnet-4-5');
    const textOnly = ['You are terse.', 'Weather in Rome?', 'weather', '{"city":"Rome"}', 'Sunny, 24°C'].reduce((n, s) => n + Math.ceil(1.4 * cl100k(s)), 0);
    expect(base).toBeGreaterThan(textOnly + 530); // + the documented tool-use system prompt and per-message framing
    const withComputer = exact('messages', { ...body, tools: [...body.tools, { type: 'computer_20250124', name: 'computer', display_width_px: 1024, display_height_px: 768 }] }, 'claude-sonnet-4-5');
    expect(withComputer - base).toBeGreaterThan(1234); // 735 tool definition + 499 system prompt, documented
    const doc = (data: string) => exact('messages', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data } }] }] }, 'claude-sonnet-4-5');
    expect(doc(pdf(3).toString('base64'))).toBe(doc(pdf(1).toString('base64')) + 2 * (1650 + 3000));
  });
});

describe('endpoints', () => {
  it('embeddings: strings by tokenizer, token arrays by length, no framing', () => {
    const m = 'text-embedding-3-small';
    expect(exact('embeddings', { input: 'hello world' }, m)).toBe(2);
    expect(exact('embeddings', { input: ['hello world', 'tiktoken is great!'] }, m)).toBe(8);
    expect(exact('embeddings', { input: [83, 8251, 2488, 382, 2212, 0] }, m)).toBe(6);
    expect(exact('embeddings', { input: [[1, 2, 3], [4]] }, m)).toBe(4);
  });

  it('completions: prompt in every shape plus suffix; n and best_of do not count', () => {
    const m = 'gpt-3.5-turbo-instruct';
    expect(exact('completions', { prompt: 'Say this is a test', n: 5, best_of: 7 }, m)).toBe(cl100k('Say this is a test'));
    expect(exact('completions', { prompt: ['a b', 'c d'], suffix: ' the end' }, m)).toBe(cl100k('a b') + cl100k('c d') + cl100k(' the end'));
    expect(exact('completions', { prompt: [[1, 2], [3, 4, 5]] }, m)).toBe(5);
  });

  it('responses: the same rule as chat for the same conversation', () => {
    const m = 'gpt-4o';
    const chat = exact('chat', { messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }] }, m);
    expect(exact('responses', { instructions: 'Be brief.', input: 'Hi there' }, m)).toBe(chat);
    expect(exact('responses', { instructions: 'Be brief.', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi there' }] }] }, m)).toBe(chat);
  });

  it('responses: function calls, outputs, tools, text.format, images and files', () => {
    const m = 'gpt-4o';
    const body = {
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'What is in the picture?' }, { type: 'input_image', image_url: 'https://example.com/x.png', detail: 'low' }] },
        { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"q":"cat"}' },
        { type: 'function_call_output', call_id: 'c1', output: 'a cat' },
      ],
      tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { a: { type: 'string', enum: ['x', 'y'] } } } } },
    };
    const n = exact('responses', body, m);
    const parts = 3 + 3 + o200k('user') + o200k('What is in the picture?') + 85 + 12 + o200k('lookup') + o200k('{"q":"cat"}') + 12 + o200k('a cat');
    // Each property one token more than its JSON, each enum value three (OpenAI's rendering: content-parts.ts).
    const tools = 16 + 8 + o200k(JSON.stringify(body.tools[0])) + 1;
    const schema = 16 + o200k(JSON.stringify(body.text.format)) + 3 * 2 + 1;
    expect(n).toBe(parts + tools + schema);
    const file = exact('responses', { input: [{ role: 'user', content: [{ type: 'input_file', file_data: dataUrl('application/pdf', pdf(2)) }] }] }, m);
    const noFile = exact('responses', { input: [{ role: 'user', content: [] }] }, m);
    expect(file - noFile).toBe(2 * (1445 + 3000));
  });

  it('chat: tool calls, tool results, names, response_format and legacy functions all count', () => {
    const m = 'gpt-4o';
    const messages = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    ];
    const expected = 3 + [3 + o200k('user') + o200k('Weather in Paris?'), 3 + o200k('assistant') + 12 + o200k('get_weather') + o200k('{"city":"Paris"}'), 3 + o200k('tool') + o200k('{"temp":21}')].reduce((a, b) => a + b);
    expect(exact('chat', { messages }, m)).toBe(expected);
    const rf = { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } };
    expect(exact('chat', { messages, response_format: rf }, m)).toBe(expected + 16 + o200k(JSON.stringify(rf)));
    const fns = [{ name: 'f', parameters: { type: 'object', properties: {} } }];
    expect(exact('chat', { messages, functions: fns }, m)).toBe(expected + 16 + 8 + o200k(JSON.stringify(fns[0])));
    // A tool named in tool_choice (or function_call) is rendered again: its name and ~4 tokens of framing.
    const tools = fns.map((f) => ({ type: 'function', function: f }));
    const forced = exact('chat', { messages, tools, tool_choice: { type: 'function', function: { name: 'f' } } }, m);
    expect(forced - exact('chat', { messages, tools, tool_choice: 'auto' }, m)).toBe(4 + o200k('f'));
    expect(exact('chat', { messages, functions: fns, function_call: { name: 'f' } }, m) - exact('chat', { messages, functions: fns }, m)).toBe(4 + o200k('f'));
    expect(exact('responses', { input: 'hi', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function', name: 'f' } }, m) - exact('responses', { input: 'hi', tools: [{ type: 'function', name: 'f' }] }, m)).toBe(4 + o200k('f'));
  });

  it('chat: audio and file parts get their documented conservative bounds', () => {
    const m = 'gpt-4o-audio-preview';
    const audio = (data: string, format: string) => exact('chat', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data, format } }] }] }, m);
    const empty = exact('chat', { messages: [{ role: 'user', content: [] }] }, m);
    expect(audio(wav(32_000, 10).toString('base64'), 'wav') - empty).toBe(Math.ceil(((32_000 * 10 + 44) / 32_000) * 20)); // 10 s at 20 tokens/s
    expect(audio(Buffer.alloc(16_000).toString('base64'), 'mp3') - empty).toBe(320); // unknown rate: 8 kbit/s ⇒ 16 s
  });

  it('chat: a WAV header whose byte-rate field lies does not shrink the audio it holds', () => {
    const m = 'gpt-4o-audio-preview';
    const audio = (data: Buffer) => exact('chat', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: data.toString('base64'), format: 'wav' } }] }] }, m);
    const empty = exact('chat', { messages: [{ role: 'user', content: [] }] }, m);
    const honest = wav(32_000, 10); // 16 kHz, 16-bit mono: 10 s, billed ~100 tokens (1 per 100 ms)
    const lying = Buffer.from(honest);
    lying.writeUInt32LE(0xffff_fff0, 28); // decoders time samples by rate × block align, not by this field
    expect(audio(lying) - empty).toBe(audio(honest) - empty);
    expect(audio(lying) - empty).toBeGreaterThanOrEqual(10 * 10);
    // A header claiming more than 48 kHz × 2 × 32-bit counts as that much: never less audio than that rate gives.
    const fast = Buffer.from(honest);
    fast.writeUInt32LE(4_000_000_000 / 2, 24);
    fast.writeUInt32LE(4_000_000_000, 28);
    expect(audio(fast) - empty).toBe(Math.ceil((fast.length / MAX_WAV_BYTES_PER_SECOND) * 20));
  });
});

describe('malformed bodies never throw', () => {
  const weird: unknown[] = [
    {},
    { messages: 'not an array' },
    { messages: [null, 1, 'x', [], { role: 5, content: { nested: true } }, { content: [null, 3, { type: 'image_url', image_url: 7 }, { type: 'image_url' }, { type: 'input_audio' }, { type: 'file', file: 'x' }, { type: 'text', text: ['a'] }] }] },
    { messages: [{ role: 'assistant', tool_calls: 'x', function_call: 3 }, { role: 'assistant', tool_calls: [null, { function: 'x' }, { function: { name: 1, arguments: {} } }] }] },
    { tools: 'x', functions: { a: 1 }, response_format: 'json' },
    { tools: [null, 1, { type: 'function' }] },
    { prompt: { a: 1 }, suffix: 3, input: [null, [null, 'x'], 5, { q: 1 }] },
    { input: 7, instructions: { a: 1 }, text: { format: 5 } },
    { input: [null, { type: 'reasoning', summary: 'x', encrypted_content: 3 }, { type: 'computer_call_output', output: 'x' }, { type: 'message', content: 5 }, { type: 'weird' }] },
    { system: 5, messages: [{ role: 'user', content: [{ type: 'image', source: null }, { type: 'document', source: { type: 'base64', data: 5 } }, { type: 'tool_result', content: { a: 1 } }, { type: 'redacted_thinking', data: null }] }] },
    { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,%%%%', detail: 9 } }, { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/' } }] }] },
    { input: { big: 10n } },
  ];
  const endpoints: Endpoint[] = ['chat', 'completions', 'embeddings', 'responses', 'messages'];

  it.each(weird.map((b, i) => [i, b]))('body #%i', (_i, body) => {
    for (const endpoint of endpoints) {
      for (const model of ['gpt-4o', 'gpt-4.1-mini', 'claude-sonnet-4-5', 'llama-3']) {
        const e = estimateInput(endpoint, body as Record<string, unknown>, model);
        expect(Number.isFinite(e.upperBound)).toBe(true);
        expect(e.exact()).toBeLessThanOrEqual(e.upperBound);
      }
    }
  });

  it('non-object bodies, unknown endpoints and non-string text', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    // A sane count (finite, not negative, within the bound) rather than a throw.
    const sane = (e: { upperBound: number; exact(): number }): void => {
      const n = e.exact();
      expect(Number.isFinite(n) && n >= 0 && n <= e.upperBound).toBe(true);
    };
    for (const body of [null, undefined, 'str', 42, [1, 2], circular]) sane(estimateInput('chat', body as never, 'gpt-4o'));
    sane(estimateInput('nope' as Endpoint, { messages: [] }, 'gpt-4o'));
    sane(estimateInput('chat', { messages: [circular] }, 'gpt-4o'));
    expect(countTextTokens(undefined as never, 'gpt-4o')).toBe(0);
    expect(estimateInput('chat', { messages: [] }, undefined as never).exact()).toBe(estimateInput('chat', { messages: [] }, 'unknown-model').exact());
  });

  it('exact() is computed once and cached', () => {
    const e = estimateInput('chat', { messages: COOKBOOK_MESSAGES }, 'gpt-4o');
    expect(e.exact()).toBe(e.exact());
  });
});
