// Turns a finished call (what the gateway emits) into its ledger row, priced.
// A type-only import from proxy: the record's shape is the gateway's, the row's is the ledger's.
import type { CallRecord } from '../proxy/gateway.js';
import type { LedgerRow } from './ledger.js';
import type { PriceBook } from './price-book.js';

/** The ledger row for one finished call. */
export function rowFromCall(r: CallRecord, prices: PriceBook): LedgerRow {
  const { principal, target, usage } = r;
  const provider = target.model.provider;
  const model = target.model.upstreamModel;
  const used = usage.input > 0 || usage.output > 0;
  // µUSD; what cost() adds up, so costUsd is the same double it always was.
  const parts = used ? prices.costParts(provider, model, usage) : undefined;
  // Per-call tool fees (web searches...) count with the input: money limits settle them there too (price-factors.ts).
  const fees = parts && usage.toolCalls ? prices.toolFees(provider, model, usage.toolCalls) : 0;
  return {
    ts: r.atMs,
    requestId: r.requestId,
    organization: principal.organization,
    project: principal.project ?? null,
    user: principal.user,
    keyId: principal.keyId,
    groups: principal.groups,
    route: target.route.name,
    modelId: target.model.modelId,
    provider,
    model,
    endpoint: r.endpoint,
    stream: r.stream,
    streamEnd: r.streamEnd ?? null,
    tags: r.tags,
    status: r.status,
    decision: r.decision,
    blockedBy: r.blockedBy ?? null,
    limits: r.limits,
    shadowBlocked: r.shadowBlocked,
    fallback: r.fallback ?? null,
    inputTokens: usage.input,
    outputTokens: usage.output,
    cachedInputTokens: usage.cachedInput,
    cacheWriteInputTokens: usage.cacheWriteInput ?? 0,
    cacheWrite1hInputTokens: usage.cacheWrite1hInput ?? 0,
    reservedInput: r.reserved.input,
    reservedOutput: r.reserved.output,
    costUsd: parts ? (parts.input + parts.output + fees) / 1e6 : 0,
    inputCostUsd: parts ? (parts.input + fees) / 1e6 : 0,
    toolFeesUsd: fees / 1e6,
    serviceTier: usage.serviceTier ?? null,
    inferenceGeo: usage.inferenceGeo ?? null,
    audioInputTokens: usage.audioInput ?? 0,
    audioOutputTokens: usage.audioOutput ?? 0,
    usageSource: used ? usage.source : 'none',
    latencyMs: round3(r.latencyMs),
    upstreamLatencyMs: r.upstreamLatencyMs === undefined ? null : round3(r.upstreamLatencyMs),
    providerResponseId: r.providerResponseId ?? null,
  };
}

// Microsecond precision is plenty, and keeps rows short.
function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
