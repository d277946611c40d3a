// `tollgate audit`: compares each counter with the ledger's sum for the same window and reports drift.
import type { Policy } from '../config/policy.js';
import type { CounterStore } from '../limits/counter-store.js';
import type { Ledger } from './ledger.js';
import { windowLengthMs } from '../limits/windows.js';
import { ledgerUsageByLimit, type LimitUsage } from './limit-usage.js';
import { configuredLimitsInTurns } from './configured-limits.js';
import type { AppliedLimit } from '../limits/applicable-limits.js';

export interface AuditLine {
  organization: string;
  /** The limit's id, e.g. `project:production:daily`. */
  limit: string;
  algorithm: string;
  unit: 'tokens' | 'requests' | 'usd';
  counter: number;
  ledger: number;
  /**
   * counter - what calls in flight hold - ledger, in the limit's unit (USD for money limits). The calls in
   * flight are this instance's, and with Redis every instance's but their budget leases and token buckets.
   */
  drift: number;
}

export interface AuditReport {
  atMs: number;
  lines: AuditLine[];
  /** Lines whose drift exceeds the tolerance. */
  drifting: number;
  /** Reservations not yet settled: their amounts are in the counters but not yet in the ledger. */
  openReservations: number;
  skippedCalls: number;
  skippedKeys: string[];
}

// Counters and the ledger add the same figures in another order, so they may differ in the last bits of a
// double (money in µUSD, a sliding window's weighted sum): relative 1e-9 is far above that, and far below a
// call. At 1e-6 a lost call hid under a large counter: 40 tokens under 50M, $0.000175 under $350.
const TOLERANCE = 1e-9;
// A token bucket drains continuously, and a call is placed in it when admitted, a moment after the
// time its row carries: one second of drain is timing, not drift.
const BUCKET_TIMING_MS = 1000;

export interface AuditOptions {
  /** Runs before each reading of the ledger: writes every finished call's row (the gateway's writer). */
  beforeLedger?: () => Promise<void>;
  /** Readings to take while any limit drifts (default 3): drift that is gone in one of them was calls in motion. */
  readings?: number;
  /** Pause between readings (default 300 ms). */
  intervalMs?: number;
}

/**
 * Counter-vs-ledger drift for every limit the ledger has usage for. A counter holds what this instance's
 * calls in flight reserved (subtracted here) and calls that finished while the ledger was read (a race no
 * ordering of two stores avoids): so a limit is reported only when it drifts, the same way, in every one
 * of a few readings, at the least drift seen. A real drift stays; calls in motion come and go.
 */
export async function auditCounters(ledger: Ledger, policy: Policy, store: CounterStore, now: () => number, opts: AuditOptions = {}): Promise<AuditReport> {
  const readings = Math.max(1, opts.readings ?? 3);
  const configured = await configuredLimitsInTurns(policy);
  let report = await readDrift(ledger, policy, store, now, opts, configured);
  for (let n = 1; n < readings && report.drifting > 0; n++) {
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 300));
    report = persistent(report, await readDrift(ledger, policy, store, now, opts, configured));
  }
  return report;
}

/** `latest`, with each line's drift kept only where `earlier` drifted the same way, at the smaller of the two. */
function persistent(earlier: AuditReport, latest: AuditReport): AuditReport {
  const before = new Map(earlier.lines.map((l) => [`${l.organization}\u0000${l.limit}`, l.drift]));
  const lines = latest.lines.map((l): AuditLine => {
    const d = before.get(`${l.organization}\u0000${l.limit}`) ?? 0;
    const drift = Math.sign(d) === Math.sign(l.drift) ? Math.sign(d) * Math.min(Math.abs(d), Math.abs(l.drift)) : 0;
    return { ...l, drift };
  });
  return { ...latest, lines, drifting: lines.filter((l) => l.drift !== 0).length };
}

/**
 * `configured`: every configured key's limits. Those the ledger has no row for in their window are read
 * too (ledger 0), and listed when their counter drifts: a counter whose every row was lost is drift.
 */
async function readDrift(
  ledger: Ledger,
  policy: Policy,
  store: CounterStore,
  now: () => number,
  opts: AuditOptions,
  configured: Array<{ organization: string; limit: AppliedLimit }>,
): Promise<AuditReport> {
  await opts.beforeLedger?.();
  const atMs = now();
  const usage = await ledgerUsageByLimit(ledger, policy, atMs);
  const inLedger = new Set(usage.limits.map((u) => u.limit.item.key));
  const unlisted = configured.filter((c) => !inLedger.has(c.limit.item.key)).map((c) => ({ ...c, used: 0 }));
  const all: Array<Pick<LimitUsage, 'limit' | 'organization' | 'used' | 'usedAtMost'>> = [...usage.limits, ...unlisted];
  const items = all.map((u) => u.limit.item);
  // One turn of the event loop for a memory store: its counters and what is in flight agree. A store that
  // keeps what reservations in flight hold apart (Redis) says so for every instance's: this one's own
  // figure is then only the rest (restoreHeld), and other instances' calls in flight are no drift either.
  const ownHeld = store.heldInStore ? (store.restoreHeld ?? store.held) : store.held;
  const [states, mine, everyone] = await Promise.all([store.peek(items), ownHeld?.call(store, items), store.heldInStore?.(items)]);
  const held = items.map((_, i) => (mine?.[i] ?? 0) + (everyone?.[i] ?? 0));
  const scale = (unit: AuditLine['unit'], v: number): number => (unit === 'usd' ? v / 1e6 : v);
  const measuredLines = all.map((u, i): AuditLine => {
    const unit = u.limit.unit;
    const counter = scale(unit, states[i].used);
    const own = counter - scale(unit, held[i]);
    // A token bucket's ledger figure is a range (LimitUsage.usedAtMost): the figure shown is the one in it
    // nearest the counter, so a counter inside the range is no drift and drift is still counter − ledger.
    const ledgerFigure = Math.min(Math.max(own, scale(unit, u.used)), scale(unit, u.usedAtMost ?? u.used));
    const measured = own - ledgerFigure;
    const item = u.limit.item;
    const timing = item.algorithm === 'token_bucket' ? scale(unit, (item.max * BUCKET_TIMING_MS) / windowLengthMs(item.window)) : 0;
    const tolerance = Math.max(timing, TOLERANCE * Math.max(1, Math.abs(ledgerFigure)));
    // A request counter also counts token-free requests (count_tokens, Responses retrievals, the Conversations
    // API), which have no ledger row: a counter above the ledger is them. Below it, it is a loss like any other.
    const drift = unit === 'requests' ? Math.min(0, measured) : measured;
    return { organization: u.organization, limit: u.limit.id, algorithm: item.algorithm, unit, counter, ledger: ledgerFigure, drift: Math.abs(drift) < tolerance ? 0 : drift };
  });
  // The limits without rows are listed only when they drift: most keys' counters are simply unused.
  const lines = measuredLines.filter((l, i) => i < usage.limits.length || l.drift !== 0);
  lines.sort((a, b) => a.organization.localeCompare(b.organization) || a.limit.localeCompare(b.limit));
  return {
    atMs,
    lines,
    drifting: lines.filter((l) => l.drift !== 0).length,
    openReservations: await store.openReservations(),
    skippedCalls: usage.skippedCalls,
    skippedKeys: usage.skippedKeys,
  };
}
