// What the ledger says each limit's counter should hold now: the basis of the counter rebuild and
// of the counter-vs-ledger audit. Each distinct combination of what rows record about a call (its
// organization, project, user, key, groups, route, model) seen recently is resolved to the limits it was
// charged to, as configured now (ledger-combos.ts), and the rows in each limit's current window are
// summed with that limit's weights; money limits count what the rows were billed (billed below).
import type { LimitSpec, Policy } from '../config/policy.js';
import type { AppliedLimit } from '../limits/applicable-limits.js';
import type { CounterItem } from '../limits/counter-store.js';
import { SLIDING_SLOTS, WindowCalculator, windowLengthMs } from '../limits/windows.js';
import { LedgerCombos, type ComboLimits, type RecordedCall } from './ledger-combos.js';
import type { Dimension, Ledger, LedgerRow, UsageEvent, UsageGroup } from './ledger.js';

/** One limit's counter as the ledger sees it. */
export interface LimitUsage {
  limit: AppliedLimit;
  /** Whose counter it is (limit ids repeat across organizations: each has its own project counters). */
  organization: string;
  /** In the limit's unit: tokens, requests, or µUSD for money limits. */
  used: number;
  /**
   * Token buckets: the most the bucket can hold (`used` is the least). The ledger shows what went in, not
   * how full the bucket was before its replay starts: see BucketReplay.
   */
  usedAtMost?: number;
  /** The earliest row time counted. */
  sinceMs: number;
  /** Sliding windows: `used` per slot, by the slot's start (ms), oldest first. */
  slots?: Array<{ atMs: number; used: number }>;
}

export interface LedgerUsage {
  limits: LimitUsage[];
  /**
   * Calls left out: a money limit they count towards has no price for their model any more. Only those that
   * had usage to count (served, or charged tokens), not blocked calls and refunded failures. A key, route or
   * model no longer configured leaves nothing out: its rows still count where they were recorded.
   */
  skippedCalls: number;
  skippedKeys: string[];
  /** The (key, route model) pairs, both still configured, with calls in the ledger whose limits were summed. */
  callers: Array<{ keyId: string; model: string }>;
}

// What a row records about whom it was charged to and what it called: one group per distinct combination,
// as many as (key, route, model) pairs but for keys moved or regrouped within the window. `model` is the
// provider and upstream model, which price a money limit's rows when their route model is gone.
const COMBO: Dimension[] = ['organization', 'project', 'user', 'key', 'groups', 'route', 'model_id', 'endpoint', 'model'];
// The first read tells apart, too, the rows that used something from those that used nothing (usage_source
// `none`: blocked calls, failed calls refunded), for the count of calls left out (callsWithUsage).
const COMBO_AND_SOURCE: Dimension[] = [...COMBO, 'usage_source'];

// Windows of rows a token bucket's replay reads: the replay that starts from a full bucket (BucketReplay)
// comes down to the exact level once the bucket had room for a whole window's refill in that time,
// which a bucket used at up to half its rate over two windows always did.
const BUCKET_REPLAY_WINDOWS = 2;

/**
 * The earliest row time that still counts in an item's state now: the start of a fixed window, the
 * oldest slot a sliding window still counts (as the memory store slots it), or two window lengths
 * back for a token bucket (whose replay then lets older usage drain).
 */
export function countedSince(item: Pick<CounterItem, 'algorithm' | 'window'>, now: number, windows: WindowCalculator): number {
  if (item.algorithm === 'fixed_window') return windows.bounds(item.window, now).startMs;
  const length = windowLengthMs(item.window);
  if (item.algorithm === 'sliding_window') {
    const slotMs = length / SLIDING_SLOTS;
    return (Math.floor(now / slotMs) - SLIDING_SLOTS) * slotMs;
  }
  return now - BUCKET_REPLAY_WINDOWS * length;
}

/**
 * Sums the ledger into what each limit's counter should hold at `now`: every organization's, or one
 * organization's (the dashboard). Every counter lives under its organization's hash tag and only that
 * organization's calls add to it, so one organization's limits need only its own rows.
 *
 * Every query's groups and events are folded into the counters as they are read, none kept: what stays
 * is one entry per counter (and slot) and one per (key, route, model, endpoint), however many rows,
 * slots or calls the ledger holds (3M rows late in a month: 1.0 GB peak RSS before, 360 MB after).
 */
