// The SQL both ledgers share: the column list, row encoding, and the report query builder. Each
// dialect only says how it writes placeholders, JSON access and casts.
import type { Dimension, FilterField, LedgerRow, UsageEvent, UsageGroup, UsageQuery } from './ledger.js';

export const TABLE = 'tollgate_ledger';

type Kind = 'plain' | 'json' | 'bool';

/** Column name, row field, and how the value is stored; in insert order. */
export const COLUMNS: ReadonlyArray<readonly [string, keyof LedgerRow, Kind]> = [
  ['ts', 'ts', 'plain'],
  ['request_id', 'requestId', 'plain'],
  ['organization', 'organization', 'plain'],
  ['project', 'project', 'plain'],
  ['user_id', 'user', 'plain'],
  ['key_id', 'keyId', 'plain'],
  ['key_groups', 'groups', 'json'],
  ['route', 'route', 'plain'],
  ['model_id', 'modelId', 'plain'],
  ['provider', 'provider', 'plain'],
  ['model', 'model', 'plain'],
  ['endpoint', 'endpoint', 'plain'],
  ['stream', 'stream', 'bool'],
  ['stream_end', 'streamEnd', 'plain'],
  ['tags', 'tags', 'json'],
  ['status', 'status', 'plain'],
  ['decision', 'decision', 'plain'],
  ['blocked_by', 'blockedBy', 'plain'],
  ['limits', 'limits', 'json'],
  ['shadow_blocked', 'shadowBlocked', 'json'],
  ['fallback', 'fallback', 'plain'],
  ['input_tokens', 'inputTokens', 'plain'],
  ['output_tokens', 'outputTokens', 'plain'],
  ['cached_input_tokens', 'cachedInputTokens', 'plain'],
  ['cache_write_input_tokens', 'cacheWriteInputTokens', 'plain'],
  ['cache_write_1h_input_tokens', 'cacheWrite1hInputTokens', 'plain'],
  ['reserved_input', 'reservedInput', 'plain'],
  ['reserved_output', 'reservedOutput', 'plain'],
  ['cost_usd', 'costUsd', 'plain'],
  ['input_cost_usd', 'inputCostUsd', 'plain'],
  ['tool_fees_usd', 'toolFeesUsd', 'plain'],
  ['service_tier', 'serviceTier', 'plain'],
  ['usage_source', 'usageSource', 'plain'],
  ['latency_ms', 'latencyMs', 'plain'],
  ['upstream_latency_ms', 'upstreamLatencyMs', 'plain'],
  ['provider_response_id', 'providerResponseId', 'plain'],
  ['inference_geo', 'inferenceGeo', 'plain'],
  ['audio_input_tokens', 'audioInputTokens', 'plain'],
  ['audio_output_tokens', 'audioOutputTokens', 'plain'],
];

export const COLUMN_NAMES = COLUMNS.map(([c]) => c);

/** A row as database values: JSON fields as text, booleans as 0/1 (SQLite) or true/false. */
export function encodeRow(row: LedgerRow, boolAsInt: boolean): unknown[] {
  return COLUMNS.map(([, field, kind]) => {
    const v = row[field];
    if (kind === 'json') return JSON.stringify(v);
    if (kind === 'bool') return boolAsInt ? (v ? 1 : 0) : Boolean(v);
    return v;
  });
}

/** A row read back from either database. */
export function decodeRow(db: Record<string, unknown>): LedgerRow {
  const out: Record<string, unknown> = {};
  for (const [col, field, kind] of COLUMNS) {
    const v = db[col];
    if (kind === 'json') out[field] = typeof v === 'string' ? JSON.parse(v) : v;
    else if (kind === 'bool') out[field] = v === true || v === 1;
    else if (typeof v === 'bigint' || (typeof v === 'string' && NUMERIC_FIELDS.has(field))) out[field] = Number(v);
    else out[field] = v;
  }
  return out as unknown as LedgerRow;
}

const NUMERIC_FIELDS = new Set<keyof LedgerRow>([
  'ts', 'status', 'inputTokens', 'outputTokens', 'cachedInputTokens', 'cacheWriteInputTokens', 'cacheWrite1hInputTokens',
  'reservedInput', 'reservedOutput', 'costUsd', 'inputCostUsd', 'toolFeesUsd', 'latencyMs', 'upstreamLatencyMs', 'audioInputTokens', 'audioOutputTokens',
]);

