// Review s39 (tokens): places where the input reserved before a call was below what the provider bills, by
// the gateway's own reference rules. Each test failed before its fix (figures in the comments).
import { formatFunctionDefinitions } from 'gpt-tokenizer/functionCalling';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { countTokens } from '../src/tokens/encoders.js';
import { estimateInput } from '../src/tokens/index.js';
import { pdf } from '../src/tokens/test-fixtures.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

describe('tool definitions: never below the namespace rendering + 9 (the rule docs/tokens.md states and estimate-input.test.ts checks)', () => {
  // One tool whose argument is an object of 50 untyped (`{}`, "any") properties. The rendering puts each on an
  // indented line `  p0?: any,` (5 tokens); its JSON `"p0":{},` is 4. The fixed margin (8 per tool + 16) runs
  // out at ~25 such properties. Measured before the fix (gpt-4o, o200k): ours 304, rendered + 9 = 330 (26 short).
  // The deeper the nesting, the smaller the gap, but it stays negative to ~8 levels (depth 4: 17 short).
  // Fixed in src/tokens/content-parts.ts renderingExtra (a per-property term beside the enum one).
  it('a nested object of 50 untyped properties is counted at least at its rendering', () => {
    const properties = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`p${i}`, {}]));
    const fns = [{ name: 'g', parameters: { type: 'object', properties: { o: { type: 'object', properties } } } }];
    for (const [model, enc] of [['gpt-4o', 'o200k_base'], ['gpt-4', 'cl100k_base']] as const) {
      const ours = estimateInput('chat', { messages: [], tools: fns.map((f) => ({ type: 'function', function: f })) }, model).exact() - 3;
      const rendered = countTokens(enc, formatFunctionDefinitions(fns as never)) + 9;
      expect(ours).toBeGreaterThanOrEqual(rendered); // gpt-4o before: 304 vs 330
    }
  });
});

describe('Anthropic: a PDF document is costed by pages wherever it sits in the history', () => {
  // A 3-page PDF as a user `document` block: exact() 13,970 (3 × (1,650 page image + 3,000 text) + framing).
  // The same document block returned by the web fetch server tool (`web_fetch_tool_result` → web_fetch_result
  // → content: document), sent back in the next turn's history: upperBound 886 — the block falls
  // to the default case and is counted as its JSON text (the base64), ~20x under the gateway's own PDF rule.
  // Fixed in src/tokens/count-messages.ts nestedBlocks (images and documents inside any other block by their rule).
  it('a PDF inside web_fetch_tool_result costs at least what the same PDF costs as a document block', () => {
    const model = 'claude-sonnet-4-5';
    const doc = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf(3).toString('base64') } };
    const asDocument = estimateInput('messages', { model, max_tokens: 10, messages: [{ role: 'user', content: [doc, { type: 'text', text: 'sum' }] }] }, model);
    const fetched = estimateInput(
      'messages',
      {
        model,
        max_tokens: 10,
        messages: [
          { role: 'user', content: 'Summarise https://example.com/a.pdf' },
          {
            role: 'assistant',
            content: [
              { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_fetch', input: { url: 'https://example.com/a.pdf' } },
              { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_1', content: { type: 'web_fetch_result', url: 'https://example.com/a.pdf', content: doc, retrieved_at: '2026-01-01T00:00:00Z' } },
            ],
          },
          { role: 'user', content: 'sum' },
        ],
      },
      model,
    );
    expect(asDocument.exact()).toBeGreaterThan(13_000);
    expect(fetched.upperBound).toBeGreaterThanOrEqual(asDocument.exact()); // before: 886 vs 13,970
  });
});

describe('Responses: a reasoning item passed back by id is stored context', () => {
  const ALLOWANCE = 1000;
  const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (url) => `
enforcement: {stored_context_tokens: ${ALLOWANCE}}
providers: {openai: {type: openai, base_url: "${url}/v1"}}
projects: {p: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: o4-mini, model: openai/o4-mini}]}}
keys: [{id: a, key: tg-s39-tok-a, project: p}]
`);
  const client = () => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-s39-tok-a', maxRetries: 0 });
  const reservedInput = async (input: unknown[]): Promise<number> => {
    const before = gw().calls.length;
    await client().responses.create({ model: 'o4-mini', input: input as never, max_output_tokens: 100 }).catch(() => undefined);
    return gw().calls[before].reserved.input;
  };

  // The function-calling loop with store: true hands back the previous output as is: the reasoning item comes
  // as `{type: 'reasoning', id: 'rs_…', summary: []}` without encrypted_content, and OpenAI puts the stored
  // reasoning tokens (often thousands) back into the prompt and bills them as input (cookbook "Better
  // performance from reasoning models using the Responses API": reasoning items of the current tool loop stay
  // in context, hence cache hits on them). The body shows none of it, exactly like an `item_reference`, which
  // reserves enforcement.stored_context_tokens (1,000 here). Expected: the reasoning-by-id call reserves at least
  // 1,000 more than the same body without the item. Before: 0 more (reasoning() counts opaque(undefined) = 0).
  // Fixed in src/proxy/stored-context.ts referencesStoredItem (before, only item_reference marked unseen items;
  // src/tokens/count-responses.ts item() counts such a reasoning item 0).
  it('reserves the stored-context allowance for a reasoning item given by id only', async () => {
    const call = { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
    const result = { type: 'function_call_output', call_id: 'call_1', output: '{"temp":18}' };
    const ask = { role: 'user', content: 'Weather in Paris?' };
    const without = await reservedInput([ask, call, result]);
    const byReference = await reservedInput([ask, { type: 'item_reference', id: 'rs_0123' }, call, result]);
    const byId = await reservedInput([ask, { type: 'reasoning', id: 'rs_0123', summary: [] }, call, result]);
    expect(byReference - without).toBeGreaterThanOrEqual(ALLOWANCE); // holds: item_reference is unseen context
    expect(byId - without).toBeGreaterThanOrEqual(ALLOWANCE); // before: 0
  });
});
