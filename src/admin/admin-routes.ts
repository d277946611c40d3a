// The admin HTTP API: the usage dashboard and the counter audit. Registered on the gateway's server
// through `buildServer({ routes })`; every route needs the admin key.
import type { FastifyInstance } from 'fastify';
import type { Policy } from '../config/policy.js';
import { TollgateError } from '../errors/tollgate-error.js';
import { buildDashboard, DEFAULT_BREAKDOWN_TOP, MAX_BREAKDOWN_TOP } from '../analytics/dashboard.js';
import { auditCounters } from '../ledger/audit.js';
import type { LedgerWriter } from '../ledger/batch-writer.js';
import type { Ledger } from '../ledger/ledger.js';
import { PriceBook } from '../ledger/price-book.js';
import type { CounterStore } from '../limits/counter-store.js';
import { requireAdmin } from './admin-auth.js';
import { StoreUnavailableError } from '../limits/store-errors.js';
import { withTimeout } from '../util/with-timeout.js';

/** What the admin routes read: the current policy (it changes on reload), the ledger and the counters. */
export interface AdminContext {
  policy: () => Policy;
  ledger: Ledger;
  /** Flushed first, so reports include every finished call. */
  writer?: LedgerWriter;
  store: CounterStore;
  now: () => number;
}

/** Registers `GET /api/tokens/dashboard` and `GET /api/audit`. */
export function adminRoutes(ctx: AdminContext): (app: FastifyInstance) => void {
  return (app) => {
    app.get<{ Querystring: { org?: string | string[]; top?: string | string[] } }>('/api/tokens/dashboard', async (req) => {
      const policy = ctx.policy();
      requireAdmin(policy.server.adminKeySha256, req);
      const org = single(req.query, 'org') ?? (policy.organizations.size === 1 ? [...policy.organizations.keys()][0] : undefined);
      if (!org || !policy.organizations.has(org)) {
        const known = [...policy.organizations.keys()].join(', ');
        throw new TollgateError('invalid_request', { detail: `Name a configured organization with ?org=<id> (known: ${known}).` });
      }
      const top = breakdownTop(single(req.query, 'top'));
      return fromLedger(async () => {
        // Within the report's bound, and shorter: a locked or frozen database held the flush for up to two
        // write timeouts before the report's own 10 s began (25 s to a 503). A flush that fails or takes
        // longer still reports what is written (a table locked against writes may still be read).
        if (ctx.writer) await withTimeout(rowsOfEndedCalls(ctx), DASHBOARD_FLUSH_WAIT_MS, 'flush not done').catch(() => {});
        return buildDashboard(ctx.ledger, policy, new PriceBook(policy.pricing), org, ctx.now(), top);
      });
    });

    app.get('/api/audit', async (req) => {
      const policy = ctx.policy();
      requireAdmin(policy.server.adminKeySha256, req);
      // Every finished call's row first, before each reading: the audit compares them with the counters.
      return fromLedger(() => auditCounters(ctx.ledger, policy, ctx.store, ctx.now, { beforeLedger: () => rowsOfEndedCalls(ctx) }));
    });
  };
}

/**
 * Every ended call's row written: those waiting for their settlement's answer handed to the writer first
 * (a row follows its settlement: rows-after-rebuild.ts), then the writer flushed.
 */
async function rowsOfEndedCalls(ctx: AdminContext): Promise<void> {
  await ctx.store.settlingRows?.();
  await ctx.writer?.flush();
}

/** A query parameter given at most once (a repeated one arrives as an array): said so, not taken for an unknown value. */
function single<K extends string>(query: Partial<Record<K, string | string[]>>, name: K): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new TollgateError('invalid_request', { detail: `Give ?${name}= once; it was given ${value.length} times.` });
  return value;
}

/** `?top=`: how many entries each breakdown lists (the rest are summed in one), a whole number up to MAX_BREAKDOWN_TOP. */
function breakdownTop(value: string | undefined): number {
  if (value === undefined) return DEFAULT_BREAKDOWN_TOP;
  const top = /^[0-9]{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(top >= 1 && top <= MAX_BREAKDOWN_TOP)) {
    throw new TollgateError('invalid_request', { detail: `top must be a whole number from 1 to ${MAX_BREAKDOWN_TOP} (the default is ${DEFAULT_BREAKDOWN_TOP}).` });
  }
  return top;
}

/** How long the dashboard waits for the rows of calls already finished before it reads the ledger. */
const DASHBOARD_FLUSH_WAIT_MS = 3000;

/** A report the database has not answered within this is a 503, as ledger writes time out too. */
const REPORT_TIMEOUT_MS = 10_000;

/** Runs a report on the ledger; a database that fails or does not answer is a 503 saying so, not a 500 or a hang. */
async function fromLedger<T>(report: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(report(), REPORT_TIMEOUT_MS, `no answer within ${REPORT_TIMEOUT_MS / 1000} s`);
  } catch (err) {
    if (err instanceof TollgateError) throw err;
    // The audit also reads the counters.
    if (err instanceof StoreUnavailableError) throw new TollgateError('store_unavailable');
    throw new TollgateError('ledger_unavailable', { detail: (err as Error).message });
  }
}
