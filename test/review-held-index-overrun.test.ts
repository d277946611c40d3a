// Review of the held index (src/limits/redis/lua-held-index.ts, src/ledger/held-in-ledger.ts): a call
// whose row is in the ledger before its settlement reaches Redis, and that used MORE than its reservation
// (the input estimate was low: a reservation holds the estimated input, the row and the settlement the
// real one). heldByKey takes what the ledger has of the call off what its reservation holds and clamps at
// 0 (mmax(0, amount - counted)): the call's excess over its reservation is then in the ledger's figure and
// nowhere subtracted, so the restore raises the counter by it, and the late settlement adds it again.
// Two RedisCounterStore instances on one private redis-server, a real SQLite ledger (useLedger).
import { expect, it } from 'vitest';
import { configuredLimits } from '../src/ledger/configured-limits.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { HELD_NOW as NOW, useStoresOnPrivateRedis } from './helpers/held-index-stores.js';
import { routeLimit, spentTokens } from './helpers/output-limit.js';
import { useLedger } from './helpers/use-ledger.js';

const { twoInstances } = useStoresOnPrivateRedis();
const { ledger } = useLedger({ each: true });
const inputLimit = (algorithm: string) => routeLimit('input', algorithm);
const spentInput = (limitId: string, input: number, requestId?: string) => spentTokens('input', NOW, limitId, input, requestId);

it.each([
  ['fixed_window', false],
  ['fixed_window', true],
  ['sliding_window', false],
])('a %s call that used more than it reserved, its row in the ledger before its settlement lands, is counted once (counters lost: %s)', async (algorithm, countersLost) => {
  const { a, b, clock } = await twoInstances();
  const policy = inputLimit(algorithm);
  const [{ limit }] = configuredLimits(policy);
  // A reserves on an estimate of 100 input tokens; the call really took 300.
  expect((await a.reserve({ id: 'late', items: [limit.item], input: 100, output: 0, clamp: false, minOutput: 0 })).ok).toBe(true);
  // Its row is written (300) while its settlement has not reached Redis; 200 more the counter lacks.
  await ledger().append([spentInput(limit.id, 200), spentInput(limit.id, 300, 'late')]);
  await rebuildCounters(ledger(), policy, b, () => clock.now(), countersLost);
  await a.settle('late', { input: 300, output: 0, request: 1 });
  // 500 were spent: 200 + 300.
  expect((await a.peek([limit.item]))[0].used).toBe(500); // 700 on 8d8a864: the call's 200 over its estimate counted twice
});
