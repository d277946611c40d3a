// Percentiles and medians for the bench; latencies are in milliseconds throughout.

/** Latency percentiles of one phase, in ms. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Summarises the first `n` samples (sorted in place; nearest-rank percentiles). */
export function summarize(samples: Float64Array, n: number = samples.length): LatencySummary {
  if (n === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const s = samples.subarray(0, n).sort();
  const at = (p: number): number => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  return { count: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[n - 1]!, mean: sum / n };
}

/** Median of a list (mean of the middle two for even lengths); NaN when empty. */
export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Growable Float64Array so closed loops of unknown length record without boxing numbers. */
export class SampleBuffer {
  private buf = new Float64Array(4096);
  length = 0;

  push(x: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = x;
  }

  summary(): LatencySummary {
    return summarize(this.buf, this.length);
  }
}