/** What differs between SQLite and PostgreSQL in report queries. */
export interface Dialect {
  /** The placeholder for the n-th parameter (1-based). */
  param(n: number): string;
  /** An expression reading the tag whose name (encoded by `tagParam`) is bound to `placeholder`. */
  tag(placeholder: string): string;
  tagParam(name: string): string;
  /** A numeric aggregate, cast so the driver returns a JS number. */
  num(expr: string): string;
  /** An integer column as text. */
  text(expr: string): string;
  /**
   * A join adding one row per distinct element of the JSON list `column` (none: one row with NULL), its element as
   * `g.value`. Distinct: rows recorded before a key could no longer list a group twice must count once in it.
   */
  eachGroup(column: string): string;
}

const FILTER_COLUMNS: Record<FilterField, string> = {
  organization: 'organization',
  project: 'project',
  user: 'user_id',
  key: 'key_id',
  route: 'route',
  model: "provider || '/' || model",
  provider: 'provider',
};

/** Builds the grouped-sum query for `q`; dimension values come back as d0, d1, ... */
export function usageSql(q: UsageQuery, dialect: Dialect): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const add = (v: unknown): string => {
    params.push(v);
    return dialect.param(params.length);
  };
  const dims = q.groupBy.map((d, i) => `${dimensionExpr(d, q, dialect, add)} AS d${i}`);
  const where: string[] = [];
  if (q.sinceMs !== undefined) where.push(`ts >= ${add(Math.floor(q.sinceMs))}`);
  if (q.untilMs !== undefined) where.push(`ts < ${add(Math.ceil(q.untilMs))}`);
  for (const [field, value] of Object.entries(q.where ?? {})) {
    if (value !== undefined) where.push(`${FILTER_COLUMNS[field as FilterField]} = ${add(value)}`);
  }
  const sql =
    `SELECT ${[...dims, ...usageSums(dialect)].join(', ')} FROM ${TABLE}` +
    (q.groupBy.includes('group') ? ` ${dialect.eachGroup('key_groups')}` : '') +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    groupAndOrder(q.groupBy.length);
  return { sql, params };
}

/** The sums of a usage query, named as toUsageGroup reads them. */
export function usageSums(dialect: Dialect): string[] {
  return [
    `${dialect.num('count(*)')} AS calls`,
    `${dialect.num("sum(CASE WHEN decision IN ('admitted', 'clamped') THEN 1 ELSE 0 END)")} AS served`,
    `${dialect.num("sum(CASE WHEN decision = 'blocked' THEN 1 ELSE 0 END)")} AS blocked`,
    `${dialect.num("sum(CASE WHEN decision = 'failed' THEN 1 ELSE 0 END)")} AS failed`,
    `${dialect.num('sum(input_tokens)')} AS input_tokens`,
    `${dialect.num('sum(output_tokens)')} AS output_tokens`,
    `${dialect.num('sum(cached_input_tokens)')} AS cached_input_tokens`,
    `${dialect.num('sum(cache_write_input_tokens)')} AS cache_write_input_tokens`,
    // Cost in whole pico-dollars, summed as integers (micro-dollars and the pico-dollars past them, so no
    // sum overflows): summed as floats, each database rounded the sum its own way (SQLite compensates,
    // PostgreSQL does not), and a sum next to half a nano-dollar read one nano-dollar apart between the two.
    // Whole pico-dollars hold every list-priced cost exactly; `trunc(x + 0.5)` rounds alike in both.
    `${dialect.num(`sum(${PICO_USD} / 1000000)`)} AS cost_micro_usd`,
    `${dialect.num(`sum(${PICO_USD} % 1000000)`)} AS cost_pico_usd`,
    // Money limits: the cost's two parts where the row records them (sum() skips the NULLs of legacy
    // rows), and the tokens of legacy rows, which are weighed by price.
    `${dialect.num('sum(input_cost_usd)')} AS input_cost_usd`,
    `${dialect.num('sum(cost_usd - input_cost_usd)')} AS output_cost_usd`,
    `${dialect.num('sum(CASE WHEN input_cost_usd IS NULL THEN input_tokens ELSE 0 END)')} AS legacy_input_tokens`,
    `${dialect.num('sum(CASE WHEN input_cost_usd IS NULL THEN output_tokens ELSE 0 END)')} AS legacy_output_tokens`,
    // Reports: how much of the usage is the gateway's count rather than the provider's, whatever the grouping.
    `${dialect.num("sum(CASE WHEN usage_source = 'estimated' THEN input_tokens + output_tokens ELSE 0 END)")} AS estimated_tokens`,
  ];
}

/** A row's cost in whole pico-dollars (costs are never negative); the same integer in SQLite and PostgreSQL. */
const PICO_USD = 'CAST(trunc(cost_usd * 1e12 + 0.5) AS BIGINT)';

