// The gateway's own sections (SPEC §8): server, storage, enforcement, providers and pricing.
import * as z from 'zod';
import { corsOriginsSchema } from './cors-origins.js';
import { onStoreErrorSchema } from './limit-schemas.js';
import { headerValueProblem } from './header-value.js';
import { isListenHost } from './listen-host.js';
import { nameSchema, providerModelSchema } from './name-schema.js';
import { secretSchema } from './secret-schema.js';
import { decodes, parseSentinelUrl, PERCENT_ENCODE, SENTINEL_SCHEME } from './sentinel-url.js';
import { tlsSettingsProblem } from '../ledger/libpq-tls.js';
import { isTimeZone } from '../util/time-zone.js';
import { timeZoneMeant } from './time-zone-hint.js';

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** `server`: where the gateway listens and how it reads calendar windows. */
export const serverSchema = z.strictObject({
  host: z
    .string()
    .refine(isListenHost, { message: 'expected a host name or an IP address, such as `127.0.0.1`, `0.0.0.0`, `::` or `localhost`' })
    .default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(4000),
  admin_key: secretSchema.optional(),
  timezone: z
    .string()
    .superRefine((tz, ctx) => {
      if (isTimeZone(tz)) return;
      const meant = timeZoneMeant(tz);
      const hint = meant === undefined ? '' : ` (did you mean \`${meant}\`?)`;
      ctx.addIssue({ code: 'custom', message: `\`${tz}\` is not a time zone${hint}; use an IANA name such as \`UTC\` or \`Europe/Paris\`` });
    })
    .default('UTC'),
  // Unset: each endpoint takes what its provider takes (32 MiB on Anthropic's, 80 MiB on OpenAI's: proxy/body-limits.ts).
  max_body_bytes: z.number().int().positive().optional(),
  // Rolling restarts (stop-gateway.ts): after SIGTERM, serve on this long while load balancers see /healthz fail.
  drain_delay_ms: z.number().int().nonnegative().max(3_600_000).default(0),
  // Then in-flight requests and streams get this long to finish before their connections are cut.
  drain_timeout_ms: z.number().int().positive().max(3_600_000).default(30_000),
  // Browser apps on these origins may call the proxied API (proxy/cors.ts); none by default.
  cors_origins: corsOriginsSchema,
});

// Store URLs can carry passwords, so these messages never repeat the value.
const COUNTERS = /^(memory|(redis|rediss|redis-cluster|rediss-cluster|redis-sentinel|rediss-sentinel):\/\/\S+)$/;
// A SQLite path may hold spaces (`Application Support`), though not start with one (`sqlite: ./x`).
const LEDGER = /^(sqlite:\S.*|(postgres|postgresql):\/\/\S+)$/;

