// Ledger sums added up in memory: the dashboard reads the month once, grouped finely, and derives its
// totals and breakdowns from that one reading, so that they agree with each other whatever calls are
// written meanwhile (separate queries each saw the rows written by their own time).
import type { UsageGroup } from '../ledger/ledger.js';

/** A group with every figure at 0. */
export function emptyUsage(keys: Record<string, string | null> = {}): UsageGroup {
  return {
    keys, calls: 0, served: 0, blocked: 0, failed: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0,
    costUsd: 0, inputCostUsd: 0, outputCostUsd: 0, legacyInputTokens: 0, legacyOutputTokens: 0, estimatedTokens: 0,
  };
}

/** Adds every figure of `from` to `into` (keys are left as they are). */
export function addUsage(into: UsageGroup, from: UsageGroup): void {
  into.calls += from.calls;
  into.served += from.served;
  into.blocked += from.blocked;
  into.failed += from.failed;
  into.inputTokens += from.inputTokens;
  into.outputTokens += from.outputTokens;
  into.cachedInputTokens += from.cachedInputTokens;
  into.cacheWriteInputTokens += from.cacheWriteInputTokens;
  into.costUsd += from.costUsd;
  into.inputCostUsd += from.inputCostUsd;
  into.outputCostUsd += from.outputCostUsd;
  into.legacyInputTokens += from.legacyInputTokens;
  into.legacyOutputTokens += from.legacyOutputTokens;
  into.estimatedTokens += from.estimatedTokens;
}

/** `groups` summed again by `dims` (a subset of the dimensions they were grouped by); [] sums them all. */
export function regroup(groups: readonly UsageGroup[], dims: readonly string[]): UsageGroup[] {
  const out = new Map<string, UsageGroup>();
  for (const g of groups) {
    const keys = Object.fromEntries(dims.map((d) => [d, g.keys[d] ?? null]));
    const id = JSON.stringify(dims.map((d) => keys[d]));
    let sum = out.get(id);
    if (!sum) {
      sum = emptyUsage(keys);
      out.set(id, sum);
    }
    addUsage(sum, g);
  }
  return [...out.values()];
}
