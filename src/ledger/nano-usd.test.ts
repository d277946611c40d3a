import { describe, expect, it } from 'vitest';
import { roundUsdToTotal } from './nano-usd.js';

const nanos = (usd: number[]): number[] => usd.map((u) => Math.round(u * 1e9));

describe('roundUsdToTotal', () => {
  it('gives back what rounding each part lost or gained, to the parts rounded furthest the other way', () => {
    // 187.5 n$ each round up to 188: two of them go back down to add up to 750.
    expect(nanos(roundUsdToTotal([187.5e-9, 187.5e-9, 187.5e-9, 187.5e-9], 750e-9)).reduce((s, n) => s + n, 0)).toBe(750);
    // 0.4 n$ each round down to 0; five of them make 2: the two largest remainders get one each.
    expect(nanos(roundUsdToTotal([0.4e-9, 0.45e-9, 0.4e-9, 0.42e-9, 0.33e-9], 2e-9))).toEqual([0, 1, 0, 1, 0]);
    // Already adding up: each part rounded to the nearest, untouched.
    expect(roundUsdToTotal([0.000354, 0.00002655, 0], 0.00038055)).toEqual([0.000354, 0.00002655, 0]);
    expect(roundUsdToTotal([], 0)).toEqual([]);
  });
});
