// A value the client sent is said back in an error at most 200 characters long: the 404 for an unknown
// model, and the translation's refusal of a role Claude has no place for, repeated a 5 MB value whole.
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const h = useBehindMock({ latencyMs: 0, outputTokens: 5 }, (u) => `
providers:
  gpt: {type: openai, base_url: "${u}/v1", api_key: sk-up}
  claude: {type: anthropic, base_url: "${u}", api_key: sk-ant-up}
routes: {main: {chat_models: [{model_id: gpt-4o, model: gpt/gpt-4o}, {model_id: sonnet, model: claude/claude-sonnet-4-5}]}}
keys: [{id: k, key: tg-k}]
`);

async function chat(body: Record<string, unknown>): Promise<{ status: number; message: string }> {
  const res = await fetch(`${h.gw().url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message };
}

const huge = 'x'.repeat(100_000);

describe('values said back in errors', () => {
  it('an unknown model of 100,000 characters: the 404 names its first 200 and its length', async () => {
    const { status, message } = await chat({ model: huge, messages: [{ role: 'user', content: 'hi' }] });
    expect(status).toBe(404);
    expect(message).toContain(`'${'x'.repeat(200)}… (100000 characters)'`);
    expect(message.length).toBeLessThan(400);
    expect(message).toContain('Models this key can use: gpt-4o, main/gpt-4o, sonnet, main/sonnet');
  });

  it('a short unknown model is said back whole', async () => {
    expect((await chat({ model: 'gpt-5-typo', messages: [{ role: 'user', content: 'hi' }] })).message).toContain("'gpt-5-typo' does not exist");
  });

  it("a role Claude has no place for, 100,000 characters long, is cut the same way", async () => {
    const { status, message } = await chat({ model: 'sonnet', messages: [{ role: huge, content: 'hi' }] });
    expect(status).toBe(400);
    expect(message).toContain('(100000 characters)');
    expect(message.length).toBeLessThan(400);
  });
});