export async function ledgerUsageByLimit(ledger: Ledger, policy: Policy, now: number, organization?: string): Promise<LedgerUsage> {
  const windows = new WindowCalculator(policy.server.timezone);
  const resolver = new LedgerCombos(policy);
  const startOf = startsAt(now, windows);
  const since = Math.min(now, ...allSpecs(policy).map((s) => startOf({ algorithm: s.algorithm, window: s.window })));
  const where = organization === undefined ? undefined : { organization };

  const combos = new Map<string, ComboLimits>();
  const out = new Map<string, LimitUsage>();
  // Sliding windows' usage by slot start, per counter key.
  const slotSums = new Map<string, Map<number, number>>();
  const skippedKeys = new Set<string>();
  const callers = new Map<string, { keyId: string; model: string }>();
  let skippedCalls = 0;
  // The further reads the limits found need: one grouped query per other fixed-window start (a handful:
  // today, this hour, ...); sliding windows summed by slot, a query per slot length (where the counted
  // slots start), so a rebuilt counter's usage leaves the window when it would have; the calls of token
  // buckets, replayed.
  const starts = new Set<number>();
  const slotReads = new Map<number, number>();
  let bucketSince = Infinity;

  // The longest window (usually the month) names every combination, and its sums are that window's own:
  // a ledger of millions of rows is read once for it, not twice.
  // A combination comes once per usage source: resolved once.
  const unpriced = new Set<string>();
  await ledger.eachGroup({ sinceMs: since, where, groupBy: COMBO_AND_SOURCE }, (g) => {
    const key = comboKey(g);
    let combo = combos.get(key);
    if (combo === undefined && !unpriced.has(key)) {
      const call = recordedOfGroup(g);
      combo = resolver.resolve(call);
      if (combo) {
        combos.set(key, combo);
        if (combo.configured) callers.set(`${call.keyId}\u0000${combo.model}`, { keyId: call.keyId, model: combo.model });
      } else {
        unpriced.add(key);
        skippedKeys.add(call.keyId);
      }
    }
    if (!combo) {
      skippedCalls += callsWithUsage(g);
      return;
    }
    for (const limit of combo.limits) {
      const start = startOf(limit.item);
      let entry = out.get(limit.item.key);
      if (entry === undefined) {
        entry = { limit, organization: combo.organization, used: 0, sinceMs: start };
        out.set(limit.item.key, entry);
      }
      const slotMs = slotLengthOf(limit.item);
      if (limit.item.algorithm === 'token_bucket') bucketSince = Math.min(bucketSince, start);
      else if (slotMs !== undefined) {
        if (!slotReads.has(slotMs)) slotReads.set(slotMs, start);
        if (!slotSums.has(limit.item.key)) slotSums.set(limit.item.key, new Map());
      } else if (start === since) entry.used += weighGroup(limit.item, g);
      else starts.add(start);
    }
  });

  for (const start of starts) {
    await ledger.eachGroup({ sinceMs: start, where, groupBy: COMBO }, (g) => {
      for (const limit of combos.get(comboKey(g))?.limits ?? []) {
        if (limit.item.algorithm === 'token_bucket' || slotLengthOf(limit.item) !== undefined || startOf(limit.item) !== start) continue;
        out.get(limit.item.key)!.used += weighGroup(limit.item, g);
      }
    });
  }
  for (const [slotMs, slotsSince] of slotReads) {
    await ledger.eachGroup({ sinceMs: slotsSince, where, groupBy: [...COMBO, 'bucket'], bucketMs: slotMs }, (g) => {
      const atMs = Number(g.keys.bucket);
      for (const limit of combos.get(comboKey(g))?.limits ?? []) {
        if (slotLengthOf(limit.item) !== slotMs) continue;
        const amount = weighGroup(limit.item, g);
        const slots = slotSums.get(limit.item.key)!;
        slots.set(atMs, (slots.get(atMs) ?? 0) + amount);
        out.get(limit.item.key)!.used += amount;
      }
    });
  }
  if (bucketSince < Infinity) {
    const buckets = new Map<string, BucketReplay>();
    await ledger.eachEvent(bucketSince, organization, (e) => {
      for (const limit of combos.get(eventComboKey(e))?.limits ?? []) {
        if (limit.item.algorithm !== 'token_bucket') continue;
        let bucket = buckets.get(limit.item.key);
        if (bucket === undefined) {
          bucket = new BucketReplay(limit.item, startOf(limit.item));
          buckets.set(limit.item.key, bucket);
        }
        bucket.add(e.ts, weighEvent(limit.item, e));
      }
    });
    for (const entry of out.values()) {
      if (entry.limit.item.algorithm !== 'token_bucket') continue;
      const bucket = buckets.get(entry.limit.item.key) ?? new BucketReplay(entry.limit.item, entry.sinceMs);
      entry.used = bucket.leastAt(now);
      entry.usedAtMost = bucket.mostAt(now);
    }
  }
  for (const [key, slots] of slotSums) out.get(key)!.slots = [...slots].sort((a, b) => a[0] - b[0]).map(([atMs, used]) => ({ atMs, used }));
  return { limits: [...out.values()], skippedCalls, skippedKeys: [...skippedKeys].sort(), callers: [...callers.values()] };
}

