import { describe, expect, it } from 'vitest';
import { BurnRate } from './burn-rate.js';

const START = Date.UTC(2026, 10, 21, 12, 0, 3, 500); // not on a bucket boundary

/** Steady traffic of 100 tokens and a cent a second, in calls every 100 ms, from `from` to `until` (ms, exclusive). */
function steady(burn: BurnRate, from: number, until: number): void {
  for (let t = from; t < until; t += 100) burn.add('acme', 10, 0.001, t);
}

describe('BurnRate', () => {
  it('reads the real rate one minute after the start, not a fifth of it', () => {
    const burn = new BurnRate(START);
    steady(burn, START, START + 60_000);
    const [r] = burn.rates(START + 60_000);
    expect(r.tokensPerMinute).toBeCloseTo(6_000, 6);
    expect(r.usdPerHour).toBeCloseTo(36, 6);
  });

  it('reads the real rate three minutes after the start', () => {
    const burn = new BurnRate(START);
    steady(burn, START, START + 180_000);
    expect(burn.rates(START + 180_000)[0].tokensPerMinute).toBeCloseTo(6_000, 6);
  });

  it('does not spike in the first seconds: until a minute has passed it reads low, in proportion', () => {
    const burn = new BurnRate(START);
    burn.add('acme', 1_000, 0, START + 500);
    // Over half a second this would be 120,000 tokens a minute.
    expect(burn.rates(START + 1_000)[0].tokensPerMinute).toBe(1_000);
    steady(burn, START + 1_000, START + 30_000);
    expect(burn.rates(START + 30_000)[0].tokensPerMinute).toBeCloseTo(1_000 + 29 * 100, 6);
  });

  it('reads the steady rate exactly at any moment once the window is full, mid-bucket too', () => {
    for (const offset of [0, 2_500, 7_000, 9_999]) {
      const now = START + 600_000 + offset;
      const fresh = new BurnRate(START);
      steady(fresh, START, now);
      // Within one call's worth (10 tokens of ~29,000 in the window); dividing by a fixed 5 minutes reads up to 3% low.
      expect(Math.abs(fresh.rates(now)[0].tokensPerMinute - 6_000), `at +${offset} ms`).toBeLessThan(6_000 * 0.001);
    }
  });

  it('averages in nothing from before the start: an organization first seen late reads its rate since the start', () => {
    const burn = new BurnRate(START);
    steady(burn, START + 120_000, START + 240_000); // two quiet minutes, then two busy ones
    expect(burn.rates(START + 240_000)[0].tokensPerMinute).toBeCloseTo(3_000, 6);
    expect(burn.rates(START + 600_000)[0].tokensPerMinute).toBe(0);
  });
});
