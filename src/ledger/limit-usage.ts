// What the ledger says each limit's counter should hold now: the basis of the counter rebuild and
// of the counter-vs-ledger audit. Each distinct (key, route, model) seen recently is resolved to the
// limits that apply to it under the current config, and the rows in each limit's current window are
// summed with that limit's weights; money limits count what the rows were billed (billed below).
import type { LimitSpec, Policy } from '../config/policy.js';
import { principalOf } from '../auth/key-store.js';
import type { Target } from '../routing/route-table.js';
import { ApplicableLimits, type AppliedLimit } from '../limits/applicable-limits.js';
import type { CounterItem } from '../limits/counter-store.js';
import { SLIDING_SLOTS, WindowCalculator, windowLengthMs } from '../limits/windows.js';
import type { Dimension, Ledger, UsageEvent, UsageGroup } from './ledger.js';

/** One limit's counter as the ledger sees it. */
export interface LimitUsage {
  limit: AppliedLimit;
  /** Whose counter it is (limit ids repeat across organizations: each has its own project counters). */
  organization: string;
  /** In the limit's unit: tokens, requests, or µUSD for money limits. */
  used: number;
  /** The earliest row time counted. */
  sinceMs: number;
  /** Sliding windows: `used` per slot, by the slot's start (ms), oldest first. */
  slots?: Array<{ atMs: number; used: number }>;
}

export interface LedgerUsage {
  limits: LimitUsage[];
  /** Calls whose key, route or model is no longer configured (their usage cannot be attributed to limits). */
  skippedCalls: number;
  skippedKeys: string[];
  /** The (key, route model) pairs with calls in the ledger whose limits were summed. */
  callers: Array<{ keyId: string; model: string }>;
}

const COMBO: Dimension[] = ['key', 'route', 'model_id', 'endpoint'];

/** The target a ledger row addressed, if its route and model still exist. */
export function targetOf(policy: Policy, route: string, modelId: string, endpoint: string): Target | undefined {
  const r = policy.routes.get(route);
  const kind = endpoint === 'embeddings' ? 'embedding' : 'chat';
  const model = r?.models.find((m) => m.modelId === modelId && m.kind === kind) ?? r?.models.find((m) => m.modelId === modelId);
  return r && model ? { route: r, model, qualifiedName: `${route}/${modelId}` } : undefined;
}

/**
 * The earliest row time that still counts in an item's state now: the start of a fixed window, the
 * oldest slot a sliding window still counts (as the memory store slots it), or one window length
 * back for a token bucket (whose replay then lets older usage drain).
 */
export function countedSince(item: Pick<CounterItem, 'algorithm' | 'window'>, now: number, windows: WindowCalculator): number {
  if (item.algorithm === 'fixed_window') return windows.bounds(item.window, now).startMs;
  const length = windowLengthMs(item.window);
  if (item.algorithm === 'sliding_window') {
    const slotMs = length / SLIDING_SLOTS;
    return (Math.floor(now / slotMs) - SLIDING_SLOTS) * slotMs;
  }
  return now - length;
}

/**
 * Sums the ledger into what each limit's counter should hold at `now`: every organization's, or one
 * organization's (the dashboard). Every counter lives under its organization's hash tag and only that
 * organization's calls add to it, so one organization's limits need only its own rows.
 */
