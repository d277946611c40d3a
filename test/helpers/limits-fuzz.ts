// Random scenarios for the counter-store fuzz tests (test/limits-fuzz-*.test.ts): limits of every
// algorithm and window, in time zones with DST days, and sequences of reserve / settle / refund / retried
// settle / time jumps; and an oracle that knows, independently of the stores, what each limit must count
// and what the hard-limit promise (SPEC §2) allows.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import type { Algorithm, WindowSpec } from '../../src/config/policy.js';
import type { CounterItem, LimitState, PriceFactors } from '../../src/limits/counter-store.js';
import { createRedisClient, waitReady } from '../../src/limits/redis/redis-client.js';
import { RedisCounterStore } from '../../src/limits/redis/redis-store.js';
import type { ManualClock } from '../../src/util/clock.js';

/** What one request adds to an item: worked out here rather than by admission.ts, which is under test. */
export function amountOf(item: CounterItem, input: number, output: number, request: number, factors?: PriceFactors): number {
  const w = item.weights;
  if (item.priced && factors) return w.input * input * factors.input + w.output * output * factors.output + w.request * request;
  return w.input * input + w.output * output + w.request * request;
}

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Sub-slots per sliding window, as documented (README: "its sliding window's slot (1/20 of the window)"). */
const SLOTS = 20;

/** UTC, zones with DST both ways (north and south), a midnight DST gap (Santiago), a half-hour offset. */
export const TIMEZONES = ['UTC', 'America/New_York', 'Europe/Berlin', 'Australia/Sydney', 'America/Santiago', 'Asia/Kolkata'] as const;

/** DST transitions of 2026 in the zones above, and two month ends: scenarios start up to 30 h before one. */
export const ANCHORS = [
  Date.UTC(2026, 2, 8, 7), // New York springs forward
  Date.UTC(2026, 10, 1, 6), // New York falls back (a 25-hour day)
  Date.UTC(2026, 2, 29, 1), // Berlin springs forward
  Date.UTC(2026, 9, 25, 1), // Berlin falls back
  Date.UTC(2026, 3, 4, 16), // Sydney falls back
  Date.UTC(2026, 9, 3, 16), // Sydney springs forward
  Date.UTC(2026, 3, 5, 3), // Santiago falls back at midnight
  Date.UTC(2026, 8, 6, 4), // Santiago springs forward: local midnight does not exist
  Date.UTC(2026, 1, 28, 23), // end of February
  Date.UTC(2026, 11, 31, 23), // end of the year
];

export const WINDOWS: WindowSpec[] = [
  { kind: 'duration', ms: 10 * SECOND },
  { kind: 'duration', ms: MINUTE },
  { kind: 'duration', ms: HOUR },
  { kind: 'duration', ms: DAY },
  { kind: 'duration', ms: 2 * DAY },
  { kind: 'duration', ms: 7 * DAY },
  { kind: 'calendar', unit: 'day' },
  { kind: 'calendar', unit: 'month' },
];

export type Measure = 'total' | 'input' | 'output' | 'requests' | 'money';

export interface LimitShape {
  algorithm: Algorithm;
  window: WindowSpec;
  max: number;
  measure: Measure;
  shadow: boolean;
}

/** Prices a call may be reserved or billed at (priority tier, cache reads), besides the configured one. */
const FACTORS: Array<PriceFactors | undefined> = [undefined, undefined, { input: 1.7, output: 1.7 }, { input: 0.55, output: 1.7 }, { input: 1, output: 1 }];

export type Op =
  | { kind: 'reserve'; mask: number; input: number; output: number; clamp: boolean; minOutput: number; factors: number; repeat?: number }
  | { kind: 'settle'; pick: number; usage: 'below' | 'equal' | 'above' | 'refund' | 'failed_output'; ratio: number; extra: number; factors: number }
  | { kind: 'retry'; pick: number; concurrent: boolean }
  | { kind: 'advance'; how: 'zero' | 'small' | 'slot' | 'edge' | 'big'; pick: number; ms: number; nudge: -1 | 0 | 1 };

