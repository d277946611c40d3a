// Prometheus metrics (`GET /metrics`), fed by the same rows the ledger gets. Label sets are bounded by
// the config (organizations, projects, models, limits); users only when `metrics.user_labels` is on.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppliedLimit } from '../limits/applicable-limits.js';
import type { CounterItem, LimitState } from '../limits/counter-store.js';
import type { WriterStats } from '../ledger/batch-writer.js';
import type { LedgerRow } from '../ledger/ledger.js';
import { BurnRate } from './burn-rate.js';
import { DeferredCounter, DeferredHistogram, labelSet, type LabelSet } from './deferred-series.js';
import { limitLabel } from './limit-labels.js';
import { endpointOfPath } from '../proxy/endpoint-paths.js';
import { replaceEventLoopDelayGauges } from './event-loop-delay.js';

export interface MetricsOptions {
  /** Add a `user` label to token and cost series, and name users in limit series. */
  userLabels: boolean;
  now?: () => number;
  /** Reads limits' current state without changing it (the counter store's `peek`), for headroom. */
  peek?: (items: CounterItem[]) => Promise<LimitState[]>;
  /** When `peek` fails (the shared store is down): the local counters fail-open limits are admitted against, undefined for the others. */
  peekDegraded?: (items: CounterItem[]) => Promise<Array<LimitState | undefined>>;
  /** The ledger writer's figures, for write lag. */
  writerStats?: () => WriterStats;
  /** Background responses still generating, their whole grant held until the provider reports their end. */
  backgroundCalls?: () => number;
  /** Also export Node's process metrics (CPU, memory, event loop lag). */
  processMetrics?: boolean;
}

const LIMIT_UNITS: ReadonlyArray<AppliedLimit['unit']> = ['tokens', 'requests', 'usd'];

interface Headroom {
  organization: string;
  label: string;
  unit: AppliedLimit['unit'];
  remaining: number;
  utilization: number;
}

/** The label sets one kind of call counts in. */
interface CallLabels {
  requests: LabelSet;
  input: LabelSet;
  output: LabelSet;
  cacheRead: LabelSet;
  cacheWrite: LabelSet;
  cost: LabelSet;
  upstream: LabelSet;
  forwarded: LabelSet;
  refused: LabelSet;
}

const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
// Up to the default `timeout_ms` (10 minutes): long generations stream for minutes, and without it every
// call between 5 and 10 minutes fell into +Inf.
const UPSTREAM_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
// One scrape reads the counters once, however many gauges show the result.
const HEADROOM_REUSE_MS = 100;
const EVENT_LOOP_SAMPLING_MS = 100;

export class GatewayMetrics {
  readonly registry = new Registry();
  /** The limits seen, by counter key, with the organization whose counter it is. */
  private readonly limits = new Map<string, { organization: string; limit: AppliedLimit }>();
  private readonly burn: BurnRate;
  private readonly now: () => number;
  private headroomCache?: { at: number; value: Promise<Headroom[]> };
  /** By kind of call (see labelsOf). */
  private readonly callLabels = new Map<string, CallLabels>();

  private readonly requests: DeferredCounter;
  private readonly rejected: DeferredCounter;
  private readonly tokens: DeferredCounter;
  private readonly cacheTokens: DeferredCounter;
  private readonly cost: DeferredCounter;
  private readonly limitHits: DeferredCounter;
  private readonly fallbacks: DeferredCounter;
  private readonly overhead: DeferredHistogram;
  private readonly upstream: DeferredHistogram;