/**
 * countedSince at `now`, once per (algorithm, window): tens of thousands of (key, route, model) pairs share
 * a handful of windows, and a calendar window's bounds take several time-zone conversions to find.
 */
function startsAt(now: number, windows: WindowCalculator): (item: Pick<CounterItem, 'algorithm' | 'window'>) => number {
  // Items share their spec's window object; another object with the same window is only computed again.
  const known = new WeakMap<CounterItem['window'], Map<CounterItem['algorithm'], number>>();
  return (item) => {
    let byAlgorithm = known.get(item.window);
    if (byAlgorithm === undefined) {
      byAlgorithm = new Map();
      known.set(item.window, byAlgorithm);
    }
    let start = byAlgorithm.get(item.algorithm);
    if (start === undefined) {
      start = countedSince(item, now, windows);
      byAlgorithm.set(item.algorithm, start);
    }
    return start;
  };
}

/** A sliding window's slot length, when it is a whole number of ms (the ledger groups by whole-ms buckets). */
function slotLengthOf(item: CounterItem): number | undefined {
  if (item.algorithm !== 'sliding_window') return undefined;
  const slotMs = windowLengthMs(item.window) / SLIDING_SLOTS;
  return Number.isInteger(slotMs) ? slotMs : undefined;
}

function weigh(item: CounterItem, input: number, output: number, requests: number): number {
  const w = item.weights;
  return w.input * input + w.output * output + w.request * requests;
}

/** What a group of rows adds to an item. */
function weighGroup(item: CounterItem, g: UsageGroup): number {
  if (!item.priced) return weigh(item, g.inputTokens, g.outputTokens, g.served);
  return billed(item, g.inputCostUsd, g.outputCostUsd) + weigh(item, g.legacyInputTokens, g.legacyOutputTokens, g.served);
}

/** What one call adds to an item (token-bucket replay). */
function weighEvent(item: CounterItem, e: Pick<UsageEvent, 'served' | 'inputTokens' | 'outputTokens' | 'inputCostUsd' | 'outputCostUsd'>): number {
  const served = e.served ? 1 : 0;
  if (!item.priced || e.inputCostUsd === null) return weigh(item, e.inputTokens, e.outputTokens, served);
  return billed(item, e.inputCostUsd, e.outputCostUsd ?? 0) + item.weights.request * served;
}

/** What one ledger row adds to an item, as the rebuild weighs it. */
export function weighRow(item: CounterItem, row: Pick<LedgerRow, 'decision' | 'inputTokens' | 'outputTokens' | 'costUsd' | 'inputCostUsd'>): number {
  const { inputCostUsd } = row;
  return weighEvent(item, {
    served: row.decision === 'admitted' || row.decision === 'clamped',
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    inputCostUsd,
    outputCostUsd: inputCostUsd === null ? null : row.costUsd - inputCostUsd,
  });
}

/**
 * A money item's µUSD for what calls were billed: settlement charges it the call's real cost (cache and
 * tier prices, PriceBook.costParts), so the rebuild must too, not tokens at the configured price. Its
 * weights only say which parts it counts: a limit on input spend leaves the output cost out.
 */
