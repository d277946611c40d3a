import { describe, expect, it } from 'vitest';
import { throttledLog } from './log-throttle.js';

describe('throttledLog', () => {
  it('emits the first note, then one per interval with how many notes it stands for', () => {
    let t = 0;
    const lines: number[] = [];
    const note = throttledLog(5000, () => t);
    for (let i = 0; i < 10; i++) note((n) => lines.push(n)); // t = 0: only the first is written
    t = 4999;
    note((n) => lines.push(n));
    t = 5000;
    note((n) => lines.push(n)); // the 10 held back since the first line, and this one
    expect(lines).toEqual([1, 11]);
  });
});
