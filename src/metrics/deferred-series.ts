// prom-client hashes and validates the label set on every inc()/observe(), even on a bound child: a
// few µs and half a KB of garbage per call, on every proxied request. These keep plain numbers per
// label set on the hot path and hand them to prom-client when it is scraped (its `collect` hook).
import { Counter, Histogram, type CounterConfiguration, type HistogramConfiguration } from 'prom-client';

/**
 * Label values with their series key, for a label set a caller uses again and again: built once, they spare
 * each call the values' array and the key's string.
 */
export interface LabelSet {
  readonly values: string[];
  readonly key: string;
}

export function labelSet(values: string[]): LabelSet {
  return { values, key: seriesKey(values) };
}

function seriesKey(values: string[]): string {
  return values.join('\u0000');
}

/** Keep at most this many unscraped observations per series; beyond it they are handed over at once. */
const MAX_PENDING_OBSERVATIONS = 4096;

interface CounterSeries {
  child: { inc(value: number): void };
  pending: number;
}

/** A labelled counter; prom-client sees the sums whenever the registry is read. */
export class DeferredCounter {
  private readonly series = new Map<string, CounterSeries>();
  private readonly metric: Counter;

  constructor(config: CounterConfiguration<string>) {
    this.metric = new Counter({ ...config, collect: () => this.drain() });
  }

  inc(labels: string[], by = 1): void {
    this.add(labels, seriesKey(labels), by);
  }

  /** `inc` for a label set kept by the caller. */
  incSet(set: LabelSet, by = 1): void {
    this.add(set.values, set.key, by);
  }

  /**
   * Exports a series at 0 before its first increment. rate() and increase() count what a series gained
   * between two scrapes: one that first appears at 1 shows no increase, and its first event is lost.
   */
  zero(labels: string[]): void {
    const key = seriesKey(labels);
    if (this.series.has(key)) return;
    const child = this.metric.labels(...labels);
    child.inc(0);
    this.series.set(key, { child, pending: 0 });
  }

  private add(labels: string[], key: string, by: number): void {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { child: this.metric.labels(...labels), pending: 0 }));
    s.pending += by;
  }

  /** Hands the pending sums to prom-client. */
  private drain(): void {
    for (const s of this.series.values()) {
      if (s.pending === 0) continue;
      s.child.inc(s.pending);
      s.pending = 0;
    }
  }
}

interface HistogramSeries {
  child: { observe(value: number): void };
  pending: number[];
}

/** A labelled histogram; prom-client sees the values whenever the registry is read. */
export class DeferredHistogram {
  private readonly series = new Map<string, HistogramSeries>();
  private readonly metric: Histogram;

  constructor(config: HistogramConfiguration<string>) {
    this.metric = new Histogram({ ...config, collect: () => this.drain() });
  }

  observe(labels: string[], value: number): void {
    this.add(labels, seriesKey(labels), value);
  }

  /** `observe` for a label set kept by the caller. */
  observeSet(set: LabelSet, value: number): void {
    this.add(set.values, set.key, value);
  }

  private add(labels: string[], key: string, value: number): void {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { child: this.metric.labels(...labels), pending: [] }));
    s.pending.push(value);
    // Nobody scraping must not mean unbounded memory.
    if (s.pending.length >= MAX_PENDING_OBSERVATIONS) flush(s);
  }

  /** Hands the pending observations to prom-client. */
  private drain(): void {
    for (const s of this.series.values()) flush(s);
  }
}

function flush(s: HistogramSeries): void {
  for (const v of s.pending) s.child.observe(v);
  s.pending.length = 0;
}