export async function ledgerUsageByLimit(ledger: Ledger, policy: Policy, now: number, organization?: string): Promise<LedgerUsage> {
  const windows = new WindowCalculator(policy.server.timezone);
  const applicable = new ApplicableLimits(policy);
  const principals = new Map(policy.keys.map((k) => [k.id, principalOf(k)]));
  const startOf = startsAt(now, windows);
  const since = Math.min(now, ...allSpecs(policy).map((s) => startOf({ algorithm: s.algorithm, window: s.window })));
  const where = organization === undefined ? undefined : { organization };

  const combos = await ledger.summarize({ sinceMs: since, where, groupBy: COMBO });
  const resolved: Array<{ combo: string; organization: string; limits: AppliedLimit[] }> = [];
  const skippedKeys = new Set<string>();
  const callers = new Map<string, { keyId: string; model: string }>();
  let skippedCalls = 0;
  for (const g of combos) {
    const { key, route, model_id: modelId, endpoint } = g.keys as Record<string, string>;
    const principal = principals.get(key);
    const target = targetOf(policy, route, modelId, endpoint);
    let limits: AppliedLimit[] | undefined;
    try {
      limits = principal && target ? applicable.for(principal, target) : undefined;
    } catch {
      limits = undefined; // A money limit on a model that lost its price: nothing to weigh the rows with.
    }
    if (!limits) {
      skippedCalls += g.calls;
      skippedKeys.add(key);
      continue;
    }
    resolved.push({ combo: comboKey(g), organization: principal!.organization, limits });
    callers.set(`${key}\u0000${target!.qualifiedName}`, { keyId: key, model: target!.qualifiedName });
  }

  // One grouped query per distinct window start (a handful: today, this month, this hour, ...). Sliding
  // windows are summed by slot instead (a query per distinct slot length), so a rebuilt counter's usage
  // leaves the window when it would have.
  const sums = new Map<number, Map<string, UsageGroup>>();
  // By slot length: where the counted slots start, and each combo's rows per slot.
  const bySlot = new Map<number, { since: number; byCombo: Map<string, UsageGroup[]> }>();
  let bucketSince = Infinity;
  for (const { limits } of resolved) {
    for (const l of limits) {
      const start = startOf(l.item);
      const slotMs = slotLengthOf(l.item);
      if (l.item.algorithm === 'token_bucket') bucketSince = Math.min(bucketSince, start);
      else if (slotMs !== undefined) {
        if (!bySlot.has(slotMs)) bySlot.set(slotMs, { since: start, byCombo: new Map() });
      } else if (!sums.has(start)) sums.set(start, new Map());
    }
  }
  for (const [start, byCombo] of sums) {
    // The earliest start's sums are the combos query's own (usually the month): a ledger of millions of
    // rows is read once for it, not twice.
    const groups = start === since ? combos : await ledger.summarize({ sinceMs: start, where, groupBy: COMBO });
    for (const g of groups) byCombo.set(comboKey(g), g);
  }
  for (const [slotMs, { since, byCombo }] of bySlot) {
    for (const g of await ledger.summarize({ sinceMs: since, where, groupBy: [...COMBO, 'bucket'], bucketMs: slotMs })) {
      const list = byCombo.get(comboKey(g));
      if (list) list.push(g);
      else byCombo.set(comboKey(g), [g]);
    }
  }
  const events = bucketSince < Infinity ? groupEvents(await ledger.events(bucketSince, organization)) : new Map<string, UsageEvent[]>();

  const out = new Map<string, LimitUsage>();
  const bucketInputs = new Map<string, Array<{ events: UsageEvent[]; limit: AppliedLimit }>>();
  // Sliding windows' usage by slot start, per counter key.
  const slotSums = new Map<string, Map<number, number>>();
  for (const { combo, organization, limits } of resolved) {
    for (const limit of limits) {
      const start = startOf(limit.item);
      let entry = out.get(limit.item.key);
      if (entry === undefined) {
        entry = { limit, organization, used: 0, sinceMs: start };
        out.set(limit.item.key, entry);
      }
      if (limit.item.algorithm === 'token_bucket') {
        const list = bucketInputs.get(limit.item.key) ?? [];
        list.push({ events: events.get(combo) ?? [], limit });
        bucketInputs.set(limit.item.key, list);
        continue;
      }
      const slotMs = slotLengthOf(limit.item);
      if (slotMs === undefined) {
        const g = sums.get(start)?.get(combo);
        if (g) entry.used += weighGroup(limit.item, g);
        continue;
      }
      const slots = slotSums.get(limit.item.key) ?? new Map<number, number>();
      slotSums.set(limit.item.key, slots);
      for (const s of bySlot.get(slotMs)?.byCombo.get(combo) ?? []) {
        const amount = weighGroup(limit.item, s);
        const atMs = Number(s.keys.bucket);
        slots.set(atMs, (slots.get(atMs) ?? 0) + amount);
        entry.used += amount;
      }
    }
  }
  for (const [key, inputs] of bucketInputs) out.get(key)!.used = replayBucket(inputs, now);
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
function weighEvent(item: CounterItem, e: UsageEvent): number {
  const served = e.served ? 1 : 0;
  if (!item.priced || e.inputCostUsd === null) return weigh(item, e.inputTokens, e.outputTokens, served);
  return billed(item, e.inputCostUsd, e.outputCostUsd ?? 0) + item.weights.request * served;
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

/** A token bucket's level now: every call adds its amount at its time, and the bucket drains at max per window. */
function replayBucket(inputs: Array<{ events: UsageEvent[]; limit: AppliedLimit }>, now: number): number {
  const merged = inputs.flatMap(({ events, limit }) => events.map((e) => ({ ts: e.ts, amount: weighEvent(limit.item, e) })));
  merged.sort((a, b) => a.ts - b.ts);
  const item = inputs[0].limit.item;
  const drainPerMs = item.max / windowLengthMs(item.window);
  let level = 0;
  let at = merged[0]?.ts ?? now;
  for (const e of merged) {
    level = Math.max(0, level - (e.ts - at) * drainPerMs) + e.amount;
    at = e.ts;
  }
  return Math.max(0, level - (now - at) * drainPerMs);
}

function comboKey(g: UsageGroup): string {
  return COMBO.map((d) => g.keys[d] ?? '').join('\u0000');
}

function groupEvents(events: UsageEvent[]): Map<string, UsageEvent[]> {
  const out = new Map<string, UsageEvent[]>();
  for (const e of events) {
    const key = [e.keyId, e.route, e.modelId, e.endpoint].join('\u0000');
    const list = out.get(key);
    if (list) list.push(e);
    else out.set(key, [e]);
  }
  return out;
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
