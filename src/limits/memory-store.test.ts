// The in-process store runs the shared CounterStore contract (the Redis stores run the same bodies).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../util/clock.js';
import { counterStoreContract } from './counter-store.contract.js';
import type { CounterItem } from './counter-store.js';
import { MemoryCounterStore } from './memory-store.js';

counterStoreContract('memory', async (clock, timezone) => new MemoryCounterStore(clock, timezone));

describe('MemoryCounterStore, beyond the contract', () => {
  it('keeps a bounded number of response owners, forgetting the oldest first', async () => {
    const store = new MemoryCounterStore(new ManualClock(0), 'UTC', 3);
    const owner = { organization: 'o', project: 'p', provider: 'openai' };
    for (const id of ['resp_1', 'resp_2', 'resp_3']) await store.recordResponse(id, owner, 60_000);
    await store.recordResponse('resp_1', owner, 60_000); // made again: now the newest
    await store.recordResponse('resp_4', owner, 60_000);
    expect(await store.responseOwner('resp_2')).toBeUndefined();
    for (const id of ['resp_1', 'resp_3', 'resp_4']) expect(await store.responseOwner(id)).toEqual(owner);
  });

  it('keeps conversation owners apart: responses made since never push a conversation out', async () => {
    const store = new MemoryCounterStore(new ManualClock(0), 'UTC', 2);
    const owner = { organization: 'o', project: 'p', provider: 'openai' };
    await store.recordResponse('conv_1', owner, 60_000);
    for (const id of ['resp_1', 'resp_2', 'resp_3']) await store.recordResponse(id, owner, 60_000);
    expect(await store.responseOwner('conv_1')).toEqual(owner);
    expect(await store.responseOwner('resp_1')).toBeUndefined();
    for (const id of ['conv_2', 'conv_3']) await store.recordResponse(id, owner, 60_000);
    expect(await store.responseOwner('conv_1')).toBeUndefined();
    expect(await store.responseOwner('conv_3')).toEqual(owner);
  });

  it('lists a refused sliding window’s counted slots and when each leaves, oldest first', async () => {
    const T0 = Date.UTC(2026, 10, 21, 10); // on a slot edge (slots of 3 s for a one-minute window)
    const clock = new ManualClock(T0);
    const store = new MemoryCounterStore(clock, 'UTC');
    const limit: CounterItem = { key: 'k', algorithm: 'sliding_window', window: { kind: 'duration', ms: 60_000 }, max: 10, weights: { input: 1, output: 0, request: 0 }, mode: 'enforce' };
    const fixed: CounterItem = { ...limit, key: 'f', algorithm: 'fixed_window', max: 100 };
    await store.reserve({ id: 'a', items: [limit, fixed], input: 4, output: 0, clamp: false, minOutput: 1 });
    clock.advance(10_000);
    await store.reserve({ id: 'b', items: [limit, fixed], input: 5, output: 0, clamp: false, minOutput: 1 });
    const r = await store.reserve({ id: 'c', items: [limit, fixed], input: 7, output: 0, clamp: false, minOutput: 1 });
    expect(r.ok).toBe(false);
    expect(r.states[0]).toEqual({
      used: 9,
      max: 10,
      resetAtMs: T0 + 63_000,
      leaving: [
        { atMs: T0 + 63_000, amount: 4 },
        { atMs: T0 + 9_000 + 63_000, amount: 5 },
      ],
    });
    expect(r.states[1].leaving).toBeUndefined(); // not blocking, and not sliding
  });
});
