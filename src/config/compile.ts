// Builds the runtime Policy from a validated config: defaults resolved, secrets hashed,
// every section turned into Maps in config order.
import { builtInProviders, DEFAULT_BASE_URLS } from './default-providers.js';
import { compileLevelLimits, compileRouteLimits } from './compile-limits.js';
import { LONGEST_TIMER_MS } from './gateway-schemas.js';
import { organizationIds } from './cross-check.js';
import type {
  AlertRule,
  GroupPolicy,
  KeyPolicy,
  OrganizationPolicy,
  Policy,
  Price,
  ProjectPolicy,
  ProviderPolicy,
  RouteModel,
  RoutePolicy,
  TierPolicy,
} from './policy.js';
import type { TollgateConfig } from './schema.js';
import { sha256Hex } from './sha256.js';
import { DEFAULT_MOCK_LATENCY_MS, DEFAULT_MOCK_OUTPUT_TOKENS } from '../mock-upstream/defaults.js';

// Throttling needs some reduction; half speed is the seed's own example.
const DEFAULT_REDUCTION = 0.5;

/**
 * Compiles a validated, cross-checked config into the Policy other modules read. `routeOrder` is the order
 * the routes were written in (LocIndex.keysInOrder), which their JS object loses for names like `2024`.
 */
export function compilePolicy(config: TollgateConfig, sources: string[], env: NodeJS.ProcessEnv, routeOrder: readonly string[] = []): Policy {
  const { server, storage, enforcement } = config;
  return {
    sources,
    server: {
      host: server.host,
      port: server.port,
      ...(server.admin_key !== undefined ? { adminKeySha256: sha256Hex(server.admin_key) } : {}),
      timezone: server.timezone,
      maxBodyBytes: server.max_body_bytes,
      drainDelayMs: server.drain_delay_ms,
      drainTimeoutMs: server.drain_timeout_ms,
      corsOrigins: server.cors_origins,
    },
    storage: {
      counters: storage.counters,
      ledger: storage.ledger,
      onStoreError: storage.on_store_error,
      timeoutMs: storage.timeout_ms,
      rebuildWaitMs: storage.rebuild_wait_ms,
      keyRefreshMs: storage.key_refresh_ms,
      instances: storage.instances,
      reservationTtlMs: storage.reservation_ttl_ms ?? defaultReservationTtl(config, env),
      reservationTtlFromTimeouts: storage.reservation_ttl_ms === undefined,
      leaseMs: storage.lease_ms,
    },
    ledger: {
      enabled: config.ledger.enabled,
      durability: config.ledger.durability,
      flushIntervalMs: config.ledger.flush_interval_ms,
      batchSize: config.ledger.batch_size,
      maxBufferedRows: config.ledger.max_buffered_rows,
      shutdownFlushMs: config.ledger.shutdown_flush_ms,
      spillMaxMb: config.ledger.spill_max_mb,
      ...(config.ledger.spill_dir !== undefined ? { spillDir: config.ledger.spill_dir } : {}),
    },
    metrics: {
      enabled: config.metrics.enabled,
      userLabels: config.metrics.user_labels,
      ...(config.metrics.bearer_token !== undefined ? { bearerTokenSha256: sha256Hex(config.metrics.bearer_token) } : {}),
    },
    enforcement: {
      clampMaxTokens: enforcement.clamp_max_tokens,
      defaultMaxTokens: enforcement.default_max_tokens,
      reasoningDefaultMaxTokens: enforcement.reasoning_default_max_tokens,
      minOutputTokens: enforcement.min_output_tokens,
      storedContextTokens: enforcement.stored_context_tokens,
    },
    providers: compileProviders(config, env),
    pricing: new Map(
      Object.entries(config.pricing).map(([model, p]): [string, Price] => [
        model,
        compilePrice(p),
      ]),
    ),
    organizations: compileOrganizations(config),
    projects: new Map(
      Object.entries(config.projects).map(([id, p]): [string, ProjectPolicy] => [
        id,
        {
          id,
          ...(p.request_limit !== undefined ? { requestLimit: p.request_limit } : {}),
          priority: p.priority,
          limits: compileLevelLimits({ daily: p.daily_limit, monthly: p.monthly_limit }),
        },
      ]),
    ),
    tiers: new Map(
      Object.entries(config.users).map(([id, t]): [string, TierPolicy] => [
        id,
        { id, limits: compileLevelLimits({ daily: t.daily_limit, monthly: t.monthly_limit, rate: t.rate_limit }) },
      ]),
    ),
    groups: new Map(
      Object.entries(config.groups).map(([id, g]): [string, GroupPolicy] => [
        id,
        { id, limits: compileLevelLimits({ daily: g.daily_limit, monthly: g.monthly_limit, rate: g.rate_limit }) },
      ]),
    ),
    routes: compileRoutes(config, routeOrder),
    keys: compileKeys(config),
    alerts: config.alerts.map(compileAlert),
    warnings: [],
  };
}

// A reservation must outlive the longest upstream call it covers, or its settlement would find no record.
const MIN_RESERVATION_TTL_MS = 900_000;

