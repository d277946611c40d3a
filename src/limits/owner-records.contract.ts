// The counter store's records of who owns a stored response or conversation, part of the CounterStore
// contract (counter-store.contract.ts): the same bodies run on memory, Redis and the Redis Cluster.
import { expect, it } from 'vitest';
import type { ManualClock } from '../util/clock.js';
import type { CounterStore } from './counter-store.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);

/** `setup` makes a store (and a fresh organization name, which `organization` then returns). */
export function ownerRecordsContract(setup: (startMs: number) => Promise<{ clock: ManualClock; store: CounterStore }>, organization: () => string): void {
  let org = '';
  const fresh = async (startMs: number): Promise<{ clock: ManualClock; store: CounterStore }> => {
    const made = await setup(startMs);
    org = organization();
    return made;
  };
  // Response ids are global (the provider's), so each test makes its own.
  const responseId = (): string => `resp_${org}${Math.random().toString(36).slice(2, 10)}`;

  it('record who owns a response, read back by its id alone; an id never recorded has no owner', async () => {
    const { store } = await fresh(T0);
    const [a, b, none] = [responseId(), responseId(), responseId()];
    await store.recordResponse(a, { organization: org, project: 'web', provider: 'openai', contextTokens: 1234 }, HOUR);
    await store.recordResponse(b, { organization: `${org}x`, provider: 'azure' }, HOUR);
    expect(await store.responseOwner(a)).toEqual({ organization: org, project: 'web', provider: 'openai', contextTokens: 1234 });
    // A key without a project owns it as the organization's project-less keys: no project comes back.
    expect(await store.responseOwner(b)).toEqual({ organization: `${org}x`, provider: 'azure' });
    expect(await store.responseOwner(none)).toBeUndefined();
  });

  it('record conversations (`conv_...` ids) the same way, apart from a response of the same tail', async () => {
    const { store } = await fresh(T0);
    const tail = responseId().slice('resp_'.length);
    await store.recordResponse(`conv_${tail}`, { organization: org, project: 'web', provider: 'openai', contextTokens: 50 }, HOUR);
    expect(await store.responseOwner(`conv_${tail}`)).toEqual({ organization: org, project: 'web', provider: 'openai', contextTokens: 50 });
    expect(await store.responseOwner(`resp_${tail}`)).toBeUndefined();
  });

  it('grow a record\'s size in one step: adds made at once all count, and the record lives on from then', async () => {
    const { store, clock } = await fresh(T0);
    const tail = responseId().slice('resp_'.length);
    const [conv, sizeless, none] = [`conv_${tail}`, `conv_${tail}x`, `conv_${tail}y`];
    await store.recordResponse(conv, { organization: org, project: 'web', provider: 'openai', contextTokens: 10 }, HOUR);
    await store.recordResponse(sizeless, { organization: org, provider: 'openai' }, HOUR);
    await Promise.all([store.growResponse(conv, 100, 2 * HOUR), store.growResponse(conv, 1000, 2 * HOUR), store.growResponse(sizeless, 5, HOUR), store.growResponse(none, 5, HOUR)]);
    expect(await store.responseOwner(conv)).toEqual({ organization: org, project: 'web', provider: 'openai', contextTokens: 1110 });
    // A size not known stays unknown; no record is made where there was none.
    expect(await store.responseOwner(sizeless)).toEqual({ organization: org, provider: 'openai' });
    expect(await store.responseOwner(none)).toBeUndefined();
    clock.advance(HOUR + 1);
    expect((await store.responseOwner(conv))?.contextTokens).toBe(1110);
  });

  it('a record made again replaces the first', async () => {
    const { store } = await fresh(T0);
    const id = responseId();
    await store.recordResponse(id, { organization: org, project: 'a', provider: 'p1' }, HOUR);
    await store.recordResponse(id, { organization: org, project: 'b', provider: 'p2' }, HOUR);
    expect(await store.responseOwner(id)).toEqual({ organization: org, project: 'b', provider: 'p2' });
  });

  it('forget a record once its time to live has passed', async () => {
    const { clock, store } = await fresh(T0);
    const id = responseId();
    // Redis expires keys on its own clock, which no test can move: a short real TTL, and the clock moved with it.
    await store.recordResponse(id, { organization: org, project: 'web', provider: 'openai' }, 300);
    expect(await store.responseOwner(id)).toBeDefined();
    clock.advance(400);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await store.responseOwner(id)).toBeUndefined();
  });
}
