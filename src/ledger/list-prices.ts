// Built-in list prices, USD per million tokens, keyed by the provider's model name without a date
// suffix. Checked on 2026-11-21 against the providers' public price pages (OpenAI API pricing,
// Anthropic "Model pricing" with "Cache hits & refreshes" as the cached price). Config `pricing`
// overrides any entry; update this table when the providers change their prices.

export interface ListPrice {
  input: number;
  output: number;
  /** Price of input tokens read from the provider's prompt cache. */
  cachedInput: number;
}

const p = (input: number, output: number, cachedInput: number): ListPrice => ({ input, output, cachedInput });

export const LIST_PRICES: Readonly<Record<string, ListPrice>> = {
  // OpenAI: chat and reasoning models.
  'gpt-5': p(1.25, 10, 0.125),
  'gpt-5.1': p(1.25, 10, 0.125),
  'gpt-5-mini': p(0.25, 2, 0.025),
  'gpt-5-nano': p(0.05, 0.4, 0.005),
  'gpt-4.1': p(2, 8, 0.5),
  'gpt-4.1-mini': p(0.4, 1.6, 0.1),
  'gpt-4.1-nano': p(0.1, 0.4, 0.025),
  'gpt-4o': p(2.5, 10, 1.25),
  'gpt-4o-mini': p(0.15, 0.6, 0.075),
  'gpt-4-turbo': p(10, 30, 10),
  'gpt-3.5-turbo': p(0.5, 1.5, 0.5),
  o1: p(15, 60, 7.5),
  'o1-mini': p(1.1, 4.4, 0.55),
  o3: p(2, 8, 0.5),
  'o3-mini': p(1.1, 4.4, 0.55),
  'o4-mini': p(1.1, 4.4, 0.275),
  // OpenAI: embeddings (input only).
  'text-embedding-3-small': p(0.02, 0, 0.02),
  'text-embedding-3-large': p(0.13, 0, 0.13),
  'text-embedding-ada-002': p(0.1, 0, 0.1),
  // Anthropic: Claude 4.x (Opus dropped from $15/$75 to $5/$25 with 4.5).
  'claude-opus-4-8': p(5, 25, 0.5),
  'claude-opus-4-7': p(5, 25, 0.5),
  'claude-opus-4-6': p(5, 25, 0.5),
  'claude-opus-4-5': p(5, 25, 0.5),
  'claude-opus-4-1': p(15, 75, 1.5),
  'claude-opus-4-0': p(15, 75, 1.5),
  'claude-opus-4': p(15, 75, 1.5),
  'claude-sonnet-4-6': p(3, 15, 0.3),
  'claude-sonnet-4-5': p(3, 15, 0.3),
  'claude-sonnet-4-0': p(3, 15, 0.3),
  'claude-sonnet-4': p(3, 15, 0.3),
  'claude-haiku-4-5': p(1, 5, 0.1),
  // Anthropic: Claude 3.x.
  'claude-3-7-sonnet': p(3, 15, 0.3),
  'claude-3-5-sonnet': p(3, 15, 0.3),
  'claude-3-5-haiku': p(0.8, 4, 0.08),
  'claude-3-opus': p(15, 75, 1.5),
  'claude-3-haiku': p(0.25, 1.25, 0.03),
};

// Dated snapshots and aliases share their family's price: `gpt-4o-2024-08-06`, `claude-sonnet-4-20250514`,
// `claude-3-5-haiku-latest`.
const SUFFIX = /(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$/;

/** The list price of an upstream model name, if the built-in table knows it. */
export function listPrice(model: string): ListPrice | undefined {
  const name = model.toLowerCase();
  return LIST_PRICES[name] ?? LIST_PRICES[name.replace(SUFFIX, '')];
}
