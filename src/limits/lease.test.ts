// The bookkeeping of one budget lease through a rebuild of the store's counters: what is placed again,
// and what its return then settles, so the store ends at the settled usage whatever the lease's state.
import { describe, expect, it } from 'vitest';
import type { CounterItem } from './counter-store.js';
import { notYetCounted, rebase, room, toPlaceAgain, toSettle, type KeyState, type Lease } from './lease.js';

const ITEM: CounterItem = { key: 'tg:{o}:org:daily:fixed_window', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1000, weights: { input: 1, output: 0, request: 0 }, mode: 'enforce' };

function lease(over: Partial<Lease> = {}): Lease {
  const key: KeyState = { open: new Set(), acquiring: false, demand: 0, requests: 0, since: 0 };
  return { id: 'lease-x-1', item: ITEM, key, size: 200, overdrawn: 0, pending: 0, consumed: 0, base: 0, admitted: 0, validUntil: 1000, usedAtGrant: 200, resetAtMs: 86_400_000, grantedAtMs: 0, askedAt: 0, drainPerMs: 0, retired: false, returned: false, ...over };
}

/**
 * A store's counter for one lease through a rebuild: `ledger` settled before it (restored from the ledger),
 * what is placed again, then `later` more settled by calls against it, then the return. Overdraws are
 * added to the store as they happen, as leased-store.ts does.
 */
function throughRebuild(l: Lease, now: number, later: { consumed: number; overdraws?: number }): { counter: number; settled: number } {
  const settledBefore = l.consumed;
  const placed = toPlaceAgain(l, now);
  rebase(l, placed);
  let counter = settledBefore + placed;
  l.consumed += later.consumed;
  l.pending = 0;
  const overdraw = later.overdraws ?? 0;
  l.overdrawn += overdraw;
  counter += overdraw;
  // The return replaces what its record holds (`placed`) with what it settles.
  counter += toSettle(l) - placed;
  return { counter, settled: l.consumed };
}

describe('a lease placed again after a rebuild', () => {
  it('still usable: its unused room is placed, its settled part is left to the ledger', () => {
    const l = lease({ consumed: 50 });
    expect(toPlaceAgain(l, 500)).toBe(150);
    rebase(l, 150);
    expect({ size: l.size, base: l.base, room: room(l, 500) }).toEqual({ size: 200, base: 50, room: 150 });
  });

  it('ended: only what its calls still running were admitted with is placed, and no room is left', () => {
    const l = lease({ consumed: 50, pending: 20, admitted: 2 });
    expect(toPlaceAgain(l, 1000)).toBe(20);
    rebase(l, 20);
    expect({ size: l.size, room: room(l, 1000) }).toEqual({ size: 70, room: 0 });
    // Those calls using more than they were admitted with is usage the store does not count yet.
    l.pending = 0;
    l.consumed += 35;
    expect(notYetCounted(l)).toBe(15);
  });

  it('retired: the same as ended', () => {
    expect(toPlaceAgain(lease({ consumed: 50, pending: 10, retired: true }), 0)).toBe(10);
  });

  it('overdrawn before the rebuild: nothing of the lease is left to place, and the return settles only what came after', () => {
    const l = lease({ consumed: 230, overdrawn: 30 });
    expect(toPlaceAgain(l, 500)).toBe(0);
    expect(throughRebuild(l, 500, { consumed: 0 })).toEqual({ counter: 230, settled: 230 });
  });

  for (const [name, l, now, later] of [
    ['usable, used further', lease({ consumed: 50 }), 500, { consumed: 100 }],
    ['usable, overdrawn after the rebuild', lease({ consumed: 50 }), 500, { consumed: 180, overdraws: 30 }],
    ['ended with calls running', lease({ consumed: 50, pending: 20, admitted: 2 }), 1000, { consumed: 20 }],
    ['ended, its running calls using less', lease({ consumed: 50, pending: 20, admitted: 2 }), 1000, { consumed: 5 }],
    ['ended, nothing running', lease({ consumed: 120 }), 1000, { consumed: 0 }],
  ] as const) {
    it(`the store ends at the settled usage: ${name}`, () => {
      const { counter, settled } = throughRebuild(l, now, later);
      expect(counter).toBe(settled);
    });
  }

  it('twice: each rebuild leaves out what the ledger holds by then', () => {
    const l = lease({ consumed: 40 });
    const first = toPlaceAgain(l, 100);
    rebase(l, first);
    l.consumed += 60; // 100 settled in all
    expect(toPlaceAgain(l, 200)).toBe(100);
    rebase(l, 100);
    expect(l.base).toBe(100);
    l.consumed += 30;
    expect(toSettle(l)).toBe(30);
  });
});
