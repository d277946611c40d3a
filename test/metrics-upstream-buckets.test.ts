// The upstream latency histogram's buckets reach the default upstream timeout: a long generation that
// finishes (or times out) after 5 minutes is not lumped into +Inf with every other slow call.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUT_MS } from '../src/config/default-providers.js';
import { GatewayMetrics } from '../src/metrics/gateway-metrics.js';
import { sampleRow } from './helpers/sample-row.js';

/** Each `le` bound of the upstream histogram with its cumulative count, from the exposition text. */
function upstreamBuckets(text: string): Map<string, number> {
  const rows = text.matchAll(/^tollgate_upstream_latency_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)$/gm);
  return new Map([...rows].map((m) => [m[1]!, Number(m[2])]));
}

describe('tollgate_upstream_latency_seconds buckets', () => {
  it('has a finite bucket up to the default provider timeout', async () => {
    const metrics = new GatewayMetrics({ userLabels: false });
    const timeoutS = DEFAULT_TIMEOUT_MS / 1000;
    // A call that ran for 3/4 of the timeout, past the old top bucket (300 s).
    metrics.observe(sampleRow({ upstreamLatencyMs: DEFAULT_TIMEOUT_MS * 0.75, latencyMs: DEFAULT_TIMEOUT_MS * 0.75 + 5 }));
    const buckets = upstreamBuckets(await metrics.registry.metrics());
    const finite = [...buckets.keys()].filter((le) => le !== '+Inf').map(Number);
    expect(Math.max(...finite)).toBeGreaterThanOrEqual(timeoutS);
    expect(buckets.get(String(timeoutS))).toBe(1);
    expect(buckets.get('300')).toBe(0);
  });
});
