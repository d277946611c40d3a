// `tollgate simulate`: the ledger's calls replayed, in time order, against a proposed configuration's
// limits (its own limits engine on memory counters and a clock set to each call's time), to say what
// that configuration would have refused, by which limit, and whom it would have hit, before it is deployed.
//
// Each call the gateway served is asked for again as it was admitted: its exact input (known now) and the
// output allowance it was granted, then settled with what it used (at most what the proposed limits would
// have let it produce, when they clamp it). A call refused at the time is not replayed: its ledger row
// records nothing of what it asked for. Counters start empty at the period's start, so a monthly limit is
// only judged right over a period starting with its month (the default).
import type { Principal } from '../auth/principal.js';
import type { Policy } from '../config/policy.js';
import type { AppliedLimit } from '../limits/applicable-limits.js';
import type { Target } from '../routing/route-table.js';
import { TollgateError } from '../errors/tollgate-error.js';
import { LedgerCombos } from '../ledger/ledger-combos.js';
import type { Ledger, LedgerRow } from '../ledger/ledger.js';
import { blockingLimit } from '../limits/blocking-limit.js';
import { LimitsEngine } from '../limits/engine.js';
import { MemoryCounterStore } from '../limits/memory-store.js';
import type { Usage } from '../providers/usage.js';
import { ManualClock } from '../util/clock.js';

/** One limit of the proposed configuration that would have refused calls. */
export interface LimitImpact {
  limit: string;
  /** Calls it would have refused (the first limit to refuse a call counts it). */
  calls: number;
  /** Their tokens, input and output, as the ledger recorded them: what would not have been used. */
  tokens: number;
  /** Their cost in USD, as recorded. */
  costUsd: number;
  firstAtMs: number;
  /** Distinct users (organization and user) it would have refused. */
  users: number;
  /** The users it would have refused most often, most first (at most TOP_USERS). */
  topUsers: Array<{ organization: string; user: string; calls: number }>;
}

export interface SimulationReport {
  sinceMs: number;
  untilMs: number;
  /** Calls replayed: served at the time (admitted, clamped, or failed after admission). */
  replayed: number;
  /** What the proposed limits would have done with them. */
  admitted: number;
  clamped: number;
  refused: number;
  /** Tokens and cost of the refused calls, as recorded. */
  refusedTokens: number;
  refusedCostUsd: number;
  byLimit: LimitImpact[];
  /** Calls refused at the time, not replayed (what they asked for is not in the ledger). */
  refusedAtTheTime: number;
  /** Calls that never reached the limits (a request the gateway could not read), not replayed. */
  notReplayed: number;
  /** Calls the proposed configuration cannot judge, by its error code (e.g. `model_unpriced`: a money limit on a model it has no price for). */
  unjudged: Record<string, number>;
}

/** How many of a limit's most refused users the report names. */
const TOP_USERS = 5;

/** Rows read from the ledger at a time. */
const PAGE_ROWS = 5000;

