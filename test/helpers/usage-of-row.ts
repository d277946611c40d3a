// What a ledger row says was used, as the price book reads usage: a row's columns must price to its cost.
import type { LedgerRow } from '../../src/ledger/ledger.js';
import type { PricedUsage } from '../../src/ledger/price-book.js';

/** The usage a ledger row records, to price it again from its columns alone. */
export function usageOfRow(row: LedgerRow): PricedUsage {
  const usage: PricedUsage = {
    input: row.inputTokens,
    output: row.outputTokens,
    cachedInput: row.cachedInputTokens,
    cacheWriteInput: row.cacheWriteInputTokens,
    cacheWrite1hInput: row.cacheWrite1hInputTokens,
    audioInput: row.audioInputTokens,
    audioOutput: row.audioOutputTokens,
  };
  if (row.serviceTier !== null) usage.serviceTier = row.serviceTier;
  return usage;
}
