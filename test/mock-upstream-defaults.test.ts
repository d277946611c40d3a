import { afterEach, describe, expect, it } from 'vitest';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';

let upstream: MockUpstream | undefined;
afterEach(() => upstream?.close());

describe('createMockUpstream defaults', () => {
  // Regression: without outputTokens the completion length was NaN and the handler threw.
  it('answers with the CLI default length and no delay when given no options', async () => {
    upstream = createMockUpstream({});
    const url = await upstream.listen(0, '127.0.0.1');
    const res = await fetch(url + '/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).usage.completion_tokens).toBe(64);
  });
});
