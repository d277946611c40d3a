import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeferredCounter, DeferredHistogram } from './deferred-series.js';

describe('deferred series', () => {
  it('show every increment and observation at each scrape, per label set', async () => {
    const registry = new Registry();
    const calls = new DeferredCounter({ name: 't_calls_total', help: 'h', labelNames: ['a'], registers: [registry] });
    const latency = new DeferredHistogram({ name: 't_latency_seconds', help: 'h', labelNames: ['a'], buckets: [1, 10], registers: [registry] });
    calls.inc(['x']);
    calls.inc(['x'], 2.5);
    calls.inc(['y']);
    // More than one pending batch's worth, so values handed over early are counted once, not twice.
    for (let i = 0; i < 10_000; i++) latency.observe(['x'], i % 2 === 0 ? 0.5 : 5);
    const read = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
    expect(await read('t_calls_total')).toEqual([
      { labels: { a: 'x' }, value: 3.5 },
      { labels: { a: 'y' }, value: 1 },
    ]);
    const buckets = (await read('t_latency_seconds')).filter((v) => (v as { metricName?: string }).metricName === 't_latency_seconds_bucket').map((v) => v.value);
    expect(buckets).toEqual([5000, 10_000, 10_000]);
    // A second scrape adds only what came since the first.
    calls.inc(['y'], 4);
    expect((await read('t_calls_total')).find((v) => v.labels.a === 'y')?.value).toBe(5);
    expect((await read('t_latency_seconds')).find((v) => (v as { metricName?: string }).metricName === 't_latency_seconds_count')?.value).toBe(10_000);
  });
});
