// Optimization tips from a month of usage: a project whose answers are short on an expensive model
// could use a smaller one; a model without a price makes cost reports and USD limits blind.
import type { Policy, RouteModel } from '../config/policy.js';
import type { UsageGroup } from '../ledger/ledger.js';
import type { PriceBook } from '../ledger/price-book.js';
import { formatUsd } from '../util/format-usd.js';
import { addUsage, emptyUsage } from './usage-sums.js';

/** Calls needed before a pattern is worth a recommendation. */
export const MIN_CALLS = 20;
/** Average output tokens per call at or below which answers count as short. */
export const SHORT_OUTPUT_TOKENS = 150;
/** The smaller model must cost at most this fraction of the current one for the same tokens. */
const MAX_PRICE_RATIO = 0.5;

export interface Recommendation {
  kind: 'smaller_model' | 'add_price';
  project: string | null;
  model: string;
  suggested_model?: string;
  message: string;
  /** Projected to a whole month. */
  estimated_monthly_savings_usd?: number;
}

// Same provider, same family, one size down; used when the route names no cheaper fallback.
const SMALLER: Record<string, string> = {
  'gpt-5.5': 'gpt-5.4-mini',
  'gpt-5.4': 'gpt-5.4-mini',
  'gpt-5.4-mini': 'gpt-5.4-nano',
  'gpt-5.2': 'gpt-5-mini',
  'gpt-5': 'gpt-5-mini',
  'gpt-5.1': 'gpt-5-mini',
  'gpt-5-mini': 'gpt-5-nano',
  'gpt-4.1': 'gpt-4.1-mini',
  'gpt-4.1-mini': 'gpt-4.1-nano',
  'gpt-4o': 'gpt-4o-mini',
  'gpt-4-turbo': 'gpt-4o-mini',
  o1: 'o4-mini',
  o3: 'o4-mini',
  'claude-opus-4-8': 'claude-sonnet-4-6',
  'claude-opus-4-7': 'claude-sonnet-4-6',
  'claude-opus-4-6': 'claude-sonnet-4-6',
  'claude-opus-4-5': 'claude-sonnet-4-5',
  'claude-opus-4-1': 'claude-sonnet-4-5',
  'claude-opus-4': 'claude-sonnet-4',
  'claude-sonnet-4-6': 'claude-haiku-4-5',
  'claude-sonnet-4-5': 'claude-haiku-4-5',
  'claude-sonnet-4': 'claude-haiku-4-5',
  'claude-3-7-sonnet': 'claude-3-5-haiku',
  'claude-3-5-sonnet': 'claude-3-5-haiku',
  'claude-3-opus': 'claude-3-5-haiku',
};

/**
 * Tips from month-to-date usage grouped by project, route, model_id, model and decision; `monthFactor`
 * scales month-to-date money to the projected month.
 */
