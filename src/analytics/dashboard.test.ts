import { describe, expect, it } from 'vitest';
import { pct } from './dashboard.js';

describe('alert percentages', () => {
  // Regression test from an audit: a limit at 99.6% (refusing calls that needed more) read "at 100% of its limit".
  it('never round a share below the limit up to 100%', () => {
    expect(pct(0.996)).toBe('99.6%');
    expect(pct(0.9999)).toBe('99.9%');
    expect(pct(0.86)).toBe('86%');
    expect(pct(1)).toBe('100%');
    expect(pct(1.25)).toBe('125%');
  });
});
