// Budget leases through a loss of Redis's counters, in real gateway processes. Two gateways with
// `lease_ms: 1500` share a private Redis and a PostgreSQL ledger (strict: each row is committed before its
// answer, so the ledger holds every settled call when the counters are rebuilt). Six client loops spend a
// project's daily limit through both; both hold slices of it. Redis is flushed once 60% is spent, and the
// loops go on until every call is refused. The rebuild from the ledger cannot see the slices: before it
// waited them out, an instance went on admitting against its slice for up to `lease_ms` while the other
// spent the rebuilt counter to the limit (the store-level cases: leased-store-lost-counters.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { TABLE } from '../src/ledger/ledger-sql.js';
import { startFleet, type Fleet } from './helpers/redis-fleet.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';

const LIMIT = 30_000;
const LEASE_MS = 1500;
const LOOPS = 6;

const redis = usePrivateRedis();
let ledger: LedgerPlace;
let fleet: Fleet;

beforeAll(async () => {
  ledger = await postgresPlace();
  fleet = await startFleet(
    2,
    (mockUrl) => `
storage: {counters: "${redis.url}", ledger: "${ledger.url}", instances: 2, on_store_error: fail_closed, lease_ms: ${LEASE_MS}}
ledger: {durability: strict}
providers: {up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
projects: {p: {daily_limit: ${LIMIT}}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]}}
keys: [{id: k, key: tg-k, project: p}]
`,
    { TOLLGATE_LOG_LEVEL: 'info' },
  );
}, 30_000);
afterAll(async () => {
  await fleet?.stop();
  await ledger?.drop();
});

describe('gateways with budget leases when Redis loses the counters under load', () => {
  it('spend no more than the limit: the rebuild waits out the slices granted before the loss', async () => {
    let spent = 0;
    let flushedAt = 0;
    const statuses = new Map<number, number>();
    let slowest = 0;
    const loop = async (n: number): Promise<void> => {
      for (let i = n, refusedInARow = 0; refusedInARow < 20; i += LOOPS) {
        const sentAt = Date.now();
        const res = await fetch(`${fleet.urls[i % fleet.urls.length]}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', max_tokens: 20, mock_output_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
        });
        const body = (await res.json()) as { usage?: { total_tokens: number } };
        slowest = Math.max(slowest, Date.now() - sentAt);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) {
          spent += body.usage!.total_tokens;
          refusedInARow = 0;
        } else {
          refusedInARow++;
          await new Promise((r) => setTimeout(r, 10));
        }
        if (!flushedAt && spent >= 0.6 * LIMIT) {
          flushedAt = Date.now();
          const raw = new Redis(redis.url);
          await raw.flushall();
          await raw.quit();
        }
      }
    };
    await Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));

    const summary = { spent, overshoot: Math.max(0, spent - LIMIT), statuses: Object.fromEntries(statuses), slowest };
    console.log(`leases through a FLUSHALL under load: ${JSON.stringify(summary)}`);
    expect(flushedAt).toBeGreaterThan(0);
    expect(fleet.gateways.some((g) => g.output().includes('rebuilding them from the ledger'))).toBe(true);
    expect([...statuses.keys()].sort()).toEqual([200, 429]);
    expect(summary.overshoot).toBe(0);
    // Refused only near the limit: what is left is less than a slice's sliver and the calls under way.
    expect(spent).toBeGreaterThan(LIMIT - 500);
    // A call waits for the rebuild at most lease_ms and the ledger's sums, never up to a timeout.
    expect(slowest).toBeLessThan(LEASE_MS + 2000);
    // The ledger holds exactly what the clients were told.
    const sql = postgres(ledger.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql.unsafe(`SELECT sum(input_tokens + output_tokens)::int AS tokens FROM ${TABLE}`);
      expect(row.tokens).toBe(spent);
    } finally {
      await sql.end();
    }
  }, 60_000);
});
