// One route's output limit (1,000 tokens an hour) in a config of its own, and a ledger row that spent
// part of it: for tests of rebuilding that one counter from the ledger.
import type { LedgerRow } from '../../src/ledger/ledger.js';
import { load } from './config-texts.js';
import { sampleRow } from './sample-row.js';

/** The policy: route `main`, key `k1`, output limited to 1,000 tokens an hour by `algorithm`. */
export const outputLimit = (algorithm: string) =>
  load(`
providers: {demo: {type: mock}}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
    token_limiting:
      output: {algorithm: ${algorithm}, window_size: 1 hour, max_token: 1000}
keys: [{id: k1, key: tg-k1}]
`);

/** A row of key k1 at `ts` that spent `output` tokens against limit `limitId` (`requestId`: the call's id, when it matters). */
export const spentOutput = (ts: number, limitId: string, output: number, requestId?: string): LedgerRow =>
  sampleRow({ ...(requestId ? { requestId } : {}), ts, organization: 'default', keyId: 'k1', user: 'k1', project: null, groups: [], route: 'main', modelId: 'gpt-4o', provider: 'demo', model: 'gpt-4o', inputTokens: 0, outputTokens: output, limits: [limitId], decision: 'admitted', costUsd: 0, inputCostUsd: 0 });
