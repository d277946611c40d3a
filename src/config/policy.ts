// The compiled, runtime view of the configuration. `config/` builds it from YAML;
// every other module reads only this, never the raw file.
import type { ConfigIssue } from './config-error.js';

/** How a limit counts: input tokens, output tokens, both, or requests. */
export type Measure = 'input' | 'output' | 'total' | 'requests';

export type Algorithm = 'fixed_window' | 'sliding_window' | 'token_bucket';

/** A calendar window rolls over at midnight / the 1st in `server.timezone`; a rolling one is a fixed length. */
export type WindowSpec = { kind: 'calendar'; unit: 'day' | 'month' } | { kind: 'duration'; ms: number };

/** `enforce` blocks; `shadow` is evaluated, counted and reported but never blocks. */
export type LimitMode = 'enforce' | 'shadow';

/** One limit as written in config, before it is attached to a counter key. */
export interface LimitSpec {
  /** Short name, unique within its owner: `daily`, `monthly`, `rate`, `input`, `output`, ... */
  name: string;
  measure: Measure;
  algorithm: Algorithm;
  window: WindowSpec;
  /** Tokens (or requests, for measure `requests`) allowed per window. Exactly one of max / maxCostUsd is set. */
  max?: number;
  /** Money allowed per window, priced from `pricing`. */
  maxCostUsd?: number;
  mode: LimitMode;
  /** Overrides `storage.on_store_error` for this limit; undefined follows it. */
  onStoreError?: OnStoreError;
}

export interface OrganizationPolicy {
  id: string;
  limits: LimitSpec[];
}

export type Priority = 'high' | 'low';

export interface ProjectPolicy {
  id: string;
  /** Most tokens one call may use (input + requested output). */
  requestLimit?: number;
  priority: Priority;
  limits: LimitSpec[];
}

/** A user tier: its limits apply to each user of the tier separately. */
export interface TierPolicy {
  id: string;
  limits: LimitSpec[];
}

/** A group: its limits are shared by all member keys together. */
export interface GroupPolicy {
  id: string;
  limits: LimitSpec[];
}

export type RouteScope = 'route' | 'user' | 'group';

export interface RouteModel {
  /** The name clients use, e.g. `gpt-4o`. */
  modelId: string;
  /** Provider name from `providers`, e.g. `openai`. */
  provider: string;
  /** Model name sent upstream, e.g. `gpt-4o`. */
  upstreamModel: string;
  kind: 'chat' | 'embedding';
}

export interface RoutePolicy {
  name: string;
  models: RouteModel[];
  /** model_ids to try, in order, when the primary is blocked (used by fallbacks). */
  fallback: string[];
  scope: RouteScope;
  limits: LimitSpec[];
}

export type ProviderType = 'openai' | 'anthropic' | 'mock';

export interface ProviderPolicy {
  name: string;
  type: ProviderType;
  baseUrl?: string;
  /** Resolved secret; never logged. */
  apiKey?: string;
  /** Extra headers sent upstream (e.g. OpenAI-Organization, api-version). */
  headers: Record<string, string>;
  timeoutMs: number;
  /** OpenAI-format streams ask for their usage (`stream_options.include_usage`); false: never (`stream_usage: false`). Absent: true. */
  streamUsage?: boolean;
  /**
   * `priority`: the OpenAI project serves calls that name no tier (or `auto`) at priority, billed above
   * standard (`default_service_tier`); they are reserved at the priority price. Absent: standard.
   */
  defaultServiceTier?: 'priority';
  /** Mock provider: simulated latency and output length. */
  mock?: { latencyMs: number; outputTokens: number };
}

export interface Price {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
  /** USD per million input tokens read from the provider's prompt cache (defaults to the list discount). */
  cachedInput?: number;
  /**
   * USD per million input tokens written to the prompt cache with the default TTL (defaults to the list's
   * write rate in proportion to `input`, else 1.25x `input`). Set, it also makes OpenAI calls reserve at it.
   */
  cacheWrite?: number;
  /** USD per million input tokens written with Anthropic's 1-hour TTL (defaults to the list's in proportion, else 2x `input`). */
  cacheWrite1h?: number;
  /** USD per million audio input tokens (defaults to the list's audio rate in proportion to `input`, else `input`). */
  audioInput?: number;
  /** USD per million audio output tokens (defaults to the list's audio rate in proportion to `output`, else `output`). */
  audioOutput?: number;
  /** Rates for a whole call whose input exceeds `aboveInputTokens` (defaults to the list's band, in proportion). */
  longContext?: { aboveInputTokens: number; input: number; output: number; cachedInput?: number };
  /** USD per 1,000 server-side tool calls, by kind (usage.ts ToolKind); a kind absent here keeps its list price. */
  toolCalls?: Partial<Record<'web_search' | 'web_search_preview' | 'file_search', number>>;
  /** Anthropic fast mode: every rate of a call served fast (`usage.speed: "fast"`) times this (defaults to the list's). */
  fastFactor?: number;
}

