// `tollgate audit`: compares each counter with the ledger's sum for the same window and reports drift.
import type { Policy } from '../config/policy.js';
import type { CounterStore } from '../limits/counter-store.js';
import type { Ledger } from './ledger.js';
import { windowLengthMs } from '../limits/windows.js';
import { ledgerUsageByLimit } from './limit-usage.js';

export interface AuditLine {
  organization: string;
  /** The limit's id, e.g. `project:production:daily`. */
  limit: string;
  algorithm: string;
  unit: 'tokens' | 'requests' | 'usd';
  counter: number;
  ledger: number;
  /** counter - ledger, in the limit's unit (USD for money limits). */
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

// Money counters are kept in µUSD and float sums differ in the last bits; token and request counts are exact.
const TOLERANCE = 1e-6;
// A token bucket drains continuously, and a call is placed in it when admitted, a moment after the
// time its row carries: one second of drain is timing, not drift.
const BUCKET_TIMING_MS = 1000;

/** Counter-vs-ledger drift for every limit the ledger has usage for. */
export async function auditCounters(ledger: Ledger, policy: Policy, store: CounterStore, now: () => number): Promise<AuditReport> {
  const atMs = now();
  const usage = await ledgerUsageByLimit(ledger, policy, atMs);
  const states = await store.peek(usage.limits.map((u) => u.limit.item));
  const scale = (unit: AuditLine['unit'], v: number): number => (unit === 'usd' ? v / 1e6 : v);
  const lines = usage.limits.map((u, i): AuditLine => {
    const unit = u.limit.unit;
    const counter = scale(unit, states[i].used);
    const ledgerFigure = scale(unit, u.used);
    const drift = counter - ledgerFigure;
    const item = u.limit.item;
    const timing = item.algorithm === 'token_bucket' ? scale(unit, (item.max * BUCKET_TIMING_MS) / windowLengthMs(item.window)) : 0;
    const tolerance = Math.max(timing, TOLERANCE * Math.max(1, Math.abs(ledgerFigure)));
    return { organization: u.organization, limit: u.limit.id, algorithm: item.algorithm, unit, counter, ledger: ledgerFigure, drift: Math.abs(drift) < tolerance ? 0 : drift };
  });
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
