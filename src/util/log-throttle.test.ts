import { afterEach, describe, expect, it, vi } from 'vitest';
import { throttledLog } from './log-throttle.js';

describe('throttledLog', () => {
  afterEach(() => vi.useRealTimers());

  it('writes the first note at once, and what came after it at the end of the interval, with its count', () => {
    vi.useFakeTimers({ now: 0 });
    const lines: string[] = [];
    const note = throttledLog(5000);
    for (let i = 0; i < 10; i++) note((n) => lines.push(`first ${n}`)); // only the first goes out at once
    expect(lines).toEqual(['first 1']);
    vi.advanceTimersByTime(4999);
    expect(lines).toEqual(['first 1']);
    vi.advanceTimersByTime(1); // the 9 held back: written even though no further note comes
    expect(lines).toEqual(['first 1', 'first 9']);
    vi.advanceTimersByTime(20_000); // a quiet spell
    note((n) => lines.push(`later ${n}`));
    expect(lines).toEqual(['first 1', 'first 9', 'later 1']);
  });
});