export function recommend(groups: UsageGroup[], policy: Policy, prices: PriceBook, monthFactor: number): Recommendation[] {
  const out: Recommendation[] = [];
  const unpriced = new Set<string>();
  // A project may reach one model under several names (model ids of a route, routes): its calls are
  // weighed together, one tip per project, model and smaller model, not one per name with part of them.
  const candidates = new Map<string, { project: string | null; model: string; smaller: string; served: number; outputTokens: number; savings: number }>();
  for (const { g, servedOutputTokens } of byCallee(groups)) {
    const model = g.keys.model ?? '';
    const slash = model.indexOf('/');
    const provider = model.slice(0, slash);
    const upstream = model.slice(slash + 1);
    const project = g.keys.project ?? null;
    // Calls that used nothing (blocked, or failed before the provider produced anything) say nothing about
    // the model. Failed calls charged what the provider produced do: they cost money, priced or not.
    if (g.served === 0 && g.inputTokens + g.outputTokens === 0) continue;
    if (!prices.priceOf(provider, upstream)) {
      if (!unpriced.has(model)) out.push({ kind: 'add_price', project: null, model, message: `Calls to ${model} have no price, so they count as $0 in reports. Add it under \`pricing\`.` });
      unpriced.add(model);
      continue;
    }
    // Embedding calls have no answers to be short (their output is always 0), and another model's vectors
    // do not match an index built with this one's: no smaller model to point them to.
    if (routeModel(policy, g.keys.route ?? '', g.keys.model_id ?? '')?.kind === 'embedding') continue;
    const smaller = smallerModel(policy, g.keys.route ?? '', g.keys.model_id ?? '', provider, upstream, prices, g);
    if (!smaller) continue;
    // The calls' real cost includes what they paid beyond list price (a priority tier, cache writes); the
    // smaller model would be billed the same way, so the saving is its list-price share of the real cost.
    const usage = { input: g.inputTokens, output: g.outputTokens, cachedInput: g.cachedInputTokens };
    const ratio = prices.standardCost(smaller.provider, smaller.model, usage) / prices.standardCost(provider, upstream, usage);
    const suggested = `${smaller.provider}/${smaller.model}`;
    const key = JSON.stringify([project, model, suggested]);
    const c = candidates.get(key) ?? { project, model, smaller: suggested, served: 0, outputTokens: 0, savings: 0 };
    c.served += g.served;
    c.outputTokens += servedOutputTokens;
    c.savings += g.costUsd * (1 - ratio) * monthFactor;
    candidates.set(key, c);
  }
  for (const c of candidates.values()) {
    const avgOutput = c.outputTokens / c.served;
    if (c.served < MIN_CALLS || avgOutput > SHORT_OUTPUT_TOKENS) continue;
    out.push({
      kind: 'smaller_model',
      project: c.project,
      model: c.model,
      suggested_model: c.smaller,
      message:
        `Project ${c.project ?? '(none)'} averages ${Math.round(avgOutput)} output tokens per call on ${c.model} (${c.served} calls this month). ` +
        `Short answers like these are usually fine on ${c.smaller}, which would cost about ${formatUsd(c.savings)} less per month.`,
      estimated_monthly_savings_usd: round(c.savings, 6),
    });
  }
  return out.sort((a, b) => (b.estimated_monthly_savings_usd ?? Infinity) - (a.estimated_monthly_savings_usd ?? Infinity));
}

/**
 * The groups summed by project, route, model_id and model, with the output tokens of their served calls
 * apart. A failed call is billed what the provider produced (a stream cut part-way), so its tokens and cost
 * stay in the sums and the saving; but its output is no answer, and its call is not served: counted over
 * the served calls, its output made answers look longer than they were (and its cut answer, counted as a
 * call, would make them look shorter). Each group is of one decision, so a group with served calls is
 * all served.
 */
function byCallee(groups: UsageGroup[]): Array<{ g: UsageGroup; servedOutputTokens: number }> {
  const out = new Map<string, { g: UsageGroup; servedOutputTokens: number }>();
  for (const g of groups) {
    const keys = { project: g.keys.project ?? null, route: g.keys.route ?? null, model_id: g.keys.model_id ?? null, model: g.keys.model ?? null };
    const id = JSON.stringify(Object.values(keys));
    let sum = out.get(id);
    if (!sum) {
      sum = { g: emptyUsage(keys), servedOutputTokens: 0 };
      out.set(id, sum);
    }
    addUsage(sum.g, g);
    if (g.served > 0) sum.servedOutputTokens += g.outputTokens;
  }
  return [...out.values()];
}

/** The route's first cheaper fallback model, else the same family's smaller model, if much cheaper. */
function smallerModel(
  policy: Policy,
  route: string,
  modelId: string,
  provider: string,
  model: string,
  prices: PriceBook,
  g: UsageGroup,
): { provider: string; model: string } | undefined {
  const usage = { input: g.inputTokens, output: g.outputTokens, cachedInput: g.cachedInputTokens };
  const current = prices.standardCost(provider, model, usage);
  if (!(current > 0)) return undefined;
  const cheapEnough = (p: string, m: string): boolean => prices.priceOf(p, m) !== undefined && prices.standardCost(p, m, usage) <= current * MAX_PRICE_RATIO;
  const r = policy.routes.get(route);
  for (const id of r?.fallback ?? []) {
    // A fallback list may name the route's embedding models too: only a chat model serves chat calls.
    const m = r?.models.find((x) => x.modelId === id && x.modelId !== modelId && x.kind === 'chat');
    if (m && cheapEnough(m.provider, m.upstreamModel)) return { provider: m.provider, model: m.upstreamModel };
  }
  const family = model.toLowerCase().replace(/(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$/, '');
  const next = SMALLER[family];
  return next && cheapEnough(provider, next) ? { provider, model: next } : undefined;
}

/** The model a route serves as `modelId`, while the route is still in the config. */
function routeModel(policy: Policy, route: string, modelId: string): RouteModel | undefined {
  return policy.routes.get(route)?.models.find((m) => m.modelId === modelId);
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
