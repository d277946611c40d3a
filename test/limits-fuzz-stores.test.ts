// Differential fuzz of the counter stores: the memory store and the Redis store (real Redis, database 9
// of 127.0.0.1:6379, its own organization per run) get the same random sequences of reserve / settle
// (below, at and above the reservation) / refund / retried settle / time jumps, over every algorithm,
// calendar and whole-day windows in zones with DST days, several limits per reservation, and money
// limits. After every step both must give the same decisions, usage and reset times, and both must
// agree with an oracle that knows what each fixed and sliding limit counts and what the hard-limit
// promise (SPEC §2) allows: nothing admitted past a limit, no refusal of a request that fits.
//
// Seeded, so the normal suite runs the same scenarios every time. A larger run:
//   TOLLGATE_FUZZ_RUNS=2000 TOLLGATE_FUZZ_SEED=<n> npx vitest run test/limits-fuzz-stores.test.ts
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { CounterItem, LimitState, PriceFactors, ReserveOutcome, ReserveRequest, SettleUsage } from '../src/limits/counter-store.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { ManualClock } from '../src/util/clock.js';
import { amountOf, factorsOf, fuzzRedisStore, tidyRedisAfterAll, itemsOf, nearlyEqual, Oracle, type Reserved, scenarioArbitrary, timeAfter, WINDOWS, type Op, type Scenario, type ScenarioOptions } from './helpers/limits-fuzz.js';

const RUNS = Number(process.env.TOLLGATE_FUZZ_RUNS ?? 60);
const SEED = Number(process.env.TOLLGATE_FUZZ_SEED ?? 20261205);
const ORG_PREFIX = `fz${Date.now().toString(36)}`;
tidyRedisAfterAll(ORG_PREFIX);

function sameState(a: LimitState, b: LimitState): boolean {
  if (!nearlyEqual(a.used, b.used) || a.max !== b.max || !Object.is(a.resetAtMs, b.resetAtMs)) return false;
  const la = a.leaving ?? [];
  const lb = b.leaving ?? [];
  return la.length === lb.length && la.every((x, i) => x.atMs === lb[i].atMs && nearlyEqual(x.amount, lb[i].amount));
}

function sameOutcome(a: ReserveOutcome, b: ReserveOutcome): boolean {
  if (a.ok !== b.ok || a.states.length !== b.states.length) return false;
  if (String(a.shadowBlocked) !== String(b.shadowBlocked)) return false;
  if (a.ok && b.ok && a.output !== b.output) return false;
  if (!a.ok && !b.ok && String(a.blocked) !== String(b.blocked)) return false;
  return a.states.every((s, i) => sameState(s, b.states[i]));
}

/** Runs one scenario on both stores; throws at the first step where they or the oracle disagree. */
async function runDifferential(s: Scenario, org: string): Promise<void> {
  const clock = new ManualClock(s.startMs);
  const memory = new MemoryCounterStore(clock, s.timezone);
  const redis = await fuzzRedisStore(clock, s.timezone);
  const items = itemsOf(org, s.limits);
  const oracle = new Oracle(s.limits, s.timezone);
  const open: Reserved[] = [];
  const settled: Reserved[] = [];
  let step = 0;
  let current: Op | undefined;
  const fail = (msg: string, m?: unknown, r?: unknown): never => {
    throw new Error(
      `step ${step} ${JSON.stringify(current)} at ${new Date(clock.now()).toISOString()} (${s.timezone}): ${msg}` +
        (m === undefined ? '' : `\n  memory: ${JSON.stringify(m)}\n  redis:  ${JSON.stringify(r)}`),
    );
  };

  const settleBoth = async (r: Reserved, usage: SettleUsage): Promise<void> => {
    await memory.settle(r.id, usage);
    await redis.settle(r.id, usage);
  };

  try {
    for (step = 0; step < s.ops.length; step++) {
      const op = s.ops[step];
      current = op;
      const now = clock.now();
      if (op.kind === 'reserve') {
        let limits = s.limits.map((_, i) => i).filter((i) => op.kind === 'reserve' && op.mask & (1 << i));
        if (limits.length === 0) limits = [op.mask % s.limits.length];
        const factors = factorsOf(op.factors);
        const req: ReserveRequest = { id: `r${step}`, items: limits.map((i) => items[i]), input: op.input, output: op.output, clamp: op.clamp, minOutput: op.minOutput, ...(factors ? { factors } : {}) };
        const m = await memory.reserve({ ...req });
        const r = await redis.reserve({ ...req });
        if (!sameOutcome(m, r)) fail('reserve outcomes differ', m, r);
        if (m.ok) {
          const amounts = limits.map((i) => amountOf(items[i], op.input, m.output, 1, factors));
          limits.forEach((limit, k) => {
            const why = oracle.overshoot(limit, now, amounts[k]);
            if (why) fail(`admitted past the limit ${limit} ${JSON.stringify(s.limits[limit])}: ${why}`);
          });
          oracle.admitted(req.id, now, limits, amounts);
          open.push({ id: req.id, limits, input: op.input, output: m.output, factors });
        } else {
          // A refusal must be deserved: by the oracle's usage, a blocked limit has no room for the output asked
          // for, nor (when clamping) for the least output worth forwarding.
          for (const b of m.blocked) {
            const limit = limits[b];
            const used = oracle.expectedUsed(limit, now);
            if (used === undefined) continue;
            const allows = outputRoom(items[limit], s.limits[limit].max - used, op.input, factors);
            if (allows >= op.output || (op.clamp && allows >= op.minOutput && allows >= 0))
              fail(`refused on limit ${limit} ${JSON.stringify(s.limits[limit])}, which holds ${used} and has room for ${allows} output tokens`, m);
          }
        }
        m.states.forEach((state, k) => {
          const why = oracle.checkState(limits[k], now, state);
          if (why) fail(`reserve state of limit ${limits[k]} ${JSON.stringify(s.limits[limits[k]])}: ${why}`, m, r);
        });
      } else if (op.kind === 'settle') {
        if (open.length > 0) {
          const [res] = open.splice(op.pick % open.length, 1);
          const usage = usageFor(op, res);
          await settleBoth(res, usage);
          oracle.settled(res.id, res.limits.map((i) => amountOf(items[i], usage.input, usage.output, usage.request, usage.factors)));
          settled.push(res);
        }
      } else if (op.kind === 'retry') {
        // A settlement sent again (or twice at once) never counts twice: the first one stands.
        if (op.concurrent && open.length > 0) {
          const [res] = open.splice(op.pick % open.length, 1);
          const first: SettleUsage = { input: res.input, output: Math.floor(res.output / 2), request: 1 };
          const second: SettleUsage = { input: res.input * 3 + 7, output: res.output * 2 + 5, request: 1 };
          await Promise.all([memory.settle(res.id, first), memory.settle(res.id, second)]);
          await Promise.all([redis.settle(res.id, first), redis.settle(res.id, second)]);
          oracle.settled(res.id, res.limits.map((i) => amountOf(items[i], first.input, first.output, first.request)));
          settled.push(res);
        } else if (settled.length > 0) {
          const res = settled[op.pick % settled.length];
          await settleBoth(res, { input: res.input * 2 + 11, output: res.output + 13, request: 1 });
        }
      } else {
        clock.set(timeAfter(op, s.limits, now, s.timezone));
      }

      // After every step: the same figures everywhere, and the ones the oracle expects.
      const t = clock.now();
      const [pm, pr] = [await memory.peek(items), await redis.peek(items)];
      pm.forEach((state, i) => {
        if (!sameState(state, pr[i])) fail(`peek of limit ${i} ${JSON.stringify(s.limits[i])} differs`, state, pr[i]);
        const why = oracle.checkState(i, t, state);
        if (why) fail(`peek of limit ${i} ${JSON.stringify(s.limits[i])}: ${why}`, state, pr[i]);
      });
      const [om, or] = [await memory.openReservations(), await redis.openReservations()];
      if (om !== or || om !== open.length) fail(`open reservations: expected ${open.length}`, om, or);
    }
  } finally {
    await redis.close();
  }
}