/** Replays the ledger's calls in [sinceMs, untilMs) against `policy`'s limits. */
export async function simulate(ledger: Ledger, policy: Policy, sinceMs: number, untilMs: number): Promise<SimulationReport> {
  const clock = new ManualClock(sinceMs);
  const engine = new LimitsEngine(policy, new MemoryCounterStore(clock, policy.server.timezone), clock);
  const combos = new LedgerCombos(policy);
  const report: SimulationReport = {
    sinceMs, untilMs, replayed: 0, admitted: 0, clamped: 0, refused: 0, refusedTokens: 0, refusedCostUsd: 0, byLimit: [], refusedAtTheTime: 0, notReplayed: 0, unjudged: {},
  };
  const impacts = new Map<string, Omit<LimitImpact, 'users' | 'topUsers'> & { byUser: Map<string, { organization: string; user: string; calls: number }> }>();
  let serial = 0;
  for await (const row of rowsInOrder(ledger, sinceMs, untilMs)) {
    if (row.decision === 'blocked') {
      report.refusedAtTheTime++;
      continue;
    }
    // Failed before admission (nothing reserved, nothing used): the limits never saw it.
    if (row.reservedInput + row.reservedOutput === 0 && row.inputTokens + row.outputTokens === 0) {
      report.notReplayed++;
      continue;
    }
    report.replayed++;
    clock.set(row.ts);
    const principal = combos.principal(row);
    const target = combos.target(row);
    const input = row.inputTokens;
    const allowance = Math.max(row.reservedOutput, 1);
    try {
      const admission = await engine.admit({ id: `sim-${serial++}`, principal, target, input: { upperBound: input, exact: () => input }, output: allowance, outputFromClient: true });
      if (admission.clamped) report.clamped++;
      else report.admitted++;
      await engine.settleCall(admission, target, usageOf(row, admission.output), undefined, row.decision === 'failed' ? 0 : 1);
    } catch (err) {
      if (!(err instanceof TollgateError)) throw err;
      const limit = blockingLimit(err, safeLimits(engine, principal, target), principal);
      if (limit === undefined) {
        report.unjudged[err.code] = (report.unjudged[err.code] ?? 0) + 1;
        continue;
      }
      report.refused++;
      const tokens = row.inputTokens + row.outputTokens;
      report.refusedTokens += tokens;
      report.refusedCostUsd += row.costUsd;
      let impact = impacts.get(limit);
      if (!impact) impacts.set(limit, (impact = { limit, calls: 0, tokens: 0, costUsd: 0, firstAtMs: row.ts, byUser: new Map() }));
      impact.calls++;
      impact.tokens += tokens;
      impact.costUsd += row.costUsd;
      const userKey = `${row.organization}\u0000${row.user}`;
      const byUser = impact.byUser.get(userKey);
      if (byUser) byUser.calls++;
      else impact.byUser.set(userKey, { organization: row.organization, user: row.user, calls: 1 });
    }
  }
  report.byLimit = [...impacts.values()]
    .map(({ byUser, ...impact }) => {
      const topUsers = [...byUser.values()].sort((a, b) => b.calls - a.calls || a.user.localeCompare(b.user)).slice(0, TOP_USERS);
      return { ...impact, users: byUser.size, topUsers };
    })
    .sort((a, b) => b.calls - a.calls || a.limit.localeCompare(b.limit));
  return report;
}

/** The ledger's rows in [sinceMs, untilMs), oldest first, a page at a time (a month may hold millions). */
async function* rowsInOrder(ledger: Ledger, sinceMs: number, untilMs: number): AsyncGenerator<LedgerRow> {
  let from = sinceMs;
  let limit = PAGE_ROWS;
  // Rows at `from` already handed out: the next page starts at their time, which more rows may share.
  let seenAtFrom = new Set<string>();
  for (;;) {
    const page = await ledger.rows({ sinceMs: from, untilMs, limit });
    const fresh = page.filter((r) => !(r.ts === from && seenAtFrom.has(r.requestId)));
    for (const r of fresh) yield r;
    if (page.length < limit) return;
    const last = page[page.length - 1].ts;
    const atLast = page.filter((r) => r.ts === last).map((r) => r.requestId);
    seenAtFrom = last === from ? new Set([...seenAtFrom, ...atLast]) : new Set(atLast);
    // A whole page at one millisecond: the next page, from the same time, must be longer to get past it.
    limit = fresh.length === 0 || last === from ? limit * 2 : PAGE_ROWS;
    from = last;
  }
}

/** What a replayed call used: as recorded, its output held to what the proposed limits admitted. */
function usageOf(row: LedgerRow, outputAdmitted: number): Usage {
  const output = Math.min(row.outputTokens, outputAdmitted);
  const usage: Usage = { input: row.inputTokens, output, cachedInput: row.cachedInputTokens, source: row.usageSource === 'provider' ? 'provider' : 'estimated' };
  if (row.cacheWriteInputTokens > 0) usage.cacheWriteInput = row.cacheWriteInputTokens;
  if (row.cacheWrite1hInputTokens > 0) usage.cacheWrite1hInput = row.cacheWrite1hInputTokens;
  if (row.audioInputTokens > 0) usage.audioInput = row.audioInputTokens;
  if (row.audioOutputTokens > 0) usage.audioOutput = Math.min(row.audioOutputTokens, output);
  if (row.serviceTier !== null) usage.serviceTier = row.serviceTier;
  if (row.inferenceGeo !== null) usage.inferenceGeo = row.inferenceGeo;
  return usage;
}

/** The limits that apply to a call, for naming the one that refused it (none when they cannot be resolved). */
function safeLimits(engine: LimitsEngine, principal: Principal, target: Target): AppliedLimit[] {
  try {
    return engine.applicable.for(principal, target);
  } catch {
    return [];
  }
}
