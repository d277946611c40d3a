// The usage ledger: one row per finished call, the source of truth for reports and for rebuilding
// counters. One small interface; `sqlite-ledger.ts` and `postgres-ledger.ts` implement it.
import type { ResponseOwner } from '../limits/counter-store.js';
import type { PricedTier } from '../providers/usage.js';
import type { KeyTable } from '../auth/key-table.js';

/** How a call ended, as the limits engine saw it. */
export type Decision = 'admitted' | 'clamped' | 'blocked' | 'failed';

/** One call, as written to the ledger. Never holds a key secret: only the key's id. */
export interface LedgerRow {
  /**
   * When the call counted, epoch ms: its admission by the limits, on the counter store's clock (its arrival,
   * for a call refused before). Windows are computed from this, as the counters were.
   */
  ts: number;
  requestId: string;
  organization: string;
  project: string | null;
  user: string;
  keyId: string;
  groups: string[];
  route: string;
  /** The model id the client addressed, within the route. */
  modelId: string;
  provider: string;
  /** The model sent upstream. */
  model: string;
  endpoint: string;
  stream: boolean;
  /** Streams only: `complete`, `cut_at_limit` (ended at the output allowance), `client_gone`, `upstream_failed`. */
  streamEnd: string | null;
  tags: Record<string, string>;
  status: number;
  decision: Decision;
  blockedBy: string | null;
  /** Ids of the limits checked. */
  limits: readonly string[];
  /** Shadow-mode limits that would have blocked. */
  shadowBlocked: string[];
  /** The fallback taken (`cache`, `model:<id>`), when one was. */
  fallback: string | null;
  inputTokens: number;
  outputTokens: number;
  /** Input tokens served from the provider's prompt cache (a subset of inputTokens). */
  cachedInputTokens: number;
  /**
   * Input tokens written to the provider's prompt cache (Anthropic), every TTL: a subset of inputTokens,
   * billed above the input price, so the row's cost can be explained from its columns. 0 on rows written
   * before the ledger recorded it.
   */
  cacheWriteInputTokens: number;
  /** The part of cacheWriteInputTokens written with a 1-hour TTL (billed higher than the 5-minute one). */
  cacheWrite1hInputTokens: number;
  /**
   * Input tokens of audio (OpenAI's audio models): a subset of inputTokens, billed at the audio input
   * price. 0 on rows written before the ledger recorded it.
   */
  audioInputTokens: number;
  /** Output tokens of audio: a subset of outputTokens, billed at the audio output price; 0 on older rows. */
  audioOutputTokens: number;
  reservedInput: number;
  reservedOutput: number;
  costUsd: number;
  /**
   * The part of costUsd billed for input (fresh, cache reads, cache writes, at the tier that served the
   * call); the rest is output. Money limits are rebuilt from the two parts. Null on rows written before
   * the ledger recorded it (legacy rows), which are weighed by their tokens instead.
   */
  inputCostUsd: number | null;
  /**
   * The part of costUsd (and of inputCostUsd) billed per server-side tool call rather than per token:
   * web searches, file searches (list-prices.ts TOOL_CALL_PRICES). 0 on rows written before it was recorded.
   */
  toolFeesUsd: number;
  /**
   * The tier that served the call when it changes the price (OpenAI's `priority` above standard and `flex`
   * below, Anthropic's fast mode `fast` above); null for standard, and rows written before it was recorded.
   */
  serviceTier: PricedTier | null;
  /**
   * Where the provider says the call ran (Anthropic's `usage.inference_geo`: `us`, `global`, ...), which
   * its price depends on (US-only inference is billed 1.1x on recent models); null when not reported.
   */
  inferenceGeo: string | null;
  /** `provider`: the upstream reported usage; `estimated`: counted by Tollgate; `none`: nothing was used. */
  usageSource: 'provider' | 'estimated' | 'none';
  latencyMs: number;
  upstreamLatencyMs: number | null;
  /**
   * The provider's id of the response (Responses API calls: `resp_...`), to match the row with the
   * provider's own records; null for other endpoints, calls that got none, and rows written before it.
   */
  providerResponseId: string | null;
}

/**
 * What reports can group by. `tag:<name>` groups by a free tag; `bucket` by `bucketMs` time slices;
 * `groups` by the key's groups as recorded (the JSON text of the list; the counter rebuild's, not offered
 * to reports, which are not grouped by a list); `group` by each group the key was in, so a call of a key
 * in two groups is in two rows (and in none of them, a `null` group, for a key in none).
 */
export type Dimension =
  | 'organization'
  | 'groups'
  | 'group'
  | 'project'
  | 'user'
  | 'key'
  | 'route'
  | 'model'
  | 'model_id'
  | 'provider'
  | 'endpoint'
  | 'status'
  | 'decision'
  | 'usage_source'
  | 'bucket'
  | `tag:${string}`;

/** Columns a report can filter on, by exact value. */
export type FilterField = 'organization' | 'project' | 'user' | 'key' | 'route' | 'model' | 'provider';

export interface UsageQuery {
  /** Inclusive lower bound on `ts`. */
  sinceMs?: number;
  /** Exclusive upper bound on `ts`. */
  untilMs?: number;
  where?: Partial<Record<FilterField, string>>;
  groupBy: Dimension[];
  /** Width of the `bucket` dimension (ms); each bucket is keyed by its start. */
  bucketMs?: number;
}

