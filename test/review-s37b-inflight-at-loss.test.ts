// Review s37b of ba8d95c: a call admitted by Redis before Redis lost its counters, and ending while their
// rebuild from the ledger is held up (a PostgreSQL table lock). fail_open, batched durability; the gateway
// (the built CLI) on a private redis-server. The call's settlement waits in RedisCounterStore.settle for the
// rebuild, which places its reservation back (placeInFlightAgain) and is then replaced with its real usage;
// its ledger row was written at once (ResilientStore.settle hands the settlement to the queue and returns,
// and rowAfter held back only the rows of calls admitted locally), so the row could be in what the rebuild
// read AND the settlement land on the reservation placed back: the call counted twice.
import { describe, expect, it } from 'vitest';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { chatCall, ledgerTotals, rebuiltSinceLoss, useLockableLedgerGateway } from './helpers/lockable-ledger-gateway.js';
import { rawCommand } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const WAIT_MS = 300;
const BUDGET = 100_000;
/** The slow upstream's answer time: the call admitted before the loss ends while the rebuild is held. */
const SLOW_MS = 700;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const at = useLockableLedgerGateway('s37b-inflight', { fast: 0, slow: SLOW_MS }, ({ redisUrl, ledgerUrl, upstreams }) => `
storage: {counters: "${redisUrl}", ledger: "${ledgerUrl}", on_store_error: fail_open, rebuild_wait_ms: ${WAIT_MS}}
ledger: {flush_interval_ms: 50}
providers:
  up: {type: openai, base_url: "${upstreams.fast}/v1", api_key: sk-test}
  slowup: {type: openai, base_url: "${upstreams.slow}/v1", api_key: sk-test}
organizations: {org_f: {}}
projects: {p_f: {daily_limit: ${BUDGET}}}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}, {model_id: slow, model: slowup/gpt-4o}]}
keys: [{id: k, key: tg-k, organization: org_f, project: p_f}]
`);
const chat = (model: 'gpt-4o' | 'slow') => chatCall(at.gateway.url, model);

describe('review s37b: a call in flight when Redis lost its counters, ending during their held rebuild', () => {
  // Found by review (fixed). Expected: counted once (the counters, read by one more call, are the budget
  // less every answered call's tokens, as the ledger's sum is). Before: the ledger was right (196 tokens) but
  // the counters showed 252: both in-flight calls (28 tokens each) counted twice, 6 runs of 6. Their
  // settlements waited for the rebuild to place them back, while their rows went to the ledger at once; now
  // the rows wait for the rebuild too (RedisCounterStore.rebuildReading, rows-after-rebuild.ts).
  it('is counted once, not from its ledger row and again by its settlement', async () => {
    const answered: Array<{ status: number; tokens: number }> = [];
    answered.push(await chat('gpt-4o'));
    await sleep(250); // flushed
    const release = await lockLedgerTable(at.locker);
    let released = false;
    try {
      // Admitted by Redis (it still has the counters); their answers come SLOW_MS later.
      const inFlight = [chat('slow'), chat('slow')];
      // A row whose batch the writer starts and that waits on the lock ...
      answered.push(await chat('gpt-4o'));
      await sleep(150);
      // ... and one buffered behind it: the rebuild's flush must write it, in one batch with every row
      // pushed by then (the in-flight calls' too), before the rebuild reads. That makes the order certain:
      // without it, whether their rows are read is a race between the read and the writer's next batch.
      answered.push(await chat('gpt-4o'));
      await rawCommand(at.redis.port, 'FLUSHALL');
      // Notices the loss: the rebuild starts and waits on the lock; this call is admitted locally.
      answered.push(await chat('gpt-4o'));
      answered.push(...(await Promise.all(inFlight))); // ended while the rebuild is held
      await sleep(300);
      release();
      released = true;
    } finally {
      if (!released) release();
    }
    for (const a of answered) expect(a.status).toBe(200);
    await until(() => rebuiltSinceLoss(at.gateway), 10_000);
    await sleep(400); // the replay, the settlements that waited, the rows' flush
    const last = await chat('gpt-4o');
    const spent = answered.reduce((a, c) => a + c.tokens, 0) + last.tokens;
    await sleep(250);
    // The ledger has every call once (this holds) ...
    expect((await ledgerTotals(at.place.url)).tokens).toBe(spent);
    // ... and the counters should hold as much.
    expect(BUDGET - last.remaining).toBe(spent);
  }, 20_000);
});