export interface Scenario {
  timezone: string;
  startMs: number;
  limits: LimitShape[];
  ops: Op[];
}

export interface ScenarioOptions {
  /** Settlements above the reservation (the provider used more than it was allowed). */
  above: boolean;
  minOps: number;
  maxOps: number;
  /** Largest request, in tokens of input and of output. */
  maxTokens: number;
  /** Only these algorithms and windows (default: all). */
  algorithms?: Algorithm[];
  windows?: WindowSpec[];
  maxLimits?: number;
  /** Limits this many times larger (default 1: a few requests' worth, so they bind often). */
  roomFactor?: number;
  /** Longest small time step, ms (default 5000). */
  smallStepMs?: number;
  /** Requests that fill their limits to the brim (clamped), besides ordinary ones (default true). */
  fills?: boolean;
  /** Every request counts against every limit, as all requests of one key do (default: random subsets). */
  allLimits?: boolean;
  /** Ordinary requests come in bursts of up to this many at one instant (default 1). */
  burst?: number;
  /** Kinds of settlement (default: all that `above` allows, each as often). */
  usages?: Array<Extract<Op, { kind: 'settle' }>['usage']>;
  /** Kinds of time step (default: all, small ones twice as often). */
  advances?: Array<Extract<Op, { kind: 'advance' }>['how']>;
}

const limitShape = ({ maxTokens, algorithms, windows, roomFactor = 1 }: ScenarioOptions): fc.Arbitrary<LimitShape> =>
  fc
    .record({
      algorithm: fc.constantFrom<Algorithm>(...(algorithms ?? ['fixed_window', 'sliding_window', 'token_bucket'])),
      window: fc.constantFrom(...(windows ?? WINDOWS)),
      measure: fc.constantFrom<Measure>('total', 'total', 'input', 'output', 'requests', 'money'),
      scale: fc.integer({ min: 0, max: 12 }),
      shadowPick: fc.integer({ min: 0, max: 9 }), // one limit in ten is in shadow mode
    })
    .map(({ algorithm, window, measure, scale, shadowPick }) => {
      // Small enough to bind within a scenario: a few requests' worth (0 blocks everything, and is allowed).
      const unit = measure === 'requests' ? 1 : measure === 'money' ? 12.5 * maxTokens : maxTokens;
      const max = scale === 0 ? 0 : Math.round(unit * scale * 0.75 * roomFactor);
      return { algorithm, window, max, measure, shadow: shadowPick === 0 };
    });

const op = (opts: ScenarioOptions): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        mask: opts.allLimits ? fc.constant(31) : fc.integer({ min: 1, max: 31 }),
        input: fc.integer({ min: 0, max: opts.maxTokens }),
        output: fc.integer({ min: 0, max: opts.maxTokens }),
        clamp: fc.boolean(),
        minOutput: fc.integer({ min: 0, max: 20 }),
        factors: fc.integer({ min: 0, max: FACTORS.length - 1 }),
        repeat: fc.integer({ min: 1, max: opts.burst ?? 1 }),
      }),
    },
    {
      // Fills every limit it touches to the brim: a large output allowance, clamped to the room left.
      weight: opts.fills === false ? 0 : 2,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        mask: fc.integer({ min: 1, max: 31 }),
        input: fc.integer({ min: 0, max: 10 }),
        output: fc.constant(100 * opts.maxTokens),
        clamp: fc.constant(true),
        minOutput: fc.integer({ min: 1, max: 5 }),
        factors: fc.integer({ min: 0, max: FACTORS.length - 1 }),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('settle' as const),
        pick: fc.nat(),
        usage: fc.constantFrom(...(opts.usages ?? (opts.above ? (['below', 'equal', 'above', 'refund', 'failed_output'] as const) : (['below', 'equal', 'refund', 'failed_output'] as const)))),
        ratio: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        extra: fc.integer({ min: 1, max: opts.maxTokens }),
        factors: fc.integer({ min: 0, max: FACTORS.length - 1 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat(), concurrent: fc.boolean() }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        how: fc.constantFrom(...(opts.advances ?? (['zero', 'small', 'small', 'slot', 'edge', 'big'] as const))),
        pick: fc.nat(),
        ms: fc.integer({ min: 1, max: opts.smallStepMs ?? 5000 }),
        nudge: fc.constantFrom(-1 as const, 0 as const, 1 as const),
      }),
    },
  );

