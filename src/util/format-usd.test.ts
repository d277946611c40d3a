import { describe, expect, it } from 'vitest';
import { FORMAT_USD_SCRIPT, formatUsd, formatUsdPair } from './format-usd.js';

describe('dollar amounts for people', () => {
  // Regression test from a FinOps review: the dashboard showed costs under $0.0001 as `$0.0000`, which reads as free.
  it('never show a cost that is not zero as zero: two significant digits under a cent', () => {
    expect(formatUsd(0.0042)).toBe('$0.0042');
    expect(formatUsd(0.000017)).toBe('$0.000017');
    expect(formatUsd(0.0000025)).toBe('$0.0000025');
    expect(formatUsd(1e-9)).toBe('$0.000000001');
    expect(formatUsd(0.1875e-6)).toBe('$0.00000019');
    expect(formatUsd(0.005)).toBe('$0.005');
    expect(formatUsd(-0.0042)).toBe('-$0.0042');
  });

  it('show cents from one cent up, with thousands separators, and zero as $0.00', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(0.01)).toBe('$0.01');
    expect(formatUsd(0.3)).toBe('$0.30');
    expect(formatUsd(12.345)).toBe('$12.35');
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(1_000_000)).toBe('$1,000,000.00');
  });

  // Regression test from a FinOps review: a money limit at 99.98% read "$0.01 of $0.01".
  it('show two different amounts side by side differently, and equal ones alike', () => {
    expect(formatUsdPair(0.0099975, 0.01)).toEqual(['$0.009998', '$0.01']);
    expect(formatUsdPair(0.00999, 0.01)).toEqual(['$0.00999', '$0.01']);
    expect(formatUsdPair(9.999, 10)).toEqual(['$9.999', '$10.00']);
    expect(formatUsdPair(10.001, 10)).toEqual(['$10.001', '$10.00']);
    expect(formatUsdPair(0.0042, 0.00421)).toEqual(['$0.0042', '$0.00421']);
    // Amounts that already read differently keep their own forms.
    expect(formatUsdPair(0.5, 10)).toEqual(['$0.50', '$10.00']);
    expect(formatUsdPair(0.0042, 0.01)).toEqual(['$0.0042', '$0.01']);
    expect(formatUsdPair(10, 10)).toEqual(['$10.00', '$10.00']);
  });

  it('run the same in a page from their own source', () => {
    const run = new Function(`${FORMAT_USD_SCRIPT}\nreturn [formatUsd(0.000017), formatUsd(1234.5), formatUsdPair(0.0099975, 0.01)];`);
    expect(run()).toEqual(['$0.000017', '$1,234.50', ['$0.009998', '$0.01']]);
  });
});
