// One route's token limit (1,000 tokens an hour by default) in a config of its own, and a ledger row that
// spent part of it: for tests of rebuilding that one counter from the ledger.
import type { LedgerRow } from '../../src/ledger/ledger.js';
import type { Policy } from '../../src/config/policy.js';
import { load } from './config-texts.js';
import { sampleRow } from './sample-row.js';

type Side = 'input' | 'output';

/** The policy: route `main`, key `k1`, its `side` tokens limited to 1,000 per `windowSize` by `algorithm`. */
export const routeLimit = (side: Side, algorithm: string, windowSize = '1 hour'): Policy =>
  load(`
providers: {demo: {type: mock}}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
    token_limiting:
      ${side}: {algorithm: ${algorithm}, window_size: ${windowSize}, max_token: 1000}
keys: [{id: k1, key: tg-k1}]
`);

export const outputLimit = (algorithm: string, windowSize?: string): Policy => routeLimit('output', algorithm, windowSize);

/** A row of key k1 at `ts` that spent `tokens` of its `side` against limit `limitId` (`requestId`: the call's id, when it matters). */
export const spentTokens = (side: Side, ts: number, limitId: string, tokens: number, requestId?: string): LedgerRow =>
  sampleRow({ ...(requestId ? { requestId } : {}), ts, organization: 'default', keyId: 'k1', user: 'k1', project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: side === 'input' ? tokens : 0, outputTokens: side === 'output' ? tokens : 0, limits: [limitId], decision: 'admitted', costUsd: 0, inputCostUsd: 0 });

export const spentOutput = (ts: number, limitId: string, output: number, requestId?: string): LedgerRow => spentTokens('output', ts, limitId, output, requestId);
