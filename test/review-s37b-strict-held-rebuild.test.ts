// Review s37b of ba8d95c: `ledger.durability: strict` while a rebuild of lost counters is held by a lock on
// the PostgreSQL ledger table. A fail_open call admitted locally past rebuild_wait_ms has its row written at
// once (usage-services.ts: strict writes do not ask rowAfter), so its answer does not wait for the rebuild;
// it does wait for its own row's commit, which the same lock holds, up to STRICT_WAIT_MS (2 s,
// usage-services.ts:36). Its usage is replayed after the rebuild, which may also have read its row: counted
// twice at worst, never less. The gateway (the built CLI) on a private redis-server.
import { describe, expect, it } from 'vitest';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { chatCall, ledgerTotals, rebuiltSinceLoss, useLockableLedgerGateway } from './helpers/lockable-ledger-gateway.js';
import { rawCommand } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const WAIT_MS = 300;
const BUDGET = 100_000;
/** The lock's length: longer than WAIT_MS + the strict bound, so a call waiting for the rebuild would show. */
const LOCKED_MS = 3500;
const STRICT_WAIT_MS = 2000;
const SLACK_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const at = useLockableLedgerGateway('s37b-strict', { up: 0 }, ({ redisUrl, ledgerUrl, upstreams }) => `
storage: {counters: "${redisUrl}", ledger: "${ledgerUrl}", on_store_error: fail_open, rebuild_wait_ms: ${WAIT_MS}}
ledger: {durability: strict}
providers:
  up: {type: openai, base_url: "${upstreams.up}/v1", api_key: sk-test}
organizations: {org_st: {}}
projects: {p_st: {daily_limit: ${BUDGET}}}
routes:
  r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}
keys: [{id: k, key: tg-k, organization: org_st, project: p_st}]
`);
const chat = () => chatCall(at.gateway.url, 'gpt-4o', 30_000);

describe('review s37b: strict durability while a rebuild of lost counters is held by a table lock', () => {
  it('answers within rebuild_wait_ms + the strict bound (not the lock); counted at least once, at most twice', async () => {
    const before = [await chat(), await chat()];
    const release = await lockLedgerTable(at.locker);
    const unlock = setTimeout(release, LOCKED_MS);
    let during: Array<Awaited<ReturnType<typeof chat>>>;
    try {
      await rawCommand(at.redis.port, 'FLUSHALL');
      during = await Promise.all([chat(), chat(), chat()]);
    } finally {
      clearTimeout(unlock);
      release();
    }
    for (const d of during) expect(d.status).toBe(200);
    // Admitted locally after WAIT_MS; the row's commit waits on the lock up to STRICT_WAIT_MS, no longer.
    for (const d of during) expect(d.ms).toBeGreaterThanOrEqual(WAIT_MS - 5);
    for (const d of during) expect(d.ms).toBeLessThan(WAIT_MS + STRICT_WAIT_MS + SLACK_MS);
    await until(() => rebuiltSinceLoss(at.gateway), 10_000);
    await sleep(400); // the replay after the rebuild
    const last = await chat();
    const calls = [...before, ...during, last];
    const spent = calls.reduce((a, c) => a + c.tokens, 0);
    const counted = BUDGET - last.remaining;
    // Every call has its row, once.
    expect(await ledgerTotals(at.place.url)).toEqual({ rows: calls.length, tokens: spent });
    // Never less than what was spent; at worst each local call twice (the documented bound).
    expect(counted).toBeGreaterThanOrEqual(spent);
    expect(counted).toBeLessThanOrEqual(spent + during.reduce((a, c) => a + c.tokens, 0));
    console.log(`s37b strict: answers ${during.map((d) => Math.round(d.ms)).join('/')} ms; counted ${counted}, spent ${spent}, double-counted calls ${(counted - spent) / during[0].tokens}`);
  }, 30_000);
});
