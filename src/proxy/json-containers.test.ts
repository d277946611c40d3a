import { describe, expect, it } from 'vitest';
import { overBudget } from './json-containers.js';

/** Whether `bytes` opens more than `max` objects and arrays (no bound on keys). */
const hasMoreContainers = (b: Uint8Array, max: number): boolean => overBudget(b, max, Infinity) === 'containers';

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

describe('overBudget', () => {
  it('counts object keys (colons outside strings) against their own bound, in the same scan', () => {
    expect(overBudget(bytes('{"a":1,"b":{"c":2}}'), 10, 3)).toBeUndefined();
    expect(overBudget(bytes('{"a":1,"b":{"c":2}}'), 10, 2)).toBe('keys');
    expect(overBudget(bytes('{"a":1,"b":{"c":2}}'), 1, 10)).toBe('containers');
    // Colons inside strings (keys or values) are text.
    expect(overBudget(bytes('{"a:b":"x:y:z","c\\":"\\"}'), 10, 2)).toBeUndefined();
    expect(overBudget(bytes('[1,2,3,"::::"]'), 10, 0)).toBeUndefined();
  });
});
