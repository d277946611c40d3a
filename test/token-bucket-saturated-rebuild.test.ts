// A token bucket kept full for longer than its window: its counter cannot be read off one window of ledger
// rows replayed from an empty bucket. While callers spend exactly what refills, that replay sees as much
// drain as usage and ends near empty, though the bucket is full. The audit reported the full counter as
// drift (the soak, scripts/soak.mjs: +11,258 tokens on a 12,000 bucket, ledger 0), and a rebuild after Redis
// lost its counters restored the bucket near empty, so a burst of its whole capacity went through at once
// (the soak: 6,175 tokens admitted within one bucket's worth of 4,000 plus refill).
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { ledgerUsageByLimit } from '../src/ledger/limit-usage.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { chat, withUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const MAX = 100;
const config = (ledger: string): string => `
server: {timezone: UTC}
storage: {ledger: "${ledger}"}
providers: {demo: {type: mock}}
routes:
  r:
    chat_models: [{model_id: m, model: demo/gpt-4o}]
    token_limiting:
      output: {algorithm: token_bucket, window_size: 1 minute, max_token: ${MAX}}
keys: [{id: k, key: tg-k}]
enforcement: {clamp_max_tokens: false}
`;

const call = (gw: UsageTestGateway, output: number): Promise<{ status: number }> =>
  chat(gw.url, 'tg-k', { model: 'm', max_tokens: output, mock_output_tokens: output, messages: [{ role: 'user', content: 'hi' }] });

/** Fills the bucket, then spends what refills (10 tokens every 6 s) for three windows: it stays full. */
async function keepFull(gw: UsageTestGateway): Promise<void> {
  expect((await call(gw, MAX)).status).toBe(200);
  for (let i = 0; i < 30; i++) {
    gw.clock.advance(6_000);
    expect((await call(gw, 10)).status).toBe(200);
  }
  expect((await call(gw, 10)).status).toBe(429);
  await gw.usage.writer.flush();
}

describe('a token bucket full for longer than its window', () => {
  it('audits clean, and a counter store rebuilt from the ledger keeps it full', async () => {
    await withUsageGateway(config, async (gw) => {
      await keepFull(gw);
      const policy = gw.gateway.policy;
      const now = () => gw.clock.now();

      const report = await auditCounters(gw.usage.ledger, policy, gw.store, now, { readings: 1 });
      const bucket = report.lines.find((l) => l.limit === 'route:r:output')!;
      expect(bucket.counter).toBe(MAX);
      expect(bucket.drift).toBe(0);

      // What a rebuild into an empty store restores: never less than the bucket holds (it may hold the most it could).
      const usage = await ledgerUsageByLimit(gw.usage.ledger, policy, now());
      const replayed = usage.limits.find((u) => u.limit.id === 'route:r:output')!;
      expect(replayed.usedAtMost).toBeGreaterThanOrEqual(MAX);

      // Redis lost its counters: the rebuilt bucket refuses the burst the original one refuses.
      const rebuilt = new MemoryCounterStore(gw.clock, 'UTC');
      await rebuildCounters(gw.usage.ledger, policy, rebuilt, now, true);
      const [state] = await rebuilt.peek([replayed.limit.item]);
      expect(state.used).toBeGreaterThanOrEqual(MAX);
      expect((await auditCounters(gw.usage.ledger, policy, rebuilt, now, { readings: 1 })).drifting).toBe(0);
    });
  });

  it('kept low by callers spending what refills: a store that kept its counters is not raised to full', async () => {
    await withUsageGateway(config, async (gw) => {
      // From empty, 10 tokens every 6 s (the refill) for three windows: the bucket holds ~10 throughout, while
      // the ledger cannot tell it from one kept full the same way (the first test).
      for (let i = 0; i < 30; i++) {
        expect((await call(gw, 10)).status).toBe(200);
        gw.clock.advance(6_000);
      }
      await gw.usage.writer.flush();
      const policy = gw.gateway.policy;
      const now = () => gw.clock.now();
      const usage = await ledgerUsageByLimit(gw.usage.ledger, policy, now());
      const replayed = usage.limits.find((u) => u.limit.id === 'route:r:output')!;
      expect(replayed.used).toBeLessThanOrEqual(10);
      expect(replayed.usedAtMost).toBeCloseTo(MAX - 10, 6); // full at each call, 6 s of drain since the last
      expect((await auditCounters(gw.usage.ledger, policy, gw.store, now, { readings: 1 })).drifting).toBe(0);

      // A gateway restarting on a Redis that kept its counters raises them to the ledger's least figure only:
      // the busy caller is not refused for a window after every restart.
      await rebuildCounters(gw.usage.ledger, policy, gw.store, now, false);
      const [kept] = await gw.store.peek([replayed.limit.item]);
      expect(kept.used).toBeLessThanOrEqual(10);
      expect((await call(gw, 80)).status).toBe(200);
    });
  });

  it('a bucket used now and then is still replayed exactly: it drained between calls', async () => {
    await withUsageGateway(config, async (gw) => {
      expect((await call(gw, 60)).status).toBe(200);
      gw.clock.advance(90_000); // 1.5 windows: the 60 drained long ago
      expect((await call(gw, 30)).status).toBe(200);
      gw.clock.advance(6_000); // 10 of the 30 drained
      await gw.usage.writer.flush();
      const usage = await ledgerUsageByLimit(gw.usage.ledger, gw.gateway.policy, gw.clock.now());
      expect(usage.limits.find((u) => u.limit.id === 'route:r:output')!.used).toBeCloseTo(20, 9);
      const report = await auditCounters(gw.usage.ledger, gw.gateway.policy, gw.store, () => gw.clock.now(), { readings: 1 });
      expect(report.drifting).toBe(0);
    });
  });
});