/**
 * How many output tokens fit in `room` beside the input and the request (SPEC §2: a clamp grants whole
 * tokens); the room is widened by a hair so that float noise in the oracle's sums never flags a refusal.
 */
function outputRoom(item: CounterItem, room: number, input: number, factors: PriceFactors | undefined): number {
  const left = room + 1e-6 * Math.max(1, Math.abs(room)) - amountOf(item, input, 0, 1, factors);
  const perToken = item.priced && factors ? item.weights.output * factors.output : item.weights.output;
  if (perToken > 0) return Math.floor(left / perToken + 1e-9);
  return left >= 0 ? Infinity : -1;
}

function usageFor(op: Extract<Op, { kind: 'settle' }>, r: Reserved): SettleUsage {
  const factors = factorsOf(op.factors);
  const billed = factors ? { factors } : {};
  switch (op.usage) {
    case 'below':
      return { input: Math.floor(r.input * op.ratio), output: Math.floor(r.output * op.ratio), request: 1, ...billed };
    case 'equal':
      return { input: r.input, output: r.output, request: 1, ...(r.factors ? { factors: r.factors } : {}) };
    case 'above':
      return { input: r.input + (op.extra % 3), output: r.output + op.extra, request: 1, ...billed };
    case 'refund':
      return { input: 0, output: 0, request: 0 };
    case 'failed_output':
      // The client went away before any output: the input is still billed.
      return { input: r.input, output: 0, request: 1, ...billed };
  }
}

let runSeq = 0;
const property = (opts: ScenarioOptions) =>
  fc.asyncProperty(scenarioArbitrary(opts), async (scenario) => {
    await runDifferential(scenario, `${ORG_PREFIX}-${runSeq++}`);
  });

describe('counter stores under random sequences (fast-check, seeded)', () => {
  it(
    'memory and Redis agree step by step, with each other and with the oracle of every limit',
    async () => {
      await fc.assert(property({ above: true, minOps: 10, maxOps: 60, maxTokens: 100 }), { seed: SEED, numRuns: RUNS });
    },
    Math.max(60_000, RUNS * 2000),
  );

  it(
    'token buckets that drain within the scenario: refunds never hand out room twice',
    async () => {
      const windows = WINDOWS.filter((w) => w.kind === 'duration' && w.ms <= 60_000);
      // Refunds (failed calls) most of all: a refund after an older one was refunded gave back others' usage.
      const usages = ['refund', 'refund', 'refund', 'below', 'failed_output'] as const;
      await fc.assert(property({ above: false, minOps: 10, maxOps: 40, maxTokens: 100, algorithms: ['token_bucket'], windows, maxLimits: 2, usages: [...usages] }), { seed: SEED, numRuns: 4 * RUNS });
    },
    Math.max(60_000, RUNS * 2000),
  );
});
