// The dashboard model behind `GET /api/tokens/dashboard?org=<id>` (the seed's shape): usage today,
// this month and projected, the organization's limits and utilization, breakdowns, alerts and tips.
// Everything comes from the ledger, in tokens and in USD.
import type { AlertRule, LimitSpec, Policy } from '../config/policy.js';
import type { Dimension, Ledger, UsageGroup } from '../ledger/ledger.js';
import type { PriceBook } from '../ledger/price-book.js';
import { slotLengthMs, WindowCalculator, windowLengthMs } from '../limits/windows.js';
import { organizationTag } from '../limits/applicable-limits.js';
import { ledgerUsageByLimit, type LimitUsage } from '../ledger/limit-usage.js';
import { roundUsdToTotal } from '../ledger/nano-usd.js';
import { formatUsdPair } from '../util/format-usd.js';
import { dailyUsage, localDays, type DayUsage } from './daily-usage.js';
import { HISTORY_WEEKS, projectMonth, type ProjectionMethod } from './projection.js';
import { recommend, type Recommendation } from './recommendations.js';
import { regroup } from './usage-sums.js';

export interface UsageFigures {
  tokens: number;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  /** Input written to the prompt cache (part of input_tokens), billed above the input price. */
  cache_write_input_tokens: number;
  cost_usd: number;
  requests: number;
}

export interface LimitFigures {
  limit: string;
  unit: 'tokens' | 'usd';
  max: number;
  used: number;
  remaining: number;
  mode: string;
  resets_at: string;
}

/** One entry of a breakdown (a project's name is null for calls without a project), or the sum of the rest. */
export type Breakdown<K extends string> = UsageFigures & { [key in K]: string | null } & { others?: number };

export interface Alert {
  level: 'warning' | 'critical';
  kind: 'threshold' | 'forecast';
  limit: string;
  utilization: number;
  message: string;
}

export interface Dashboard {
  organization: string;
  generated_at: string;
  timezone: string;
  current_usage: {
    today: UsageFigures;
    this_month: UsageFigures;
    projected_monthly: { tokens: number; cost_usd: number; method: ProjectionMethod };
  };
  limits: {
    daily: LimitFigures | null;
    monthly: LimitFigures | null;
    utilization: { daily: number | null; monthly: number | null; projected_monthly: number | null };
  };
  /**
   * The costliest `top` entries of each breakdown; when there were more, one last entry sums the rest:
   * its name is null and `others` says how many it folds, so the entries still add up to the month.
   */
  breakdown: {
    period: 'this_month';
    top: number;
    by_project: Array<Breakdown<'project'>>;
    by_model: Array<Breakdown<'model'>>;
    by_user: Array<Breakdown<'user'>>;
  };
  /** The most pressing threshold alerts (at most MAX_THRESHOLD_ALERTS), then the forecast alert. */
  alerts: Alert[];
  /** Threshold alerts left out of `alerts` by the cap (0 when none were). */
  alerts_omitted: number;
  recommendations: Recommendation[];
  /** Usage per local day over the last four weeks and today (for the burn-rate chart). */
  history: Array<{ date: string; tokens: number; cost_usd: number; requests: number }>;
}

const DAY = { kind: 'calendar', unit: 'day' } as const;
const MONTH = { kind: 'calendar', unit: 'month' } as const;
/**
 * What the month's calls are grouped by: every breakdown, and the recommendations, are sums of these groups.
 * By decision too: a tip's average answer is over served calls' output, not a failed call's cut one.
 */
const MONTH_DIMENSIONS: Dimension[] = ['project', 'user', 'route', 'model_id', 'model', 'decision'];
const DAY_MS = 86_400_000;
// Without an `alerts` ladder in the config, warn at 80% and call 100% critical.
const DEFAULT_LADDER: AlertRule[] = [
  { threshold: 0.8, action: 'warn', channels: [] },
  { threshold: 1, action: 'block', channels: [] },
];
/**
 * Threshold alerts cover every limit that applies within the organization (organization, projects,
 * users' tiers, groups, routes, rate limits), so a large organization could raise thousands: the
 * dashboard keeps the most pressing ones, critical first, then by utilization (highest first).
 */
