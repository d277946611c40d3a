import { describe, expect, it } from 'vitest';
import { limitLabel } from './limit-labels.js';
import { BurnRate } from './burn-rate.js';

describe('metric labels and rates', () => {
  it('collapses users and keys out of limit ids unless user labels are on', () => {
    expect(limitLabel('user:alice:daily', false)).toBe('user:*:daily');
    expect(limitLabel('route:main:key:alice-laptop:input', false)).toBe('route:main:key:*:input');
    expect(limitLabel('route:main:group:ml:output', false)).toBe('route:main:group:ml:output');
    expect(limitLabel('project:web:daily', false)).toBe('project:web:daily');
    expect(limitLabel('user:alice:daily', true)).toBe('user:alice:daily');
  });

  it('averages the burn rate over the last five minutes', () => {
    const t0 = 1_700_000_000_000; // on a 10 s bucket boundary: the buckets summed cover the last 290 s
    const burn = new BurnRate(t0 - 3_600_000);
    burn.add('acme', 6000, 0.6, t0 - 400_000); // too old
    burn.add('acme', 1000, 0.1, t0 - 200_000);
    burn.add('acme', 500, 0.05, t0);
    expect(burn.rates(t0)).toEqual([{ organization: 'acme', tokensPerMinute: expect.closeTo((1500 * 60) / 290, 9), usdPerHour: expect.closeTo((0.15 * 3600) / 290, 9) }]);
  });
});
