import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { copyBodyFor, withUsageIncluded } from './body-copy.js';

describe('copyBodyFor', () => {
  it('copies every field, sets the model, and leaves the client body alone', () => {
    const body = JSON.parse('{"messages":[{"role":"user","content":"hi"}],"model":"fast","__proto__":{"x":1},"temperature":0}');
    const copy = copyBodyFor('gpt-4o-mini', body);
    expect(JSON.stringify(copy)).toBe('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"__proto__":{"x":1},"temperature":0}');
    // `__proto__` from JSON is an own field, forwarded as such; it never becomes the copy's prototype.
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(body.model).toBe('fast');
    expect(copy.messages).toBe(body.messages);
  });
});

describe('withUsageIncluded', () => {
  it('asks for usage whatever the client sent', () => {
    expect(withUsageIncluded(undefined)).toEqual({ include_usage: true });
    const options = { include_usage: false, continuous_usage_stats: true };
    expect(withUsageIncluded(options)).toEqual({ include_usage: true, continuous_usage_stats: true });
    expect(options.include_usage).toBe(false);
  });
});

// The reason these helpers exist (body-copy.ts): V8 gives a spread copy a new hidden class for each
// property added to it. Checked in a child process with V8's own `%HaveSameMap`.
const bodyCopy = resolve(fileURLToPath(new URL('../..', import.meta.url)), 'dist/proxy/body-copy.js');
const SCRIPT = `
const { copyBodyFor, withUsageIncluded } = await import(${JSON.stringify(bodyCopy)});
const parse = () => JSON.parse('{"model":"m","messages":[],"stream":true}');
const spread = () => { const o = { ...parse(), model: 'up' }; o.stream_options = { include_usage: true }; return o; };
const helper = () => { const o = copyBodyFor('up', parse()); o.stream_options = withUsageIncluded(undefined); return o; };
const same = (make) => { for (let i = 0; i < 1000; i++) make(); return %HaveSameMap(make(), make()); };
console.log(JSON.stringify({ spread: same(spread), helper: same(helper) }));
`;

describe('hidden classes of edited bodies', () => {
  it('a spread copy with an added field gets a new one each time; the helpers share theirs', () => {
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', SCRIPT], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ spread: false, helper: true });
  });
});