export const MAX_THRESHOLD_ALERTS = 20;
/**
 * Breakdowns list the costliest entries only: an organization of 50,000 users would otherwise get them
 * all, in one JSON reply. `?top=` chooses how many, up to MAX_BREAKDOWN_TOP.
 */
export const DEFAULT_BREAKDOWN_TOP = 20;
export const MAX_BREAKDOWN_TOP = 1000;

/** How the forecast alert names the basis of its projection (`none` projects nothing: no forecast alert). */
const PACE_WORDS: Record<Exclude<ProjectionMethod, 'none'>, string> = {
  weekday_average: 'At the usual usage of each weekday',
  daily_average: 'At the average daily usage so far',
  today_pace: "At today's pace",
};

/** What a threshold alert needs to know about one limit. */
interface AlertSubject {
  limit: string;
  unit: 'tokens' | 'usd' | 'requests';
  max: number;
  used: number;
  mode: string;
}

/** Builds the dashboard of one organization at time `now`, its breakdowns cut to the costliest `top` entries. */
export async function buildDashboard(ledger: Ledger, policy: Policy, prices: PriceBook, organization: string, now: number, top = DEFAULT_BREAKDOWN_TOP): Promise<Dashboard> {
  const tz = policy.server.timezone;
  const windows = new WindowCalculator(tz);
  const dateFormat = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
  const localDate = (ms: number): string => dateFormat.format(ms);
  const today = windows.bounds(DAY, now);
  const month = windows.bounds(MONTH, now);
  const where = { organization };
  const sum = async (sinceMs: number, groupBy: Parameters<Ledger['summarize']>[0]['groupBy'] = []): Promise<UsageGroup[]> =>
    ledger.summarize({ sinceMs, untilMs: now + 1, where, groupBy });

  // One reply reads as one moment of the ledger, though calls keep finishing while it is read and each
  // query sees the rows written by its own time: today changes, the days before it hardly ever. So today
  // is read once, grouped finely, and its total, its projects, its history bar and its part of the month
  // and of every breakdown all come from that reading; the month adds the days before today to it. Today
  // is then never more than this month, and the breakdowns add up to the month. (Read as separate
  // queries, a busy gateway's reply could have today above this month, and breakdowns that did not add up.)
  // Independent queries are sent together: a PostgreSQL ledger runs them side by side on its pool.
  const historyStartMs = Math.min(month.startMs, today.startMs - HISTORY_WEEKS * 7 * DAY_MS);
  const [pastDays, todayGroups, earlierThisMonth, byLimit] = await Promise.all([
    dailyUsage(ledger, organization, historyStartMs, today.startMs - 1, tz),
    sum(today.startMs, MONTH_DIMENSIONS),
    month.startMs < today.startMs ? ledger.summarize({ sinceMs: month.startMs, untilMs: today.startMs, where, groupBy: MONTH_DIMENSIONS }) : [],
    // What each limit's counter holds now by the ledger (the counter rebuild's own arithmetic).
    ledgerUsageByLimit(ledger, policy, now, organization),
  ]);
  const [todayTotal] = regroup(todayGroups, []);
  const projectToday = regroup(todayGroups, ['project']);
  const monthGroups = [...earlierThisMonth, ...todayGroups];
  const [monthTotal] = regroup(monthGroups, []);
  const byProject = regroup(monthGroups, ['project']);
  const byModel = regroup(monthGroups, ['model']);
  const byUser = regroup(monthGroups, ['user']);
  const forTips = regroup(monthGroups, ['project', 'route', 'model_id', 'model', 'decision']);
  const todayFigures = figures(todayTotal);
  const monthFigures = figures(monthTotal);
  const days: DayUsage[] = [...pastDays, { ...localDays(today.startMs, today.startMs, tz)[0], tokens: todayFigures.tokens, costUsd: todayTotal?.costUsd ?? 0, requests: todayFigures.requests }];

  const remaining = today.endMs < month.endMs ? localDays(today.endMs, month.endMs - 1, tz) : [];
  const projection = projectMonth({
    now,
    history: days.slice(0, -1),
    today: days[days.length - 1],
    monthToDate: { tokens: monthFigures.tokens, costUsd: monthFigures.cost_usd },
    remainingWeekdays: remaining.map((d) => d.weekday),
  });

  // Every counter of this organization carries its hash tag.
  const orgPrefix = `${organizationTag(organization)}:`;
  // What each limit of this organization counts now, by the ledger, in its unit (USD, not µUSD). A daily or
  // monthly limit on a rolling algorithm (sliding window, token bucket) counts the last window length, not
  // the calendar day or month: its figures must be these, or a limit refusing every call reads as nearly empty.
  const usageOf = new Map<string, LimitUsage>();
  for (const u of byLimit.limits) if (u.limit.item.key.startsWith(orgPrefix)) usageOf.set(u.limit.id, u);
  const figuresOf = (owner: string, spec: LimitSpec | undefined, calendar: UsageFigures): LimitFigures | null => {
    if (!spec) return null;
    if (spec.algorithm === 'fixed_window') return limitFigures(owner, spec, calendar, windows.bounds(spec.window, now).endMs);
    const usage = usageOf.get(`${owner}:${spec.name}`);
    const counted = usage === undefined ? 0 : usage.limit.unit === 'usd' ? usage.used / 1e6 : usage.used;
    return limitFigures(owner, spec, calendar, rollingResetAt(spec, usage, now), counted);
  };

  const orgLimits = policy.organizations.get(organization)?.limits ?? [];
  const daily = figuresOf(`org:${organization}`, orgLimits.find((l) => l.name === 'daily'), todayFigures);
  const monthly = figuresOf(`org:${organization}`, orgLimits.find((l) => l.name === 'monthly'), monthFigures);
  const monthlySpec = orgLimits.find((l) => l.name === 'monthly');
  const projectedUsed = monthlySpec?.maxCostUsd !== undefined ? projection.costUsd : projection.tokens;
  const utilization = {
    daily: daily ? ratio(daily.used, daily.max) : null,
    monthly: monthly ? ratio(monthly.used, monthly.max) : null,
    projected_monthly: monthly ? ratio(projectedUsed, monthly.max) : null,
  };

  const elapsedDays = Math.max((now - month.startMs) / DAY_MS, 1 / 24);
  const monthFactor = projection.costUsd > 0 && monthFigures.cost_usd > 0 ? projection.costUsd / monthFigures.cost_usd : (month.endMs - month.startMs) / DAY_MS / elapsedDays;

  const ladder = policy.alerts.length > 0 ? policy.alerts : DEFAULT_LADDER;
  // Threshold alerts: the organization's and projects' daily and monthly limits with the figures shown
  // under `limits` (calendar day and month of the ledger), then every other limit that applies within the
  // organization (users' tiers, groups, routes, rate limits, ...) with what its counter holds by the ledger.
  const subjects = new Map<string, AlertSubject>();
  const consider = (l: AlertSubject | null): void => {
    const known = l && subjects.get(l.limit);
    if (l && (!known || ratio(l.used, l.max) > ratio(known.used, known.max))) subjects.set(l.limit, l);
  };
  consider(daily);
  consider(monthly);
  for (const p of policy.projects.values()) {
    const used = (groups: UsageGroup[]): UsageFigures => figures(groups.find((g) => g.keys.project === p.id));
    // A project's limits count the whole project, so they apply only when the project is in this organization's keys.
    if (!policy.keys.some((k) => k.organization === organization && k.project === p.id)) continue;
    consider(figuresOf(`project:${p.id}`, p.limits.find((l) => l.name === 'daily'), used(projectToday)));
    consider(figuresOf(`project:${p.id}`, p.limits.find((l) => l.name === 'monthly'), used(byProject)));
  }
  const shown = new Set(subjects.keys());
  for (const u of byLimit.limits) {
    if (!u.limit.item.key.startsWith(orgPrefix) || shown.has(u.limit.id)) continue;
    const isUsd = u.limit.unit === 'usd';
    // Money counters hold µUSD.
    consider({ limit: u.limit.id, unit: u.limit.unit, max: isUsd ? u.limit.item.max / 1e6 : u.limit.item.max, used: isUsd ? usd(u.used / 1e6) : u.used, mode: u.limit.item.mode });
  }
  const thresholdAlerts: Alert[] = [];
  for (const l of subjects.values()) thresholdAlert(thresholdAlerts, ladder, l);
  thresholdAlerts.sort((a, b) => severity(b) - severity(a) || b.utilization - a.utilization || a.limit.localeCompare(b.limit));
  const alerts = thresholdAlerts.slice(0, MAX_THRESHOLD_ALERTS);
  const alertsOmitted = thresholdAlerts.length - alerts.length;
  // With method `none` the projection is the month to date, which the threshold alerts already cover.
  if (monthly && projection.method !== 'none' && utilization.projected_monthly !== null && utilization.projected_monthly > 1) {
    alerts.push({
      level: 'warning',
      kind: 'forecast',
      limit: monthly.limit,
      utilization: utilization.projected_monthly,
      message: `${PACE_WORDS[projection.method]}, ${organization} is projected to use ${pct(utilization.projected_monthly)} of its monthly budget by the end of the month.`,
    });
  }

  return {
    organization,
    generated_at: new Date(now).toISOString(),
    timezone: tz,
    current_usage: {
      today: todayFigures,
      this_month: monthFigures,
      projected_monthly: { tokens: Math.round(projection.tokens), cost_usd: usd(projection.costUsd), method: projection.method },
    },
    limits: { daily, monthly, utilization },
    breakdown: {
      period: 'this_month',
      top,
      by_project: costliest('project', byProject, top, monthTotal),
      by_model: costliest('model', byModel, top, monthTotal),
      by_user: costliest('user', byUser, top, monthTotal),
    },
    alerts,
    alerts_omitted: alertsOmitted,
    recommendations: recommend(forTips, policy, prices, monthFactor),
    history: days.slice(-(HISTORY_WEEKS * 7 + 1)).map((d) => ({ date: localDate(d.startMs + 12 * 3_600_000), tokens: d.tokens, cost_usd: usd(d.costUsd), requests: d.requests })),
  };
}