/** The names usageSums gives its sums. */
export const USAGE_SUM_NAMES = [
  'calls', 'served', 'blocked', 'failed', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'cache_write_input_tokens', 'cost_micro_usd',
  'cost_pico_usd', 'input_cost_usd', 'output_cost_usd', 'legacy_input_tokens', 'legacy_output_tokens', 'estimated_tokens',
] as const;

/** `GROUP BY 1, 2 ORDER BY 1, 2` for the first n columns (nothing for n = 0). */
export function groupAndOrder(n: number): string {
  const ordinals = Array.from({ length: n }, (_, i) => String(i + 1)).join(', ');
  return n > 0 ? ` GROUP BY ${ordinals} ORDER BY ${ordinals}` : '';
}

/** The SQL column or expression a filter field compares. */
export function filterColumn(field: FilterField): string {
  return FILTER_COLUMNS[field];
}

/** The expression a dimension groups by; `add` binds a parameter and returns its placeholder. */
export function dimensionExpr(d: Dimension, q: UsageQuery, dialect: Dialect, add: (v: unknown) => string): string {
  switch (d) {
    case 'organization':
    case 'project':
    case 'route':
    case 'model_id':
    case 'provider':
    case 'endpoint':
    case 'decision':
    case 'usage_source':
      return d;
    case 'user':
      return 'user_id';
    case 'key':
      return 'key_id';
    case 'group':
      return 'g.value';
    case 'groups':
      // As text (PostgreSQL's jsonb spaces it its own way; readers parse it): grouping PostgreSQL's jsonb
      // itself made the rebuild's month query 1.4x slower on 1M rows, as text it costs nothing measurable.
      return dialect.text('key_groups');
    case 'model':
      return "provider || '/' || model";
    case 'status':
      return dialect.text('status');
    case 'bucket': {
      // An integer literal, not a parameter: PostgreSQL must see the same expression in SELECT and GROUP BY.
      const width = Math.floor(q.bucketMs ?? 0);
      if (!(width > 0)) throw new Error('bucketMs must be a positive number of milliseconds');
      return dialect.text(`(ts / ${width}) * ${width}`);
    }
    default: {
      return dialect.tag(add(dialect.tagParam(d.slice(4))));
    }
  }
}

/** Turns a result row of `usageSql` into a UsageGroup. */
export function toUsageGroup(r: Record<string, unknown>, groupBy: Dimension[]): UsageGroup {
  const keys: Record<string, string | null> = {};
  groupBy.forEach((d, i) => {
    const v = r[`d${i}`];
    keys[d] = v === null || v === undefined ? null : String(v);
  });
  const n = (k: string): number => Number(r[k] ?? 0);
  return {
    keys,
    calls: n('calls'),
    served: n('served'),
    blocked: n('blocked'),
    failed: n('failed'),
    inputTokens: n('input_tokens'),
    outputTokens: n('output_tokens'),
    cachedInputTokens: n('cached_input_tokens'),
    cacheWriteInputTokens: n('cache_write_input_tokens'),
    costUsd: n('cost_micro_usd') / 1e6 + n('cost_pico_usd') / 1e12,
    inputCostUsd: n('input_cost_usd'),
    outputCostUsd: n('output_cost_usd'),
    legacyInputTokens: n('legacy_input_tokens'),
    legacyOutputTokens: n('legacy_output_tokens'),
    estimatedTokens: n('estimated_tokens'),
  };
}

/** The columns toEvent reads. */
export const EVENT_COLUMNS =
  'ts, organization, project, user_id, CAST(key_groups AS TEXT) AS key_groups, key_id, route, model_id, endpoint, provider, model, decision, input_tokens, output_tokens, cost_usd, input_cost_usd';

/** A usage event from a row of either database (EVENT_COLUMNS). */
export function toEvent(r: Record<string, unknown>): UsageEvent {
  const inputCost = r.input_cost_usd === null || r.input_cost_usd === undefined ? null : Number(r.input_cost_usd);
  return {
    ts: Number(r.ts),
    organization: String(r.organization),
    project: r.project === null || r.project === undefined ? null : String(r.project),
    user: String(r.user_id),
    groupsJson: String(r.key_groups),
    keyId: String(r.key_id),
    route: String(r.route),
    modelId: String(r.model_id),
    endpoint: String(r.endpoint),
    provider: String(r.provider),
    model: String(r.model),
    served: r.decision === 'admitted' || r.decision === 'clamped',
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    inputCostUsd: inputCost,
    outputCostUsd: inputCost === null ? null : Number(r.cost_usd) - inputCost,
  };
}