function defaultReservationTtl(config: TollgateConfig, env: NodeJS.ProcessEnv): number {
  const longest = Math.max(0, ...[...compileProviders(config, env).values()].map((p) => p.timeoutMs));
  return Math.min(LONGEST_TIMER_MS, Math.max(MIN_RESERVATION_TTL_MS, 2 * longest));
}

function compilePrice(p: TollgateConfig['pricing'][string]): Price {
  const price: Price = { input: p.input, output: p.output };
  if (p.cached_input !== undefined) price.cachedInput = p.cached_input;
  if (p.cache_write !== undefined) price.cacheWrite = p.cache_write;
  if (p.cache_write_1h !== undefined) price.cacheWrite1h = p.cache_write_1h;
  if (p.audio_input !== undefined) price.audioInput = p.audio_input;
  if (p.audio_output !== undefined) price.audioOutput = p.audio_output;
  const band = p.long_context;
  if (band) {
    price.longContext = { aboveInputTokens: band.above_input_tokens, input: band.input, output: band.output };
    if (band.cached_input !== undefined) price.longContext.cachedInput = band.cached_input;
  }
  if (p.tool_calls) price.toolCalls = { ...p.tool_calls };
  if (p.fast_factor !== undefined) price.fastFactor = p.fast_factor;
  return price;
}

function compileOrganizations(config: TollgateConfig): Map<string, OrganizationPolicy> {
  const source = config.organizations ?? { default: config.organization ?? {} };
  return new Map(
    Object.entries(source).map(([id, o]): [string, OrganizationPolicy] => [
      id,
      { id, limits: compileLevelLimits({ daily: o.daily_cap, monthly: o.monthly_budget }) },
    ]),
  );
}

function compileProviders(config: TollgateConfig, env: NodeJS.ProcessEnv): Map<string, ProviderPolicy> {
  if (!config.providers) return builtInProviders(env);
  return new Map(
    Object.entries(config.providers).map(([name, p]): [string, ProviderPolicy] => {
      const baseUrl = p.base_url ?? DEFAULT_BASE_URLS[p.type];
      return [
        name,
        {
          name,
          type: p.type,
          ...(baseUrl !== undefined ? { baseUrl } : {}),
          ...(p.api_key !== undefined ? { apiKey: p.api_key } : {}),
          headers: { ...p.headers },
          timeoutMs: p.timeout_ms,
          ...(p.stream_usage === false ? { streamUsage: false } : {}),
          ...(p.default_service_tier === 'priority' ? { defaultServiceTier: 'priority' as const } : {}),
          ...(p.type === 'mock' ? { mock: { latencyMs: p.latency_ms ?? DEFAULT_MOCK_LATENCY_MS, outputTokens: p.output_tokens ?? DEFAULT_MOCK_OUTPUT_TOKENS } } : {}),
        },
      ];
    }),
  );
}

function compileRoutes(config: TollgateConfig, routeOrder: readonly string[]): Map<string, RoutePolicy> {
  // The first route wins a bare model_id that several have, so they keep the order written.
  const position = new Map(routeOrder.map((name, i) => [name, i]));
  const rank = (name: string): number => position.get(name) ?? routeOrder.length;
  return new Map(
    Object.entries(config.routes).sort(([a], [b]) => rank(a) - rank(b)).map(([name, r]): [string, RoutePolicy] => {
      const toModel = (kind: RouteModel['kind']) => (m: { model_id: string; model: string }): RouteModel => {
        const slash = m.model.indexOf('/'); // First slash only: `vllm/meta-llama/Llama-3-8B` keeps its org prefix.
        return { modelId: m.model_id, provider: m.model.slice(0, slash), upstreamModel: m.model.slice(slash + 1), kind };
      };
      return [
        name,
        {
          name,
          models: [...(r.chat_models ?? []).map(toModel('chat')), ...(r.embedding_models ?? []).map(toModel('embedding'))],
          fallback: [...(r.fallback ?? [])],
          scope: r.token_limiting?.scope ?? 'route',
          limits: compileRouteLimits(r.token_limiting ?? {}),
        },
      ];
    }),
  );
}

function compileKeys(config: TollgateConfig): KeyPolicy[] {
  const [onlyOrg] = organizationIds(config);
  // Only the hash is kept: the secret must not reach the Policy, logs or errors.
  return config.keys.map((k) => ({
    id: k.id,
    sha256: k.key !== undefined ? sha256Hex(k.key) : k.key_sha256!.toLowerCase(),
    organization: k.organization ?? onlyOrg!,
    ...(k.project !== undefined ? { project: k.project } : {}),
    ...(k.user !== undefined ? { user: k.user } : {}),
    ...(k.tier !== undefined ? { tier: k.tier } : {}),
    groups: [...k.groups],
    ...(k.routes !== undefined ? { routes: [...k.routes] } : {}),
  }));
}

function compileAlert(a: TollgateConfig['alerts'][number]): AlertRule {
  const chain = a.fallback === undefined ? undefined : typeof a.fallback === 'string' ? [a.fallback] : a.fallback;
  const reduction = a.reduction ?? (a.action === 'throttle' ? DEFAULT_REDUCTION : undefined);
  return {
    threshold: a.threshold,
    action: a.action,
    channels: [...a.channels],
    ...(reduction !== undefined ? { reduction } : {}),
    ...(chain ? { fallback: chain[0], fallbacks: [...chain] } : {}),
  };
}