function figures(g: UsageGroup | undefined): UsageFigures {
  return {
    tokens: (g?.inputTokens ?? 0) + (g?.outputTokens ?? 0),
    input_tokens: g?.inputTokens ?? 0,
    output_tokens: g?.outputTokens ?? 0,
    cached_input_tokens: g?.cachedInputTokens ?? 0,
    cache_write_input_tokens: g?.cacheWriteInputTokens ?? 0,
    cost_usd: usd(g?.costUsd ?? 0),
    requests: g?.served ?? 0,
  };
}

/**
 * A total-tokens (or USD) limit's figures from ledger usage; limits on input or output alone are not shown.
 * `counted`: what a rolling limit's counter holds by the ledger (its unit), instead of the calendar figures.
 */
function limitFigures(owner: string, spec: LimitSpec | undefined, used: UsageFigures, resetsAtMs: number, counted?: number): LimitFigures | null {
  if (!spec || spec.measure !== 'total') return null;
  const isUsd = spec.maxCostUsd !== undefined;
  const max = isUsd ? spec.maxCostUsd! : spec.max!;
  const value = counted !== undefined ? (isUsd ? usd(counted) : counted) : isUsd ? used.cost_usd : used.tokens;
  return {
    limit: `${owner}:${spec.name}`,
    unit: isUsd ? 'usd' : 'tokens',
    max,
    used: value,
    remaining: isUsd ? usd(Math.max(0, max - value)) : Math.max(0, max - value),
    mode: spec.mode,
    resets_at: new Date(resetsAtMs).toISOString(),
  };
}

