import { describe, expect, it } from 'vitest';
import { ChurnMap, FRESH_MAP_EVERY } from './churn-map.js';

describe('ChurnMap', () => {
  it('holds what a Map holds, in the same order, across its moves to a fresh Map', () => {
    const churn = new ChurnMap<string, number>();
    const reference = new Map<string, number>();
    // Entries that stay across several moves, among many that come and go as requests do.
    for (let i = 0; i < 5; i++) {
      churn.set(`long${i}`, i);
      reference.set(`long${i}`, i);
    }
    for (let i = 0; i < 3 * FRESH_MAP_EVERY + 17; i++) {
      churn.set(`r${i}`, i);
      reference.set(`r${i}`, i);
      if (i >= 32) {
        expect(churn.delete(`r${i - 32}`)).toBe(true);
        reference.delete(`r${i - 32}`);
      }
      if (i === FRESH_MAP_EVERY + 3) {
        churn.set('long2', -2); // an update keeps the entry's place
        reference.set('long2', -2);
      }
    }
    expect(churn.size).toBe(reference.size);
    expect([...churn]).toEqual([...reference]);
    expect([...churn.keys()]).toEqual([...reference.keys()]);
    expect([...churn.values()]).toEqual([...reference.values()]);
    expect(churn.get('long2')).toBe(-2);
    expect(churn.get('r0')).toBeUndefined();
    expect(churn.delete('r0')).toBe(false);
  });
});
