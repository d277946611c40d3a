// 40 calls released at once against a project's money limit, and what the counter and the ledger say
// afterwards: the check of the tests that a `max_cost_usd` limit is never overshot.
import { Pool } from 'undici';
import { expect } from 'vitest';
import { auditCounters } from '../../src/ledger/audit.js';
import type { UsageTestGateway } from './usage-gateway.js';

export interface BurstResult {
  /** Calls answered 200. */
  ok: number;
  /** The project's daily counter (USD) and the cost of its 200 rows in the ledger. */
  counter: number;
  ledger: number;
  /** Cache-write input tokens over those rows. */
  writes: number;
  /** The audit's drift of that counter. */
  drift: number;
}

/** Sends `body` to `path` 40 times at once with `key` (`tg-<project>`): the project's `daily` limit as it stands afterwards. */
export async function burst(g: UsageTestGateway, key: string, path: string, body: Record<string, unknown>): Promise<BurstResult> {
  const pool = new Pool(g.url, { connections: 40 });
  const statuses = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
      await res.body.dump();
      return res.statusCode;
    }),
  );
  await pool.close();
  await g.usage.writer.flush();
  const limit = `project:${key.slice(3)}:daily`;
  const report = await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now());
  const line = report.lines.find((l) => l.limit === limit)!;
  const rows = (await g.usage.ledger.rows({})).filter((r) => r.limits.includes(limit) && r.status === 200);
  return {
    ok: statuses.filter((s) => s === 200).length,
    counter: line.counter,
    ledger: rows.reduce((sum, r) => sum + r.costUsd, 0),
    writes: rows.reduce((sum, r) => sum + r.cacheWriteInputTokens, 0),
    drift: line.drift,
  };
}

/**
 * What every cache-writing burst must show: some calls served, writing more than 1,024 tokens (what OpenAI
 * caches from) a call on average, their ledger cost within `limit`, and the counter equal to the ledger.
 */
export function expectWritesWithinLimit(r: BurstResult, limit: number): void {
  expect(r.ok).toBeGreaterThan(0);
  expect(r.writes).toBeGreaterThan(1024 * r.ok);
  expect(r.ledger).toBeLessThanOrEqual(limit + 1e-12);
  expect(r.counter).toBeCloseTo(r.ledger, 12);
}
