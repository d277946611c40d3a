// Event-loop delay gauges in place of prom-client's. Node's delay histogram records the whole time
// between two ticks of its sampling timer, the sampling interval included, so prom-client's
// `nodejs_eventloop_lag_{min,...,p99}_seconds` read 0.1 s on an idle gateway sampled every 100 ms.
// These keep its names and report only the delay beyond the interval.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

const STATS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;
type Stat = (typeof STATS)[number];

/** Replaces the histogram-based lag gauges that collectDefaultMetrics registered under `prefix`. */
export function replaceEventLoopDelayGauges(registry: Registry, prefix: string, resolutionMs: number): void {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const resolutionNs = resolutionMs * 1e6;
  const beyondInterval = (ns: number): number => Math.max(0, ns - resolutionNs) / 1e9;
  const read = (stat: Stat): number => {
    if (stat === 'stddev') return histogram.stddev / 1e9; // a spread: the interval cancels out
    if (stat === 'min') return beyondInterval(histogram.min);
    if (stat === 'max') return beyondInterval(histogram.max);
    if (stat === 'mean') return beyondInterval(histogram.mean);
    return beyondInterval(histogram.percentile(Number(stat.slice(1))));
  };
  const gauges = new Map<Stat, Gauge>();
  // The first gauge's collect sets them all from the same histogram, then starts the next scrape's sample.
  const collectAll = (): void => {
    if (histogram.count === 0) return; // scraped again within one interval: the last figures stand
    for (const [stat, gauge] of gauges) gauge.set(read(stat));
    histogram.reset();
  };
  for (const stat of STATS) {
    const name = `${prefix}nodejs_eventloop_lag_${stat}_seconds`;
    registry.removeSingleMetric(name);
    const help = `The ${stat} event loop delay beyond the ${resolutionMs} ms sampling interval, since the last scrape.`;
    gauges.set(stat, new Gauge({ name, help, registers: [registry], ...(stat === STATS[0] ? { collect: collectAll } : {}) }));
  }
}
