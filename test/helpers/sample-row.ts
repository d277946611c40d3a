// A complete ledger row for ledger tests.
import type { LedgerRow } from '../../src/ledger/ledger.js';

export const T0 = Date.UTC(2026, 10, 20, 10);

/** A complete row; every field differs from the defaults so a lost column shows. */
export function sampleRow(over: Partial<LedgerRow> = {}): LedgerRow {
  return {
    ts: T0,
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    organization: 'acme',
    project: 'web',
    user: 'alice',
    keyId: 'alice-laptop',
    groups: ['ml', 'beta'],
    route: 'main',
    modelId: 'gpt-4o',
    provider: 'openai',
    model: 'gpt-4o-2024-08-06',
    endpoint: 'chat',
    stream: true,
    streamEnd: 'complete',
    tags: { feature: 'search', 'env.name': 'staging' },
    status: 200,
    decision: 'clamped',
    blockedBy: null,
    limits: ['org:acme:daily', 'project:web:daily'],
    shadowBlocked: ['user:alice:daily'],
    fallback: null,
    inputTokens: 120,
    outputTokens: 30,
    cachedInputTokens: 64,
    cacheWriteInputTokens: 32,
    cacheWrite1hInputTokens: 8,
    reservedInput: 121,
    reservedOutput: 50,
    costUsd: 0.000_52,
    inputCostUsd: 0.000_22,
    toolFeesUsd: 0,
    serviceTier: 'priority',
    usageSource: 'provider',
    latencyMs: 12.345,
    upstreamLatencyMs: 10.5,
    providerResponseId: 'resp_68af4030592c81938ec0a5fbab4a3e9f05438e46b5f69a3b',
    inferenceGeo: null,
    audioInputTokens: 0,
    audioOutputTokens: 0,
    ...over,
  };
}
