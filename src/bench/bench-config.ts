// The gateway configuration the bench runs: every limit kind switched on (with limits never reached),
// so the hot path does all of its real work on each request.

/**
 * YAML for `tollgate serve`, proxying to the mock upstream at `mockUrl`, with counters in `counters`
 * (`memory` or a Redis URL), and budget leases of `leaseMs` (0: none).
 */
export function benchConfigYaml(mockUrl: string, counters = 'memory', leaseMs = 0): string {
  const huge = 100_000_000_000;
  return `server: {timezone: UTC}
storage: {counters: "${counters}", lease_ms: ${leaseMs}}
providers:
  up: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-bench}
organization: {monthly_budget: ${huge}, daily_cap: ${huge}}
projects:
  bench: {daily_limit: ${huge}, request_limit: 100000, priority: high}
users:
  tier_bench: {daily_limit: ${huge}, rate_limit: 100000000}
groups:
  # A money limit as well, so pricing is computed on every request.
  g1: {daily_limit: ${huge}, monthly_limit: {max_cost_usd: 1000000}}
pricing: {"up/gpt-4o": {input: 2.5, output: 10}}
routes:
  bench:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
    token_limiting:
      scope: user
      input: {algorithm: sliding_window, window_size: 1 minute, max_token: ${huge}}
      output: {algorithm: token_bucket, window_size: 1 hour, max_token: ${huge}}
keys:
  - {id: bench, key: tg-bench, user: bench, tier: tier_bench, project: bench, groups: [g1]}
`;
}

/** The one request every phase sends (non-streaming). */
export const BENCH_BODY = JSON.stringify({
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Summarize the benefits of token limits in one sentence.' },
  ],
  max_tokens: 32,
});
