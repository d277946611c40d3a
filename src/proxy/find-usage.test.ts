import { describe, expect, it } from 'vitest';
import { findUsage } from './find-usage.js';

const b = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('findUsage', () => {
  it('finds the top-level usage object of a chat completion, nested details included', () => {
    const body = {
      id: 'x',
      choices: [{ message: { content: 'the "usage": {"prompt_tokens": 999} is not a key here', tool_calls: [{ function: { arguments: '{"usage":{"a":1}}' } }] } }],
      usage: { prompt_tokens: 12, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 3 } },
      system_fingerprint: 'fp',
    };
    expect(findUsage(b(body))).toEqual(body.usage);
  });

  it('handles pretty-printed JSON and braces inside strings', () => {
    const body = JSON.stringify({ usage: { prompt_tokens: 1, note: 'a } b { c' } }, null, 2);
    expect(findUsage(b(body))).toEqual({ prompt_tokens: 1, note: 'a } b { c' });
  });

  it('returns undefined for a missing, null or truncated usage', () => {
    expect(findUsage(b({ choices: [] }))).toBeUndefined();
    expect(findUsage(b({ usage: null }))).toBeUndefined();
    expect(findUsage(b('{"usage": {"prompt_tokens": 1'))).toBeUndefined();
  });

  it("takes the top-level usage, not a nested 'usage' key after it (a Responses body echoes metadata last)", () => {
    const usage = { input_tokens: 9000, output_tokens: 4000, output_tokens_details: { reasoning_tokens: 3900 } };
    expect(findUsage(b({ object: 'response', usage, user: null, metadata: { usage: 'x' } }))).toEqual(usage);
    expect(findUsage(b({ object: 'response', usage, metadata: { usage: { input_tokens: 0, output_tokens: 0 } } }))).toEqual(usage);
    expect(findUsage(b({ object: 'usage', data: [{ usage: { a: 1 } }] }))).toBeUndefined();
    expect(findUsage(b({ note: 'a \\"usage\\": {\\"a\\": 1} \\', usage: { prompt_tokens: 2 }, tail: '\\' }))).toEqual({ prompt_tokens: 2 });
  });

  // The usage object is parsed from the span the backward walk crossed; whatever that span does not hold
  // as one well-formed object is decided by the forward scan, as before the shortcut.
  it('reads the usage object the same way when the body around it is malformed or spaced out', () => {
    // An extra closing bracket puts the key one level deeper for the backward walk: not the top-level usage.
    expect(findUsage(b('{"usage":{"prompt_tokens":5}}}'))).toBeUndefined();
    expect(findUsage(b('{"usage":{"prompt_tokens":5,"d":{"a":1}}}]}'))).toBeUndefined();
    expect(findUsage(b('{"usage":{"prompt_tokens":5]},"x":1}'))).toBeUndefined();
    expect(findUsage(b('{"usage" :\n\t {"prompt_tokens":7} ,"x":[1,{"y":2}]}'))).toEqual({ prompt_tokens: 7 });
    expect(findUsage(b('{"usage":[{"prompt_tokens":5}],"x":{}}'))).toBeUndefined();
    expect(findUsage(b('{"usage":"{}","x":{"prompt_tokens":1}}'))).toBeUndefined();
  });
});