/**
 * A rolling limit has no window end: when everything it counts now is back. A sliding window's newest
 * counted slot leaves it a window and a slot after its start (as the counter stores slot it); a token
 * bucket drains `max` per window. Now, when it counts nothing.
 */
function rollingResetAt(spec: LimitSpec, usage: LimitUsage | undefined, now: number): number {
  if (!usage || usage.used <= 0) return now;
  const length = windowLengthMs(spec.window);
  if (spec.algorithm === 'token_bucket') return now + Math.ceil((usage.used * length) / usage.limit.item.max);
  const newest = usage.slots?.filter((s) => s.used > 0).at(-1);
  return newest ? newest.atMs + length + slotLengthMs(spec.window) : now + length;
}

function thresholdAlert(alerts: Alert[], ladder: AlertRule[], l: AlertSubject): void {
  const u = ratio(l.used, l.max);
  const rung = [...ladder].sort((a, b) => b.threshold - a.threshold).find((r) => u >= r.threshold);
  // An enforced limit that is spent refuses calls whatever the ladder's top rung says: that is critical.
  const spent = u >= 1 && l.mode === 'enforce';
  if (!rung && !spent) return;
  const action = rung?.action ?? 'block';
  const level = spent || action !== 'warn' ? 'critical' : 'warning';
  const what = spent || action === 'block' ? 'has reached' : `is at ${pct(u)} of`;
  const consequence = spent && action === 'warn' ? '; enforced, so calls that need more are refused' : '';
  const shadow = l.mode === 'shadow' ? ' Shadow mode: reported, never blocks.' : '';
  // Dollars used and allowed never read the same unless they are ("$0.009998 of $0.01", not "$0.01 of $0.01").
  const [used, max] = l.unit === 'usd' ? formatUsdPair(l.used, l.max) : [`${Math.round(l.used)} ${l.unit}`, `${Math.round(l.max)} ${l.unit}`];
  alerts.push({ level, kind: 'threshold', limit: l.limit, utilization: u, message: `${l.limit} ${what} its limit (${used} of ${max}; action: ${action}${consequence}).${shadow}` });
}