export function scenarioArbitrary(opts: ScenarioOptions): fc.Arbitrary<Scenario> {
  return fc.record({
    timezone: fc.constantFrom(...TIMEZONES),
    startMs: fc.tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: 0, max: 30 * 60 })).map(([anchor, minutes]) => anchor - minutes * MINUTE),
    limits: fc.array(limitShape(opts), { minLength: 1, maxLength: opts.maxLimits ?? 5 }),
    ops: fc.array(op(opts), { minLength: opts.minOps, maxLength: opts.maxOps }),
  });
}

export function factorsOf(index: number): PriceFactors | undefined {
  return FACTORS[index];
}

/** The counter items of a scenario, all under one organization's hash tag. */
export function itemsOf(org: string, limits: LimitShape[]): CounterItem[] {
  return limits.map((l, i) => {
    const weights =
      l.measure === 'requests'
        ? { input: 0, output: 0, request: 1 }
        : l.measure === 'money'
          ? { input: 2.5, output: 10, request: 0 } // µUSD per token at $2.50 / $10 per million
          : { input: l.measure === 'output' ? 0 : 1, output: l.measure === 'input' ? 0 : 1, request: 0 };
    const item: CounterItem = { key: `tg:{${org}}:fuzz:${i}`, algorithm: l.algorithm, window: l.window, max: l.max, weights, mode: l.shadow ? 'shadow' : 'enforce' };
    if (l.measure === 'money') item.priced = true;
    return item;
  });
}

export function windowLength(window: WindowSpec): number {
  return window.kind === 'duration' ? window.ms : window.unit === 'day' ? DAY : 30 * DAY;
}

// ---- Independent window arithmetic: which fixed window an instant is in, from the local date alone. ----