/** How the usage ledger is written. */
export interface LedgerPolicy {
  /** Off: no rows, no counter rebuild, no dashboard (benchmarks, throwaway gateways). */
  enabled: boolean;
  /** `batched`: written off the hot path, within flushIntervalMs; `strict`: written before the response completes. */
  durability: 'batched' | 'strict';
  flushIntervalMs: number;
  batchSize: number;
  maxBufferedRows: number;
  /** How long the flush at shutdown retries before the rows go to the spill file. */
  shutdownFlushMs: number;
  /** `ledger.spill_dir` as written (resolved against the config's directory at start); false: off; unset: the default. */
  spillDir?: string | false;
  /** `ledger.spill_max_mb`: the most the spill file takes of rows overflowing the buffer, MiB. */
  spillMaxMb: number;
}

/** What `GET /metrics` exposes. */
export interface MetricsPolicy {
  enabled: boolean;
  /** Label series by user too (unbounded by nature; opt-in). */
  userLabels: boolean;
  /** When set, scrapes must send the bearer token that hashes to this. */
  bearerTokenSha256?: string;
}

export interface KeyPolicy {
  /** Display name, shown in reports; never the secret. */
  id: string;
  /** Lower-case hex SHA-256 of the secret. */
  sha256: string;
  organization: string;
  project?: string;
  user?: string;
  tier?: string;
  groups: string[];
  /** Routes this key may use; undefined means all. */
  routes?: string[];
  /** A managed key rotated with a grace period: its replaced secret's hash, accepted until `untilMs` (epoch ms). */
  previous?: { sha256: string; untilMs: number };
  /** A managed key with an expiry: refused from this time on (epoch ms). */
  expiresAtMs?: number;
  /** Made through the admin API (auth/managed-key.ts) rather than written in the config. */
  managed?: true;
}

export interface AlertRule {
  threshold: number;
  action: 'warn' | 'throttle' | 'block';
  channels: string[];
  reduction?: number;
  /** The first fallback of the chain (same as `fallbacks[0]`). */
  fallback?: string;
  /** The whole fallback chain in order, e.g. `['cache', 'model', 'error']`. */
  fallbacks?: string[];
}

export type OnStoreError = 'fail_closed' | 'fail_open';

export interface Policy {
  /** Files the policy was loaded from, in merge order. */
  sources: string[];
  server: {
    host: string;
    port: number;
    /** SHA-256 of the admin key, if one is configured. */
    adminKeySha256?: string;
    timezone: string;
    /** `server.max_body_bytes`, on every endpoint; undefined: each provider's own limit on its endpoints. */
    maxBodyBytes: number | undefined;
    /** After SIGTERM: how long the gateway goes on serving, /healthz answering 503, before it closes its listener. */
    drainDelayMs: number;
    /** Then: how long in-flight requests and streams may take before their connections are cut. */
    drainTimeoutMs: number;
    /** Origins whose browser apps may call the proxied API (`['*']` for any); empty: CORS off. */
    corsOrigins: readonly string[];
  };
  storage: {
    counters: string;
    ledger: string;
    onStoreError: OnStoreError;
    /** Command timeout of the shared counter store. */
    timeoutMs: number;
    /** The most a request waits for counters the shared store lost to be rebuilt from the ledger. */
    rebuildWaitMs: number;
    /** Gateway instances sharing the counter store; fail-open local counters get 1/instances of each limit. */
    instances: number;
    /** How long an unsettled reservation's record lives in the shared store. */
    reservationTtlMs: number;
    /** `reservation_ttl_ms` was not set: worked out from the providers' `timeout_ms`. */
    reservationTtlFromTimeouts: boolean;
    /** Budget leases on a shared store: the longest one is used, ms; 0 for none. */
    leaseMs: number;
    /** How often the keys made through the admin API are read again from the ledger, ms. */
    keyRefreshMs: number;
  };
  ledger: LedgerPolicy;
  metrics: MetricsPolicy;
  enforcement: {
    /** Lower max_tokens to the room left instead of refusing. */
    clampMaxTokens: boolean;
    /** Output allowance reserved (and sent upstream) when a request names no max_tokens. */
    defaultMaxTokens: number;
    /** The same for OpenAI reasoning models (o-series, gpt-5), whose hidden reasoning counts as output. */
    reasoningDefaultMaxTokens: number;
    /** A clamp never goes below this; less room than this is a 429. */
    minOutputTokens: number;
    /** Input reserved for stored Responses context this gateway did not see created. */
    storedContextTokens: number;
  };
  providers: Map<string, ProviderPolicy>;
  /** Keyed by `provider/model`, e.g. `openai/gpt-4o`. */
  pricing: Map<string, Price>;
  organizations: Map<string, OrganizationPolicy>;
  projects: Map<string, ProjectPolicy>;
  tiers: Map<string, TierPolicy>;
  groups: Map<string, GroupPolicy>;
  /** In config order; the first route is preferred when a bare model_id is ambiguous. */
  routes: Map<string, RoutePolicy>;
  keys: KeyPolicy[];
  alerts: AlertRule[];
  /** Valid but probably unintended settings (config-warnings.ts), for `check` and the start-up log. */
  warnings: ConfigIssue[];
}