/** Sums over one group of rows. */
export interface UsageGroup {
  /** The group's value for each requested dimension (null when the row has none, e.g. no project). */
  keys: Record<string, string | null>;
  /** Rows (calls), whatever their outcome. */
  calls: number;
  /** Calls that reached the provider and count as requests for rate limits (admitted or clamped). */
  served: number;
  blocked: number;
  failed: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** Input tokens written to the prompt cache (every TTL; a subset of inputTokens). */
  cacheWriteInputTokens: number;
  costUsd: number;
  /** Money limits' sums: the input and output parts of costUsd, over the rows that record the split. */
  inputCostUsd: number;
  outputCostUsd: number;
  /** Tokens of the legacy rows (no inputCostUsd): money limits weigh these by their price instead. */
  legacyInputTokens: number;
  legacyOutputTokens: number;
  /** Input and output tokens of the rows whose usage Tollgate counted itself (`usageSource: 'estimated'`): a part of the two. */
  estimatedTokens: number;
}

/** A usage event, the minimum the counter rebuild and audit need to replay token buckets. */
export interface UsageEvent {
  ts: number;
  /** Whom the call was charged to when it was admitted, as recorded (the rebuild charges the same). */
  organization: string;
  project: string | null;
  user: string;
  /** The key's groups as the JSON text the rebuild's grouped sums also read (compared as text, not parsed per call). */
  groupsJson: string;
  keyId: string;
  route: string;
  modelId: string;
  endpoint: string;
  /** The provider and the model sent upstream (what the call was priced as). */
  provider: string;
  model: string;
  /** Admitted or clamped: its request counts. A failed call's tokens count (what the provider produced), its request does not. */
  served: boolean;
  inputTokens: number;
  outputTokens: number;
  /** The input and output parts of the call's cost (USD); both null on legacy rows, weighed by their tokens instead. */
  inputCostUsd: number | null;
  outputCostUsd: number | null;
}

export interface RowQuery {
  sinceMs?: number;
  untilMs?: number;
  requestIds?: string[];
  limit?: number;
}

/** The project that made a stored object (a conversation, a response): the counter store's owner record. */
export type ObjectOwner = ResponseOwner;

/** A ledger schema newer than this release knows: the version found, and the newest it migrates to. */
export interface SchemaAhead {
  version: number;
  known: number;
}

export interface Ledger {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates the schema or migrates it to the current version; safe to run from several processes at once. */
  init(): Promise<void>;
  /**
   * Set by init when a later release has migrated the schema past this one's (a rollback): this release
   * still writes, leaving the newer columns at their defaults, and says so at start.
   */
  readonly schemaAhead?: SchemaAhead;
  /** Writes rows in one transaction. A row already present (same request id and time) is skipped, so retries are safe. */
  append(rows: LedgerRow[]): Promise<void>;
  /**
   * Optional, for the batched writer: each row packed into the JSON text of one value when its call
   * ends, and written later with appendPacked (same transaction and retry rules as append). Rows
   * waiting for their batch then live outside the JavaScript heap (row-queue.ts), with nothing for the
   * garbage collector to copy and trace, call after call. What many rows share (the SQLite ledger's
   * contexts) is not repeated in each: packRow adds its JSON text to its batch's `shared` set, and
   * appendPacked takes the JSON array of the batch's packed rows followed by one more element, the
   * array of its shared texts.
   */
  packRow?(row: LedgerRow, shared: Set<string>): string;
  appendPacked?(json: string): Promise<void>;
  /**
   * Whether `err`, from append, is the database refusing what a row holds (PostgreSQL refuses a NUL or a
   * lone surrogate in text, for one) rather than failing to write at all: retrying that batch as it is
   * would fail for ever. Absent: every failure is retried.
   */
  refusesRow?(err: unknown): boolean;
  /**
   * Records that `owner` made conversation `id` (OpenAI's Conversations API) at `atMs`: written at once,
   * not batched (conversations are few), so that the owner outlives the counter store's record. An id
   * recorded already keeps its first owner.
   */
  recordConversation(id: string, owner: ObjectOwner, atMs: number): Promise<void>;
  /** Who made conversation `id` through the gateway, as recorded; undefined when nobody did. */
  conversationOwner(id: string): Promise<ObjectOwner | undefined>;
  /** Who made response `id` (the row whose provider_response_id it is) through the gateway since `sinceMs`. */
  responseOwner(id: string, sinceMs: number): Promise<ObjectOwner | undefined>;
  /** Sums usage over the rows matching `q`, one entry per group. */
  summarize(q: UsageQuery): Promise<UsageGroup[]>;
  /** Usage events of the calls not blocked since `sinceMs`, in time order (token-bucket replay); one organization's only, when given. */
  events(sinceMs: number, organization?: string): Promise<UsageEvent[]>;
  /**
   * summarize's groups and events' events handed to `visit` one at a time as the database returns them,
   * none kept: the counter rebuild folds them into one sum per counter, and a ledger of millions of rows
   * has as many groups (context by time slot) or events as the process has room for.
   */
  eachGroup(q: UsageQuery, visit: (g: UsageGroup) => void): Promise<void>;
  eachEvent(sinceMs: number, organization: string | undefined, visit: (e: UsageEvent) => void): Promise<void>;
  /** Whole rows, oldest first (tests, exports). */
  rows(q: RowQuery): Promise<LedgerRow[]>;
  /** The keys made through the admin API, kept in the ledger's database (absent: no key management). */
  readonly keys?: KeyTable;
  close(): Promise<void>;
}

/** Dimensions accepted by reports, for validation and help text (tags come as `tag:<name>`). */
export const DIMENSIONS: readonly Dimension[] = [
  'organization',
  'project',
  'user',
  'key',
  'group',
  'route',
  'model',
  'model_id',
  'provider',
  'endpoint',
  'status',
  'decision',
  'usage_source',
];

const TAG_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether `d` is a dimension a query may group by. */
export function isDimension(d: string): d is Dimension {
  if (d === 'bucket' || (DIMENSIONS as readonly string[]).includes(d)) return true;
  return d.startsWith('tag:') && TAG_NAME.test(d.slice(4));
}