const dateFormats = new Map<string, Intl.DateTimeFormat>();
function localDate(ms: number, timezone: string): { y: number; m: number; d: number } {
  let f = dateFormats.get(timezone);
  if (!f) dateFormats.set(timezone, (f = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  const [y, m, d] = f.format(ms).split('-').map(Number);
  return { y, m, d };
}

/**
 * A name for the fixed window containing `ms`, per docs/configuration.md: calendar days and months in
 * the zone; windows shorter than a day on multiples of their length since the epoch; whole-day windows
 * at local midnight on days counted from the epoch. Two instants share a window iff they share the name.
 */
export function fixedWindowId(window: WindowSpec, ms: number, timezone: string): string {
  if (window.kind === 'duration' && window.ms % DAY !== 0) return `t${Math.floor(ms / window.ms)}`;
  const { y, m, d } = localDate(ms, timezone);
  if (window.kind === 'calendar') return window.unit === 'day' ? `${y}-${m}-${d}` : `${y}-${m}`;
  return `n${Math.floor(Math.floor(Date.UTC(y, m - 1, d) / DAY) / (window.ms / DAY))}`;
}

/** Where the next fixed-window edge after `ms` is, found by bisection on fixedWindowId (for time jumps). */
export function nextFixedEdge(window: WindowSpec, ms: number, timezone: string): number {
  const here = fixedWindowId(window, ms, timezone);
  let lo = ms;
  let step = MINUTE;
  let hi = ms + step;
  while (fixedWindowId(window, hi, timezone) === here) {
    lo = hi;
    step *= 2;
    hi = ms + step;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fixedWindowId(window, mid, timezone) === here) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The time a time step moves the clock to from `now`. */
export function timeAfter(op: Extract<Op, { kind: 'advance' }>, limits: LimitShape[], now: number, timezone: string): number {
  const target = limits[op.pick % limits.length];
  let to = now;
  if (op.how === 'small') to = now + op.ms;
  else if (op.how === 'big') to = now + op.ms * MINUTE;
  else if (op.how === 'slot') to = now + windowLength(target.window) / SLOTS + op.nudge;
  else if (op.how === 'edge') to = nextFixedEdge(target.window, now, timezone) + op.nudge;
  return Math.max(now, to);
}

// ---- The oracle ----

/** One admitted request: what it counts against each of its limits now (reserved, then settled). */
interface Charge {
  id: string;
  atMs: number;
  /** Scenario limit indexes. */
  limits: number[];
  amounts: number[];
  /** What was reserved: a settlement above it is usage the gateway never admitted (the call overshot). */
  reserved: number[];
  open: boolean;
}

const EPS = 1e-6;
const close = (a: number, b: number): boolean => Math.abs(a - b) <= EPS * Math.max(1, Math.abs(a), Math.abs(b));

/** What the stores must agree with, computed from the admitted requests alone. */
export class Oracle {
  readonly charges: Charge[] = [];

  /**
   * `excessBlocks`: usage a call made above its reservation counts against later admissions (a plain store
   * has it in its figures at once). Off for a leased store: a slice reserved earlier is room already taken
   * out of the shared store, and admits up to its size whatever other calls used beyond theirs, as an
   * exact reservation made earlier stands; what was admitted still fits every limit.
   */
  constructor(
    private readonly limits: LimitShape[],
    private readonly timezone: string,
    private readonly excessBlocks = true,
  ) {}

  admitted(id: string, atMs: number, limits: number[], amounts: number[]): void {
    this.charges.push({ id, atMs, limits, amounts: [...amounts], reserved: [...amounts], open: true });
  }

  settled(id: string, amounts: number[]): void {
    const c = this.charges.find((x) => x.id === id && x.open);
    if (!c) return;
    c.open = false;
    c.amounts = [...amounts];
  }

  private forLimit(limit: number): Array<{ atMs: number; amount: number; reserved: number; over: boolean }> {
    const out: Array<{ atMs: number; amount: number; reserved: number; over: boolean }> = [];
    for (const c of this.charges) {
      const k = c.limits.indexOf(limit);
      if (k >= 0) out.push({ atMs: c.atMs, amount: c.amounts[k], reserved: c.reserved[k], over: c.amounts[k] > c.reserved[k] * (1 + EPS) + EPS });
    }
    return out;
  }

  /**
   * What a fixed or sliding limit must count at `now`: a fixed window everything charged in its window,
   * a sliding window everything charged in the slots it counts (the current one and the 20 before).
   * Undefined for buckets, whose level depends on drain order (checked by `bucketRoom` instead).
   */
  expectedUsed(limit: number, now: number): number | undefined {
    const l = this.limits[limit];
    if (l.algorithm === 'token_bucket') return undefined;
    let sum = 0;
    if (l.algorithm === 'fixed_window') {
      const id = fixedWindowId(l.window, now, this.timezone);
      for (const c of this.forLimit(limit)) if (fixedWindowId(l.window, c.atMs, this.timezone) === id) sum += c.amount;
    } else {
      const slot = windowLength(l.window) / SLOTS;
      const cur = Math.floor(now / slot);
      for (const c of this.forLimit(limit)) if (cur - Math.floor(c.atMs / slot) <= SLOTS) sum += c.amount;
    }
    return sum;
  }

  /**
   * The hard-limit promise for a request about to be admitted with `amount` on `limit` at `now`: null if
   * it holds, else why not. Fixed window: everything charged in the window, this included, fits `max`.
   * Sliding window: everything charged in the last window length [now - L, now] fits. Token bucket
   * (refilling at max / L, holding at most max): what is charged in any span [a, now] fits
   * max + (now - a) * max / L, for spans without a call that used more than it reserved (a bucket
   * counts that excess as of the reservation, and drains it from then: the promise is about what was
   * admitted, and the excess never was).
   */
  overshoot(limit: number, now: number, amount: number): string | null {
    const l = this.limits[limit];
    if (l.shadow || amount <= 0) return null;
    const charges = this.forLimit(limit);
    const L = windowLength(l.window);
    const admittedOnly = (c: { amount: number; reserved: number }) => (this.excessBlocks ? c.amount : Math.min(c.amount, c.reserved));
    if (l.algorithm === 'fixed_window') {
      const id = fixedWindowId(l.window, now, this.timezone);
      let used = 0;
      for (const c of charges) if (fixedWindowId(l.window, c.atMs, this.timezone) === id) used += admittedOnly(c);
      return used + amount <= l.max + EPS * Math.max(1, l.max) ? null : `fixed window holds ${used}, + ${amount} > max ${l.max}`;
    }
    if (l.algorithm === 'sliding_window') {
      let inSpan = 0;
      for (const c of charges) if (c.atMs >= now - L) inSpan += admittedOnly(c);
      return inSpan + amount <= l.max + EPS * Math.max(1, l.max) ? null : `sliding window: ${inSpan} charged since ${now - L}, + ${amount} > max ${l.max}`;
    }
    const starts = [...new Set(charges.map((c) => c.atMs).filter((t) => t <= now)), now];
    for (const a of starts) {
      let inSpan = amount;
      let over = false;
      for (const c of charges) {
        if (c.atMs < a || c.atMs > now) continue;
        inSpan += c.amount;
        over ||= c.over;
      }
      if (over) continue;
      const allowed = l.max + ((now - a) * l.max) / L;
      if (inSpan > allowed + EPS * Math.max(1, allowed)) return `token bucket: ${inSpan} charged in [${a}, ${now}] > ${allowed} (max ${l.max} + refill)`;
    }
    return null;
  }

  /** Checks a store's state of `limit` at `now` against what the oracle knows. Null if fine. */
  checkState(limit: number, now: number, state: LimitState): string | null {
    const l = this.limits[limit];
    const expected = this.expectedUsed(limit, now);
    if (expected !== undefined && !close(state.used, expected)) return `used ${state.used}, expected ${expected}`;
    if (l.algorithm === 'fixed_window') {
      const id = fixedWindowId(l.window, now, this.timezone);
      if (!(state.resetAtMs > now) || fixedWindowId(l.window, state.resetAtMs - 1, this.timezone) !== id || fixedWindowId(l.window, state.resetAtMs, this.timezone) === id)
        return `resetAtMs ${new Date(state.resetAtMs).toISOString()} is not the end of the window containing ${new Date(now).toISOString()}`;
    }
    return null;
  }
}

export { close as nearlyEqual };

/** A reservation a fuzz test made: the scenario's limits it covers, and what it asked for. */
export interface Reserved {
  id: string;
  limits: number[];
  input: number;
  output: number;
  factors: PriceFactors | undefined;
}

/** The fuzz tests' Redis: database 9 of the machine's, each file under organizations of its own prefix. */
export const FUZZ_REDIS_URL = 'redis://127.0.0.1:6379/9';

/** Deletes the file's keys once its tests are done (every counter key expires on its own; this tidies up at once). */
export function tidyRedisAfterAll(orgPrefix: string): void {
  afterAll(async () => {
    const raw = new Redis(FUZZ_REDIS_URL);
    const keys = await raw.keys(`tg:{${orgPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    await raw.quit();
  });
}

/** A Redis store whose TIME is the manual clock (as in the contract tests), so time can jump. */
export async function fuzzRedisStore(clock: ManualClock, timezone: string): Promise<RedisCounterStore> {
  const client = createRedisClient(FUZZ_REDIS_URL, 2000);
  if (!(await waitReady(client, 5000))) throw new Error(`no Redis at ${FUZZ_REDIS_URL}`);
  return new RedisCounterStore(client, { timezone, clock, reservationTtlMs: 60_000, timeOverride: clock });
}