function severity(a: Alert): number {
  return a.level === 'critical' ? 1 : 0;
}

function ratio(used: number, max: number): number {
  return max > 0 ? Math.round((used / max) * 1e6) / 1e6 : used > 0 ? 1 : 0;
}

// To the nano-dollar, as `tollgate usage --format json`: a model's few embedding calls cost fractions of a
// micro-dollar, and a breakdown row must not read as free.
function usd(v: number): number {
  return Math.round(v * 1e9) / 1e9;
}

/** A share as a percentage; one below 1 never reads as 100% (99.6% of a limit is not the limit). */
export function pct(u: number): string {
  const whole = Math.round(u * 100);
  return whole >= 100 && u < 1 ? `${Math.floor(u * 1000) / 10}%` : `${whole}%`;
}

function byName(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

function byCost(a: UsageFigures, b: UsageFigures): number {
  return b.cost_usd - a.cost_usd || b.tokens - a.tokens;
}

/**
 * The `top` costliest groups by `key`, then one entry summing the others when there are any. Their costs
 * are rounded to add up to the month's (`month`), as shown in this_month, not each on its own.
 */
function costliest<K extends 'project' | 'model' | 'user'>(key: K, unordered: UsageGroup[], top: number, month: UsageGroup | undefined): Array<Breakdown<K>> {
  // By name first (a missing one last): the order of ties, and which entries rounding moves by a nano-dollar,
  // must not depend on the order the groups were summed in, nor on the ledger (SQLite sorts NULL first).
  const groups = [...unordered].sort((a, b) => byName(a.keys[key] ?? null, b.keys[key] ?? null));
  const costs = roundUsdToTotal(groups.map((g) => g.costUsd), month?.costUsd ?? 0);
  const entries = groups
    .map((g, i) => ({ name: g.keys[key] ?? (key === 'project' ? null : ''), figures: { ...figures(g), cost_usd: costs[i] } }))
    .sort((a, b) => byCost(a.figures, b.figures));
  const entry = (name: string | null, f: UsageFigures, others?: number): Breakdown<K> =>
    ({ [key]: name, ...f, ...(others !== undefined ? { others } : {}) }) as Breakdown<K>;
  const shown = entries.slice(0, top).map((e) => entry(e.name, e.figures));
  const rest = entries.slice(top);
  if (rest.length === 0) return shown;
  const sum = (pick: (f: UsageFigures) => number): number => rest.reduce((s, e) => s + pick(e.figures), 0);
  const folded: UsageFigures = {
    tokens: sum((f) => f.tokens),
    input_tokens: sum((f) => f.input_tokens),
    output_tokens: sum((f) => f.output_tokens),
    cached_input_tokens: sum((f) => f.cached_input_tokens),
    cache_write_input_tokens: sum((f) => f.cache_write_input_tokens),
    cost_usd: usd(sum((f) => f.cost_usd)),
    requests: sum((f) => f.requests),
  };
  return [...shown, entry(null, folded, rest.length)];
}
