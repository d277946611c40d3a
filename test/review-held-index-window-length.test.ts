// Review of the held index (src/limits/redis/lua-held-index.ts): a reload that changes a fixed window's
// length. Two gateways whose configs give one limit different lengths share the counter key, each window in
// fields of its own (lua-fixed-window-fields.ts: s/u and s<len>/u<len>). The index notes a fixed window's
// reservation by key and window start only, and heldNow matches it to any window of that key starting there:
// a 1-hour window from 10:00 and a 2-hour one from 10:00 start alike. The 2-hour window's rebuild then takes
// the 1-hour reservation (which its own fields do not hold) off its counter's settled part and raises the
// counter by it: a rebuild is no longer idempotent, and the limit loses room it never spent.
import { expect, it } from 'vitest';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { HELD_NOW as NOW, useStoresOnPrivateRedis } from './helpers/held-index-stores.js';
import { routeLimit, spentOutput } from './helpers/output-limit.js';
import { useLedger } from './helpers/use-ledger.js';

const { twoInstances } = useStoresOnPrivateRedis(); // at 10:05: 10:00 starts a 1-hour and a 2-hour window alike
const { ledger } = useLedger({ each: true });
const outputLimit = (size: string) => routeLimit('output', 'fixed_window', size);

it('a rebuild of a 2-hour fixed window is idempotent while a 1-hour reservation of the same key, from the same start, is in flight', async () => {
  const { a, b, clock } = await twoInstances();
  const oldPolicy = outputLimit('1 hour'); // gateway A, not reloaded yet
  const newPolicy = outputLimit('2 hours'); // gateway B, reloaded
  const [{ limit: oldLimit }] = configuredLimits(oldPolicy);
  const [{ limit: newLimit }] = configuredLimits(newPolicy);
  expect(newLimit.item.key).toBe(oldLimit.item.key); // one key, two windows in it
  // A admits a call asking 600 under the 1-hour window; it is still running.
  expect((await a.reserve({ id: 'running', items: [oldLimit.item], input: 0, output: 600, clamp: false, minOutput: 0 })).ok).toBe(true);
  // B admits and settles a call of 300 under the 2-hour window; its row is in the ledger.
  expect((await b.reserve({ id: 'done', items: [newLimit.item], input: 0, output: 300, clamp: false, minOutput: 0 })).ok).toBe(true);
  await b.settle('done', { input: 0, output: 300, request: 1 });
  await ledger().append([spentOutput(NOW, newLimit.id, 300, 'done')]);
  expect((await b.peek([newLimit.item]))[0].used).toBe(300);
  // B rebuilds (a reload): the ledger has 300 in the 2-hour window, as the counter does.
  await rebuildCounters(ledger(), newPolicy, b, () => clock.now(), false);
  expect((await b.peek([newLimit.item]))[0].used).toBe(300); // 600 on 8d8a864: A's 1-hour reservation taken off the 2-hour counter
  await a.settle('running', { input: 0, output: 10, request: 1 });
  expect((await b.peek([newLimit.item]))[0].used).toBe(300);
});
