// Everything one request needs, built once per loaded policy. A config reload builds a new Gateway
// around the same counter store, so counters survive it.
import type { Policy } from '../config/policy.js';
import type { Principal } from '../auth/principal.js';
import { KeyStore } from '../auth/key-store.js';
import { RouteTable, type Target } from '../routing/route-table.js';
import { LimitsEngine } from '../limits/engine.js';
import type { CounterStore } from '../limits/counter-store.js';
import type { Provider } from '../providers/provider.js';
import { createProviders } from '../providers/registry.js';
import type { Endpoint } from '../tokens/index.js';
import type { Clock } from '../util/clock.js';
import type { Usage } from '../providers/usage.js';
import type { OwnerArchive } from './object-owners.js';
import { StoredContext } from './stored-context.js';
import { BackgroundCalls } from './background-calls.js';

/** One finished call, as the ledger, metrics and alerts will see it. */
export interface CallRecord {
  requestId: string;
  /**
   * When the call counted, epoch ms: its admission by the limits (Admission.atMs, on the counter store's
   * clock), or its arrival for a call refused before. The ledger row's time.
   */
  atMs: number;
  principal: Principal;
  target: Target;
  endpoint: Endpoint;
  stream: boolean;
  /** Free attribution tags (`x-tollgate-tags`, `metadata`). */
  tags: Record<string, string>;
  /** HTTP status sent to the client (or 499 when the client went away first). */
  status: number;
  /** Real usage settled against the limits; zero for refused or failed calls. */
  usage: Usage;
  reserved: { input: number; output: number };
  /** Ids of the limits checked. */
  limits: readonly string[];
  /** Shadow-mode limits that would have blocked the call. */
  shadowBlocked: string[];
  decision: 'admitted' | 'clamped' | 'blocked' | 'failed';
  /** The limit that blocked the call, when one did. */
  blockedBy?: string;
  latencyMs: number;
  upstreamLatencyMs?: number;
  /** The fallback taken instead of the requested call (`cache`, `model:<model_id>`), when one was. */
  fallback?: string;
  /**
   * Streams only: how the stream ended. `cut_at_limit`: the gateway ended it at the output allowance
   * (usage is what was delivered); `client_gone` / `upstream_failed`: usage is what the provider produced.
   */
  streamEnd?: 'complete' | 'cut_at_limit' | 'client_gone' | 'upstream_failed';
  /** The provider's id of the response, when it gives one the gateway reads (Responses API calls). */
  providerResponseId?: string;
}

export type CallListener = (record: CallRecord) => void;

/**
 * A request that uses no tokens and writes no ledger row, answered all the same (metrics): a Responses API
 * retrieval its provider answered, or an Anthropic token count (forwarded, or answered with the gateway's estimate).
 */
export interface TokenFreeRecord {
  principal: Principal;
  /** HTTP status sent to the client (or 499 when the client went away first). */
  status: number;
}

export type TokenFreeListener = (record: TokenFreeRecord) => void;

/** Gateway.record's answer when no record sink waits for the record. */
const ACCEPTED: Promise<void> = Promise.resolve();

export class Gateway {
  readonly keys: KeyStore;
  readonly routes: RouteTable;
  readonly engine: LimitsEngine;
  readonly providers: Map<string, Provider>;
  private readonly listeners: CallListener[] = [];
  private readonly tokenFreeListeners: TokenFreeListener[] = [];
  private inFlight = 0;
  private retiring: (() => void) | undefined;
  /**
   * Awaited by the handlers before a response completes, when set (strict ledger durability). Must
   * not reject: a sink that cannot write reports it itself.
   */
  recordSink?: (record: CallRecord) => Promise<void>;
  /**
   * Where the owners of stored responses and conversations are kept beyond the counter store (the
   * ledger), when there is one: a memory store restarted, or a Redis flushed, still knows whose each is.
   */
  ownerArchive?: OwnerArchive;

  constructor(
    readonly policy: Policy,
    store: CounterStore,
    readonly clock: Clock,
    providers?: Map<string, Provider>,
    /** Kept across config reloads (pass the previous gateway's): what stored Responses context is known. */
    readonly storedContext = new StoredContext(),
    /** Kept across config reloads too: background responses still followed to their end (background-calls.ts). */
    readonly background = new BackgroundCalls(),
  ) {
    this.keys = new KeyStore(policy.keys, () => clock.now());
    this.routes = new RouteTable(policy);
    this.engine = new LimitsEngine(policy, store, clock);
    this.providers = providers ?? createProviders(policy.providers);
  }

  /** Subscribes to finished calls (ledger, metrics, tests). Listeners must not throw or block. */
  onCall(listener: CallListener): void {
    this.listeners.push(listener);
  }

  /** Whether anyone listens; callers skip building records otherwise. */
  get hasListeners(): boolean {
    return this.listeners.length > 0 || this.recordSink !== undefined;
  }

  /** Tells every listener about a finished call. */
  emit(record: CallRecord): void {
    for (const l of this.listeners) l(record);
  }

  /** Subscribes to answered token-free requests (metrics, tests). Listeners must not throw or block. */
  onTokenFreeRequest(listener: TokenFreeListener): void {
    this.tokenFreeListeners.push(listener);
  }

  /** Tells every token-free listener about an answered token-free request. */
  emitTokenFreeRequest(record: TokenFreeRecord): void {
    for (const l of this.tokenFreeListeners) l(record);
  }

  /**
   * Tells every listener; the promise is the record sink's acceptance of the record (settled at once when
   * there is no sink). Not async itself: on every call, that layer was ~0.4 KB of garbage.
   */
  record(record: CallRecord): Promise<void> {
    this.emit(record);
    return this.recordSink ? this.recordSink(record) : ACCEPTED;
  }

  /** Requests on this gateway that have not ended. */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** A request began on this gateway (its upstream pools must stay open until it ends). */
  enter(): void {
    this.inFlight++;
  }

  /** That request ended; a retired gateway closes with its last one. */
  leave(): void {
    if (--this.inFlight === 0 && this.retiring) this.retiring();
  }

  /**
   * Closes once the requests it admitted have ended: after a config reload, a request that picked this
   * gateway may still be reading its body or waiting for its reservation, and a closed pool would
   * refuse its upstream call (a 502 for a reload).
   */
  retire(): Promise<void> {
    return new Promise<void>((resolve) => {
      // Checked again a turn later: a stream whose client just left enters again (pipeline.ts) in the same
      // 'close' event that made its request leave, until its row is recorded.
      const whenIdle = (): void => {
        setImmediate(() => {
          if (this.inFlight > 0 || this.retiring !== whenIdle) return;
          this.retiring = undefined;
          resolve(this.close());
        });
      };
      this.retiring = whenIdle;
      if (this.inFlight === 0) whenIdle();
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.providers.values()].map((p) => p.close()));
  }
}