function billed(item: CounterItem, inputUsd: number, outputUsd: number): number {
  const w = item.weights;
  return (w.input > 0 ? inputUsd * 1e6 : 0) + (w.output > 0 ? outputUsd * 1e6 : 0);
}

/**
 * A token bucket's level, replayed call by call in time order from `sinceMs`: every call adds its amount at
 * its time, and the bucket drains at max per window. How full the bucket was at `sinceMs` is not in the
 * ledger: it is anywhere from empty to full (admission keeps it at most `max`), so two replays run, one
 * from each. A bucket kept full by callers spending what refills stays full, while a replay from empty sees
 * as much drain as usage and stays near empty however far back it starts. A store that lost its counters is
 * rebuilt to the most (a hard limit must not hand out a full bucket's worth again); one that kept them is
 * only raised to the least (its own figure is the better one, and a gateway's restart must not refuse a
 * busy caller). The audit reports drift only outside the two. Once the replay from full meets the one from
 * empty (the bucket had room for a window's refill in that time), both are exact from there.
 */
class BucketReplay {
  private least = 0;
  private most: number;
  private atMs: number;
  private readonly drainPerMs: number;
  private readonly max: number;

  constructor(item: CounterItem, sinceMs: number) {
    this.drainPerMs = item.max / windowLengthMs(item.window);
    this.max = item.max;
    this.most = item.max;
    this.atMs = sinceMs;
  }

  add(ts: number, amount: number): void {
    if (ts < this.atMs) return; // read for another bucket's longer replay: before this one starts
    this.least = this.drained(this.least, ts) + amount;
    // Admission keeps the bucket within max; only usage beyond what a call reserved takes it past that.
    this.most = Math.max(this.least, Math.min(this.max, this.drained(this.most, ts) + amount));
    this.atMs = ts;
  }

  leastAt(now: number): number {
    return this.drained(this.least, now);
  }

  mostAt(now: number): number {
    return this.drained(this.most, now);
  }

  private drained(level: number, at: number): number {
    return Math.max(0, level - (at - this.atMs) * this.drainPerMs);
  }
}

/**
 * How many of a group's rows had usage a limit counts: its served calls (a request each), and its other
 * calls that used something (a failed call charged what the provider produced). A blocked call and a
 * failed one refunded used nothing (usage_source `none`): leaving them out leaves nothing out.
 */
function callsWithUsage(g: UsageGroup): number {
  return g.keys.usage_source === 'none' ? g.served : g.calls - g.blocked;
}

/** What a group of COMBO records. */
function recordedOfGroup(g: UsageGroup): RecordedCall {
  const k = g.keys;
  const model = k.model ?? '';
  const slash = model.indexOf('/'); // `provider/model`: provider names hold no slash, model names may
  return {
    organization: k.organization ?? '',
    project: k.project ?? null,
    user: k.user ?? '',
    keyId: k.key ?? '',
    groups: JSON.parse(k.groups ?? '[]') as string[],
    route: k.route ?? '',
    modelId: k.model_id ?? '',
    endpoint: k.endpoint ?? '',
    provider: model.slice(0, slash),
    model: model.slice(slash + 1),
  };
}

// Raw texts, none parsed: each later read has a group per combination and time slot, or a call each. A
// call's groups are the same text as its grouped sums' (both read `CAST(key_groups AS TEXT)`).
function comboKey(g: UsageGroup): string {
  return COMBO.map((d) => g.keys[d] ?? '').join('\u0000');
}

function eventComboKey(e: UsageEvent): string {
  return [e.organization, e.project ?? '', e.user, e.keyId, e.groupsJson, e.route, e.modelId, e.endpoint, `${e.provider}/${e.model}`].join('\u0000');
}

function allSpecs(policy: Policy): LimitSpec[] {
  return [
    ...[...policy.organizations.values()].flatMap((o) => o.limits),
    ...[...policy.projects.values()].flatMap((p) => p.limits),
    ...[...policy.tiers.values()].flatMap((t) => t.limits),
    ...[...policy.groups.values()].flatMap((g) => g.limits),
    ...[...policy.routes.values()].flatMap((r) => r.limits),
  ];
}
