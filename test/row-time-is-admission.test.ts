// A ledger row's time is when the counter store counted the call, not when it arrived. A call that arrives
// just before a window ends and is admitted just after it is counted in the new window; its row said the
// old one, so `tollgate audit` reported it as drift for the whole new window, and a rebuild into empty
// counters (a restart on memory counters, a flushed Redis) left it out: that much more of a hard limit
// handed out again.
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { rebuildCounters } from '../src/ledger/rebuild-counters.js';
import type { CounterStore, ReserveOutcome, ReserveRequest } from '../src/limits/counter-store.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { chat, useUsageGateway } from './helpers/usage-gateway.js';

// 11:59:59.995 UTC: the call arrives 5 ms before the hour (and the day's 3 s slot) ends.
const NOON = Date.UTC(2026, 10, 21, 12);

const gatewayOf = useUsageGateway(
  (ledger) => `
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock, output_tokens: 7}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
    token_limiting:
      scope: user
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: 100000}
      output: {algorithm: sliding_window, window_size: 1 minute, max_token: 100000}
keys:
  - {id: k1, key: tg-k1, user: ann}
`,
  { startMs: NOON - 5 },
);

/** Holds every reservation until `release`, as a slow store round trip would, the clock moved meanwhile. */
function holdReservations(store: CounterStore): { release: () => void; held: Promise<void> } {
  const reserve = store.reserve.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let arrived!: () => void;
  const held = new Promise<void>((resolve) => (arrived = resolve));
  store.reserve = async (req: ReserveRequest): Promise<ReserveOutcome> => {
    arrived();
    await gate;
    return reserve(req);
  };
  return { release, held };
}

describe('a call admitted just after the window it arrived in', () => {
  it('is recorded at its admission: the audit and a rebuild find it where the counter counted it', async () => {
    const gw = gatewayOf();
    const { release, held } = holdReservations(gw.store);
    const answer = chat(gw.url, 'tg-k1', { model: 'gpt-4o', max_tokens: 20 });
    await held;
    gw.clock.set(NOON + 1);
    release();
    expect((await answer).status).toBe(200);
    await gw.usage.writer.flush();

    const [row] = await gw.usage.ledger.rows({ sinceMs: 0, untilMs: NOON + 60_000, limit: 10 });
    expect(row.ts).toBe(NOON + 1);

    const report = await auditCounters(gw.usage.ledger, gw.gateway.policy, gw.store, () => gw.clock.now());
    const input = report.lines.find((l) => l.limit === 'route:main:key:k1:input')!;
    expect(input.counter).toBeGreaterThan(0);
    expect(report.lines.filter((l) => l.drift !== 0)).toEqual([]);

    // Counters rebuilt from the ledger into an empty store hold the call in the new hour, as the live ones do.
    const rebuilt = new MemoryCounterStore(gw.clock, 'UTC');
    await rebuildCounters(gw.usage.ledger, gw.gateway.policy, rebuilt, () => gw.clock.now(), true);
    const again = await auditCounters(gw.usage.ledger, gw.gateway.policy, rebuilt, () => gw.clock.now());
    expect(again.lines.find((l) => l.limit === 'route:main:key:k1:input')!.counter).toBe(input.counter);
    expect(again.drifting).toBe(0);
  });
});
