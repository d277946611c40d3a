import { describe, expect, it } from 'vitest';
import { lostDuplicateKeys, scanJson } from './json-containers.js';

/** Whether `bytes` opens more than `max` objects and arrays (no bound on keys). */
const hasMoreContainers = (b: Uint8Array, max: number): boolean => scanJson(b, max, Infinity).over === 'containers';

const bytes = (s: string): Buffer => Buffer.from(s);

describe('hasMoreContainers', () => {
  it('counts objects and arrays, at any depth, up to the bound', () => {
    expect(hasMoreContainers(bytes('{"a":[1,{"b":[]}]}'), 4)).toBe(false);
    expect(hasMoreContainers(bytes('{"a":[1,{"b":[]}]}'), 3)).toBe(true);
    expect(hasMoreContainers(bytes('[[[[[[]]]]]]'), 5)).toBe(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(hasMoreContainers(bytes('{"a":"[[[{{{"}'), 1)).toBe(false);
    expect(hasMoreContainers(bytes('{"a":"say \\"[[[\\" {"}'), 1)).toBe(false);
    // A string ending in an escaped backslash closes at its quote: the array after it counts.
    expect(hasMoreContainers(bytes('{"a":"\\\\","b":[]}'), 1)).toBe(true);
    expect(hasMoreContainers(bytes('{"a":"\\\\\\"[","b":1}'), 1)).toBe(false);
  });

  it('leaves an unterminated string to the parser', () => {
    expect(hasMoreContainers(bytes('{"a":"[[[['), 1)).toBe(false);
  });
});

describe('scanJson', () => {
  it('counts object keys (colons outside strings) against their own bound, in the same scan', () => {
    expect(scanJson(bytes('{"a":1,"b":{"c":2}}'), 10, 3).over).toBeUndefined();
    expect(scanJson(bytes('{"a":1,"b":{"c":2}}'), 10, 2).over).toBe('keys');
    expect(scanJson(bytes('{"a":1,"b":{"c":2}}'), 1, 10).over).toBe('containers');
    // Colons inside strings (keys or values) are text.
    expect(scanJson(bytes('{"a:b":"x:y:z","c\\":"\\"}'), 10, 2).over).toBeUndefined();
    expect(scanJson(bytes('[1,2,3,"::::"]'), 10, 0).over).toBeUndefined();
  });
});

describe('lostDuplicateKeys', () => {
  const lost = (text: string): boolean => lostDuplicateKeys(JSON.parse(text), scanJson(bytes(text), Infinity, Infinity).members);

  it('tells a key written twice in one object, at any depth, from the same key in two objects', () => {
    expect(lost('{"model":"a","model":"b"}')).toBe(true);
    expect(lost('{"messages":[{"role":"user","content":"x","content":"y"}]}')).toBe(true);
    expect(lost('{"stream_options":{"include_usage":true,"include_usage":false}}')).toBe(true);
    expect(lost('{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":2}]}')).toBe(false);
    expect(lost('{"__proto__":1,"constructor":2,"a:b":"c:d"}')).toBe(false);
    expect(lost('[1,"x",null,[[]]]')).toBe(false);
  });

  it('walks nesting deeper than the call stack', () => {
    const deep = `${'['.repeat(20_000)}{"a":1,"a":2}${']'.repeat(20_000)}`;
    expect(lost(deep)).toBe(true);
  });
});