/** What is wrong with a Redis or PostgreSQL URL that has the right scheme, without repeating it (it may hold a password). */
export function storeUrlProblem(text: string): string | undefined {
  if (text === 'memory' || text.startsWith('sqlite:')) return undefined;
  if (SENTINEL_SCHEME.test(text)) {
    const sentinel = parseSentinelUrl(text);
    return 'problem' in sentinel ? sentinel.problem : undefined;
  }
  // The drivers decode the user name and password, and stopped the gateway at start on a bad escape.
  const userInfo = /^[a-z][a-z0-9+.-]*:\/\/([^@/?#]*)@/i.exec(text)?.[1];
  if (userInfo !== undefined && !decodes(userInfo)) return `holds a malformed %-escape; ${PERCENT_ENCODE}`;
  const cluster = /^rediss?-cluster:\/\/(?:[^@/]*@)?([^/?#]*)/.exec(text);
  if (cluster) {
    for (const node of cluster[1]!.split(',')) {
      const at = node.lastIndexOf(':');
      const port = at > 0 ? node.slice(at + 1) : '6379';
      if (at === 0 || node === '') return `a cluster node needs host:port (${PERCENT_ENCODE})`;
      if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `a cluster node's port must be a number from 1 to 65535`;
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `is not a valid URL: check the host and the port (1 to 65535); ${PERCENT_ENCODE}`;
  }
  if (url.hostname === '') return 'names no host';
  if (url.port === '0') return 'port 0 is not a port to connect to; use 1 to 65535';
  if (url.protocol.startsWith('redis') && !/^\/?(\d+)?$/.test(url.pathname)) return 'the database after the port must be a number, e.g. `redis://host:6379/2`';
  if (url.protocol.startsWith('postgres')) return tlsSettingsProblem(url);
  return undefined;
}

/** `schema` (whose regex checks the scheme), then the URL itself once the scheme is right. */
function storeUrl(schema: z.ZodString, scheme: RegExp): z.ZodType<string> {
  return schema.superRefine((text, ctx) => {
    const problem = scheme.test(text) ? storeUrlProblem(text) : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/**
 * The longest wait a Node timer can hold (2^31 - 1 ms, 24.8 days): past it a timer fires after 1 ms. A
 * background response is followed for about `reservation_ttl_ms` on one, so a longer TTL gave up on every one at once.
 */
export const LONGEST_TIMER_MS = 2_147_483_647;

/**
 * Headers the gateway's HTTP client (undici) sets for each request itself and refuses from anyone else:
 * configured, every call through the provider failed with a 502 before anything was sent (review s39).
 */
const CLIENT_SET_HEADERS = new Set(['content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect']);
const CLIENT_SET_MESSAGE = "is set by the gateway's HTTP client for each request (the body's length, the connection) and cannot be configured: remove it";

/** `storage`: where counters and the ledger live. */
export const storageSchema = z.strictObject({
  counters: storeUrl(
    z.string().regex(COUNTERS, {
      message:
        'expected `memory`, `redis://host:port[/db]`, `rediss://host:port[/db]`, `redis-cluster://host:port[,host:port...]` or `redis-sentinel://host:port[,host:port...]/<master name>[/db]` (`rediss-cluster://`, `rediss-sentinel://` for TLS)',
    }),
    COUNTERS,
  ).default('memory'),
  ledger: storeUrl(
    z.string().regex(LEDGER, { message: 'expected `sqlite:<path>` (e.g. `sqlite:./data/tollgate.db`) or `postgres://user@host:5432/db` (`postgresql://` also works)' }),
    LEDGER,
  ).default('sqlite:./data/tollgate.db'),
  on_store_error: onStoreErrorSchema.default('fail_closed'),
  // Bounds how long a request can wait on Redis before `on_store_error` applies.
  timeout_ms: z.number().int().positive().max(60_000).default(250),
  // Bounds how long a request waits for counters Redis lost to be rebuilt from the ledger (the rebuild goes on).
  rebuild_wait_ms: z.number().int().positive().max(600_000).default(2000),
  instances: z.number().int().positive().max(10_000).default(1),
  reservation_ttl_ms: z.number().int().positive().max(LONGEST_TIMER_MS).optional(),
  // Budget leases (limits/leased-store.ts): 0 sends every request to the shared store.
  lease_ms: z.number().int().nonnegative().max(60_000).default(0),
  // How often each gateway reads the keys made through the admin API (auth/key-ring.ts) from the ledger.
  key_refresh_ms: z.number().int().min(100).max(600_000).default(5000),
}).superRefine((s, ctx) => {
  // A lease is a reservation: its record must outlive it, or the unused part could never be handed back.
  if (s.reservation_ttl_ms !== undefined && s.lease_ms * 2 > s.reservation_ttl_ms) {
    ctx.addIssue({ code: 'custom', path: ['lease_ms'], message: `must be at most half of \`reservation_ttl_ms\` (${s.reservation_ttl_ms})` });
  }
});

/** `enforcement`: how output allowances are reserved and clamped. */
export const enforcementSchema = z
  .strictObject({
    clamp_max_tokens: z.boolean().default(true),
    default_max_tokens: z.number().int().positive().default(4096),
    // OpenAI: "reserve at least 25,000 tokens for reasoning and outputs" when starting with these models.
    reasoning_default_max_tokens: z.number().int().positive().default(25_000),
    min_output_tokens: z.number().int().positive().default(1),
    stored_context_tokens: z.number().int().nonnegative().default(128_000),
  })
  .superRefine((e, ctx) => {
    // Run even when a field failed its own check: a `default_max_tokens: 0` is reported there, not again here.
    if (e.default_max_tokens >= 1 && e.min_output_tokens > e.default_max_tokens) {
      ctx.addIssue({ code: 'custom', path: ['min_output_tokens'], message: 'must not exceed `default_max_tokens`' });
    }
    if (e.reasoning_default_max_tokens >= 1 && e.min_output_tokens > e.reasoning_default_max_tokens) {
      ctx.addIssue({ code: 'custom', path: ['min_output_tokens'], message: 'must not exceed `reasoning_default_max_tokens`' });
    }
  });

function hasUserInfo(text: string): boolean {
  try {
    const url = new URL(text);
    return url.username !== '' || url.password !== '';
  } catch {
    return false;
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// Sent upstream as a header (api_key as `Authorization`/`x-api-key`): a character undici refuses would fail every call.
const headerValueSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = headerValueProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/** `providers.<name>`: an upstream API. */
export const providerSchema = z
  .strictObject({
    type: z.enum(['openai', 'anthropic', 'mock']),
    base_url: z
      .string()
      .refine(isHttpUrl, { message: 'expected an http:// or https:// URL' })
      // Only the origin and path reach the upstream: credentials written as user:password@ would silently not be sent.
      .refine((url) => !hasUserInfo(url), { message: 'credentials in the URL (user:password@) are not sent upstream: use `api_key`, or `headers` (e.g. `authorization: Basic ...`)' })
      // As for storage URLs: every call to it would fail to connect.
      .refine((url) => !isHttpUrl(url) || new URL(url).port !== '0', { message: 'port 0 is not a port to connect to; use 1 to 65535' })
      .optional(),
    api_key: headerValueSchema.min(1).optional(),
    headers: z
      .record(
        z
          .string()
          .regex(HEADER_NAME, { message: 'not a valid HTTP header name' })
          .refine((name) => !CLIENT_SET_HEADERS.has(name.toLowerCase()), { message: CLIENT_SET_MESSAGE }),
        headerValueSchema,
      )
      .default({}),
    timeout_ms: z.number().int().positive().default(600_000),
    // false: streams are not asked for their usage (`stream_options`), for servers that refuse the field.
    stream_usage: z.boolean().optional(),
    // The tier the OpenAI project serves a call that names none (or `auto`) at: its "default service tier" setting.
    default_service_tier: z.enum(['default', 'priority']).optional(),
    latency_ms: z.number().int().nonnegative().optional(),
    output_tokens: z.number().int().positive().optional(),
  })
  .superRefine((p, ctx) => {
    for (const field of ['latency_ms', 'output_tokens'] as const) {
      if (p[field] !== undefined && p.type !== 'mock') {
        ctx.addIssue({ code: 'custom', path: [field], message: `\`${field}\` applies only to providers of type mock` });
      }
    }
    if (p.default_service_tier !== undefined && p.type === 'anthropic') {
      ctx.addIssue({ code: 'custom', path: ['default_service_tier'], message: '`default_service_tier` applies only to providers of type openai (and mock)' });
    }
    if (p.stream_usage !== undefined && p.type !== 'openai') {
      ctx.addIssue({ code: 'custom', path: ['stream_usage'], message: '`stream_usage` applies only to providers of type openai' });
    }
  });

/** `pricing`: USD per million tokens, keyed by `provider/model`. */
export const pricingSchema = z.record(
  providerModelSchema,
  z.strictObject({
    input: z.number().nonnegative(),
    output: z.number().nonnegative(),
    cached_input: z.number().nonnegative().optional(),
    // Prompt-cache writes, for a model the built-in list lacks (a deployment name) or a negotiated rate.
    cache_write: z.number().nonnegative().optional(),
    cache_write_1h: z.number().nonnegative().optional(),
    audio_input: z.number().nonnegative().optional(),
    audio_output: z.number().nonnegative().optional(),
    long_context: z
      .strictObject({
        above_input_tokens: z.number().int().positive(),
        input: z.number().nonnegative(),
        output: z.number().nonnegative(),
        cached_input: z.number().nonnegative().optional(),
      })
      .optional(),
    // USD per 1,000 calls of a server-side tool, instead of the built-in list's (list-prices.ts TOOL_CALL_PRICES).
    tool_calls: z
      .strictObject({
        web_search: z.number().nonnegative().optional(),
        web_search_preview: z.number().nonnegative().optional(),
        file_search: z.number().nonnegative().optional(),
      })
      .optional(),
    // Anthropic fast mode's multiplier of every rate, instead of the built-in list's (list-prices.ts FAST_FACTORS).
    fast_factor: z.number().positive().optional(),
  }),
);

/** `providers`: keyed by the name used in route models (`<name>/model`). */
export const providersSchema = z.record(nameSchema, providerSchema);