  constructor(private readonly opts: MetricsOptions) {
    this.now = opts.now ?? Date.now;
    this.burn = new BurnRate(this.now());
    const registers = [this.registry];
    const who = opts.userLabels ? ['organization', 'project', 'user', 'model'] : ['organization', 'project', 'model'];
    this.requests = new DeferredCounter({
      name: 'tollgate_requests_total',
      help: 'Calls by outcome (status is the HTTP status sent; 499: the client left), and the token-free requests answered: Responses API retrievals and Anthropic token counts (model "", decision admitted).',
      labelNames: ['organization', 'project', 'model', 'status', 'decision'],
      registers,
    });
    this.rejected = new DeferredCounter({
      name: 'tollgate_rejected_requests_total',
      help: "Requests answered with an error before they became a call (no ledger row): bad bodies, missing or unknown keys, unknown models or paths. code is the error's code.",
      labelNames: ['path', 'status', 'code'],
      registers,
    });
    // Prompt-cache reads and writes are part of the input: in a series of their own, so that summing
    // tollgate_tokens_total over `type` gives the tokens used, not input counted twice.
    this.tokens = new DeferredCounter({ name: 'tollgate_tokens_total', help: 'Tokens used, by type (input, output).', labelNames: [...who, 'type'], registers });
    this.cacheTokens = new DeferredCounter({
      name: 'tollgate_prompt_cache_tokens_total',
      help: 'Input tokens read from (type read) and written to (type write) the prompt cache; both are part of tollgate_tokens_total{type="input"}.',
      labelNames: [...who, 'type'],
      registers,
    });
    this.cost = new DeferredCounter({ name: 'tollgate_cost_usd_total', help: 'Cost of calls in US dollars.', labelNames: who, registers });
    this.limitHits = new DeferredCounter({ name: 'tollgate_limit_hits_total', help: 'Calls a limit blocked (mode enforce) or would have blocked (mode shadow), and token-free requests (token counts, stored responses fetched) a rate limit refused.', labelNames: ['organization', 'limit', 'mode'], registers });
    this.fallbacks = new DeferredCounter({ name: 'tollgate_fallbacks_total', help: 'Fallbacks taken instead of the requested call.', labelNames: ['fallback'], registers });
    this.overhead = new DeferredHistogram({
      name: 'tollgate_gateway_overhead_seconds',
      help:
        'Time spent in the gateway itself, by outcome: forwarded (total latency minus upstream latency), refused (a call answered without the provider: a limit refused it, or it failed before leaving), rejected (an error before it became a call: bad body, key, model or path; endpoint other for paths that are not proxied endpoints).',
      labelNames: ['endpoint', 'outcome'],
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.upstream = new DeferredHistogram({ name: 'tollgate_upstream_latency_seconds', help: 'Upstream call time, to the whole body, the end of the stream, or the failure (errors and timeouts included).', labelNames: ['provider', 'model'], buckets: UPSTREAM_BUCKETS, registers });

    const self = this;
    // One gauge per unit (Prometheus naming: one unit per metric, named in it), so no sum adds tokens to dollars.
    for (const unit of LIMIT_UNITS) {
      new Gauge({
        name: `tollgate_limit_remaining_${unit}`,
        help: `Room left now in each limit counted in ${unit === 'usd' ? 'US dollars' : unit}; per-user limits show the most used user unless user labels are on.`,
        labelNames: ['organization', 'limit'],
        registers,
        async collect() {
          this.reset();
          for (const h of await self.headroom()) if (h.unit === unit) this.set({ organization: h.organization, limit: h.label }, h.remaining);
        },
      });
    }
    new Gauge({
      name: 'tollgate_limit_utilization',
      help: 'Used / max for each limit now (0-1, above 1 when over).',
      labelNames: ['organization', 'limit'],
      registers,
      async collect() {
        this.reset();
        for (const h of await self.headroom()) this.set({ organization: h.organization, limit: h.label }, h.utilization);
      },
    });
    new Gauge({
      name: 'tollgate_burn_rate_tokens_per_minute',
      help: 'Tokens per minute over the last 5 minutes.',
      labelNames: ['organization'],
      registers,
      collect() {
        this.reset();
        for (const r of self.burn.rates(self.now())) this.set({ organization: r.organization }, r.tokensPerMinute);
      },
    });
    new Gauge({
      name: 'tollgate_burn_rate_usd_per_hour',
      help: 'US dollars per hour over the last 5 minutes.',
      labelNames: ['organization'],
      registers,
      collect() {
        this.reset();
        for (const r of self.burn.rates(self.now())) this.set({ organization: r.organization }, r.usdPerHour);
      },
    });
    // Stays 0 until throttling queues requests; exported now so dashboards need no change later.
    new Gauge({ name: 'tollgate_queue_depth', help: 'Requests waiting in throttling queues.', registers });
    new Gauge({
      name: 'tollgate_background_calls_pending',
      help: 'Background responses still generating: their whole grant is held until the provider reports their usage.',
      registers,
      collect() {
        this.set(opts.backgroundCalls?.() ?? 0);
      },
    });
    const writer = (): WriterStats => opts.writerStats?.() ?? { pending: 0, lagMs: 0, written: 0, failures: 0, dropped: 0, spilled: 0 };
    new Gauge({ name: 'tollgate_ledger_write_lag_seconds', help: 'Age of the oldest call not yet written to the ledger (0 when all are written).', registers, collect() { this.set(writer().lagMs / 1000); } });
    new Gauge({ name: 'tollgate_ledger_pending_rows', help: 'Ledger rows waiting to be written.', registers, collect() { this.set(writer().pending); } });
    // The writer keeps these totals; each scrape copies them into counters (they only grow).
    const writerTotal = (name: string, help: string, read: (w: WriterStats) => number): void =>
      void new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(writer())); } });
    writerTotal('tollgate_ledger_rows_written_total', 'Ledger rows written since start.', (w) => w.written);
    writerTotal('tollgate_ledger_write_failures_total', 'Failed ledger writes since start (rows are kept and retried).', (w) => w.failures);
    writerTotal('tollgate_ledger_rows_dropped_total', 'Ledger rows dropped since start: the write buffer overflowed without a spill file, or the database refused what a row holds.', (w) => w.dropped);
    writerTotal('tollgate_ledger_rows_spilled_total', 'Ledger rows written to the local spill file since start (the database was away): kept, and written into the ledger once it answers or at the next start.', (w) => w.spilled);
    if (opts.processMetrics) {
      // prom-client's names under the tollgate_ prefix: tollgate_process_cpu_seconds_total, tollgate_nodejs_heap_size_used_bytes, ...
      // Event-loop delay is sampled by a timer; at prom-client's default 10 ms it wakes an idle gateway 100
      // times a second, which costs more CPU than the requests of a quiet one. 100 ms still sees every stall.
      collectDefaultMetrics({ register: this.registry, prefix: 'tollgate_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLING_MS });
      replaceEventLoopDelayGauges(this.registry, 'tollgate_', EVENT_LOOP_SAMPLING_MS);
    }
  }

  /** Counts one finished call. */
  observe(row: LedgerRow): void {
    const call = this.labelsOf(row);
    this.requests.incSet(call.requests);
    if (row.inputTokens > 0) this.tokens.incSet(call.input, row.inputTokens);
    if (row.outputTokens > 0) this.tokens.incSet(call.output, row.outputTokens);
    if (row.cachedInputTokens > 0) this.cacheTokens.incSet(call.cacheRead, row.cachedInputTokens);
    if (row.cacheWriteInputTokens > 0) this.cacheTokens.incSet(call.cacheWrite, row.cacheWriteInputTokens);
    if (row.costUsd > 0) this.cost.incSet(call.cost, row.costUsd);
    if (row.blockedBy) this.limitHits.inc([row.organization, limitLabel(row.blockedBy, this.opts.userLabels), 'enforce']);
    for (const id of row.shadowBlocked) this.limitHits.inc([row.organization, limitLabel(id, this.opts.userLabels), 'shadow']);
    if (row.fallback) this.fallbacks.inc([row.fallback.split(':')[0]]);
    if (row.upstreamLatencyMs !== null) {
      this.upstream.observeSet(call.upstream, row.upstreamLatencyMs / 1000);
      this.overhead.observeSet(call.forwarded, Math.max(0, row.latencyMs - row.upstreamLatencyMs) / 1000);
    } else {
      // Refusals cost gateway time too (a slow counter store makes every 429 slow): all of it is overhead.
      this.overhead.observeSet(call.refused, row.latencyMs / 1000);
    }
    this.burn.add(row.organization, row.inputTokens + row.outputTokens, row.costUsd, this.now());
  }

  /**
   * Counts a token-free request answered (a Responses API retrieval, an Anthropic token count). It names no
   * model, so its `model` is empty: summed with the calls it gives every request answered past the gateway's
   * checks, and `model!=""` the calls alone.
   */
  observeTokenFreeRequest(r: { organization: string; project: string | undefined; status: number }): void {
    this.requests.inc([r.organization, r.project ?? '', '', String(r.status), 'admitted']);
  }

  /**
   * The label sets of a call, built once per kind of call (who, model, endpoint, outcome): building
   * them for every call was its largest garbage after the pipeline's own (~1 KB). As bounded as the series.
   */
  private labelsOf(row: LedgerRow): CallLabels {
    const user = this.opts.userLabels ? row.user : '';
    const kind = `${row.organization}\u0000${row.project ?? ''}\u0000${user}\u0000${row.provider}\u0000${row.model}\u0000${row.endpoint}\u0000${row.status}\u0000${row.decision}`;
    let labels = this.callLabels.get(kind);
    if (!labels) {
      const project = row.project ?? '';
      const model = `${row.provider}/${row.model}`;
      const who = this.opts.userLabels ? [row.organization, project, row.user, model] : [row.organization, project, model];
      labels = {
        requests: labelSet([row.organization, project, model, String(row.status), row.decision]),
        input: labelSet([...who, 'input']),
        output: labelSet([...who, 'output']),
        cacheRead: labelSet([...who, 'read']),
        cacheWrite: labelSet([...who, 'write']),
        cost: labelSet(who),
        upstream: labelSet([row.provider, model]),
        forwarded: labelSet([row.endpoint, 'forwarded']),
        refused: labelSet([row.endpoint, 'refused']),
      };
      this.callLabels.set(kind, labels);
    }
    return labels;
  }

  /** Counts a request rejected before it became a call; a limit's refusal is a hit of that limit too. */
  reject(r: { path: string; status: number; code: string; seconds: number; limit?: string; organization?: string }): void {
    this.rejected.inc([r.path, String(r.status), r.code]);
    if (r.limit !== undefined && r.organization !== undefined) this.limitHits.inc([r.organization, limitLabel(r.limit, this.opts.userLabels), 'enforce']);
    this.overhead.observe([endpointOfPath(r.path), 'rejected'], r.seconds);
  }

  /** Remembers the limits a call of `organization` checked, so their headroom is exported, and their hits from 0 (see DeferredCounter.zero). */
  trackLimits(organization: string, limits: AppliedLimit[]): void {
    for (const limit of limits) {
      if (this.limits.has(limit.item.key)) continue;
      this.limits.set(limit.item.key, { organization, limit });
      this.limitHits.zero([organization, limitLabel(limit.id, this.opts.userLabels), limit.item.mode]);
    }
  }

  /** Forgets tracked limits (after a config reload, limits may have changed). */
  resetLimits(): void {
    this.limits.clear();
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.headroomCache = undefined;
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private headroom(): Promise<Headroom[]> {
    const now = this.now();
    if (this.headroomCache && now - this.headroomCache.at < HEADROOM_REUSE_MS) return this.headroomCache.value;
    const value = this.readHeadroom();
    this.headroomCache = { at: now, value };
    return value;
  }

  private async readHeadroom(): Promise<Headroom[]> {
    const limits = [...this.limits.values()];
    if (!this.opts.peek || limits.length === 0) return [];
    const items = limits.map((l) => l.limit.item);
    // Thousands of per-user limits are read (collapsed into one series, but each user's counter is read to
    // find the most used): the Redis store reads them a few hundred per script, calls' commands in between
    // (redis-store.ts KEYS_PER_SCRIPT). While the shared store is down, limits that fail open are still
    // admitted against this instance's local counters: show those rather than nothing (limits that fail
    // closed admit nothing and are left out).
    const states: Array<LimitState | undefined> | undefined = await this.opts.peek(items).catch(() => this.opts.peekDegraded?.(items).catch(() => undefined));
    if (!states) return [];
    // Two organizations may each have a project (or user, group) of the same name: one series each.
    const byLabel = new Map<string, Headroom>();
    limits.forEach(({ organization, limit: l }, i) => {
      const state = states[i];
      if (!state) return;
      const scale = l.unit === 'usd' ? 1e-6 : 1;
      const remaining = Math.max(0, state.max - state.used) * scale;
      const utilization = state.max > 0 ? state.used / state.max : state.used > 0 ? 1 : 0;
      const label = limitLabel(l.id, this.opts.userLabels);
      const series = `${organization}\u0000${label}`;
      const seen = byLabel.get(series);
      // Collapsed per-user limits report the user closest to the limit.
      if (!seen || utilization > seen.utilization) byLabel.set(series, { organization, label, unit: l.unit, remaining, utilization });
    });
    return [...byLabel.values()];
  }
}
