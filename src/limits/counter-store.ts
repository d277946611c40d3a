// The counter-store interface: one atomic multi-limit reservation and one settlement per request.
// Implementations (memory, Redis) only keep counters; the decision rule lives in admission.ts.
import type { Algorithm, LimitMode, OnStoreError, WindowSpec } from '../config/policy.js';

/** How much one request adds to a limit: weights per input token, per output token, and per request. */
export interface Weights {
  input: number;
  output: number;
  request: number;
}

/** One limit as the store sees it: a counter key, a rule and weights. */
export interface CounterItem {
  key: string;
  algorithm: Algorithm;
  window: WindowSpec;
  max: number;
  weights: Weights;
  mode: LimitMode;
  /** While a shared store is unreachable: refuse, or count locally. Undefined follows `storage.on_store_error`. */
  onStoreError?: OnStoreError;
  /** A money limit: its weights are the configured price, scaled for each call by the call's PriceFactors. */
  priced?: true;
}

/**
 * What the provider bills one call against the configured price, per input and per output token: a
 * priority service tier costs more, prompt-cache reads less and cache writes more. Money limits
 * (`priced` items) multiply their input and output weights by these; token limits ignore them.
 */
export interface PriceFactors {
  input: number;
  output: number;
}

export interface ReserveRequest {
  /** Unique per request; settlement refers to it. */
  id: string;
  items: CounterItem[];
  /** Estimated input tokens. */
  input: number;
  /** Output allowance the client asked for. */
  output: number;
  /** Lower output to the room left instead of refusing. */
  clamp: boolean;
  /** Smallest output allowance worth forwarding when clamping. */
  minOutput: number;
  /** What the call may be billed at (absent: the configured price). */
  factors?: PriceFactors;
  /**
   * Budget leases (leased-store.ts): after counters a shared store lost are rebuilt from the ledger, its
   * reservations still open are placed again as they were made, but the ledger already holds what was
   * settled of a lease. `input()` says how much of it to place; `placed` is told once that is sent (a
   * settlement made after it reaches the store after it).
   */
  placeAgain?: { input(): number; placed(input: number): void };
}

/** A limit's state as seen by a reservation (after it, when admitted). */
export interface LimitState {
  used: number;
  max: number;
  /** When the limit next has room again (window end, or bucket refill time), epoch ms. */
  resetAtMs: number;
  /**
   * Sliding windows on a refusal (memory and Redis stores; the local fail-open counters too): the amounts still counted,
   * each with the time its slot leaves the window, oldest first. Lets a 429 say when this request fits
   * rather than only when the oldest slot leaves.
   */
  leaving?: Array<{ atMs: number; amount: number }>;
  /** A token bucket that drains other than `max` per window: a fail-open instance's local share of it. */
  drainPerWindow?: number;
}

export type ReserveOutcome =
  | {
      ok: true;
      /** The output allowance granted: the request's, or less when clamped. */
      output: number;
      states: LimitState[];
      /** Indexes of shadow-mode items that would have blocked. */
      shadowBlocked: number[];
      /**
       * A shared store that answered itself (not local counters standing in for it): its own time when it
       * admitted (Redis TIME), which budget leases (leased-store.ts) measure window and slot ends from.
       */
      storeTimeMs?: number;
    }
  | {
      ok: false;
      /** Indexes of enforced items without room, at least one. */
      blocked: number[];
      states: LimitState[];
      shadowBlocked: number[];
    };

/** Real usage to settle a reservation with. `request: 0` refunds the request count too (failed upstream call). */
export interface SettleUsage {
  input: number;
  output: number;
  request: 0 | 1;
  /** What the call was billed at (absent: the configured price). */
  factors?: PriceFactors;
  /**
   * The call's ledger row follows this settlement (Engine.settleCall); a refund's does not. The row waits
   * for the shared store's answer to the settlement, and a call admitted locally for the rebuilds of its
   * lost counters under way (rowAfter).
   */
  rowFollows?: true;
}

/** Budget leases (leased-store.ts) since start, and now. */
export interface LeaseStats {
  /** Requests admitted against a lease, without a round trip to the store. */
  localAdmissions: number;
  /** Leases the store granted. */
  granted: number;
  /** Leases held now (not yet handed back). */
  open: number;
}

/** `ok`: the store answers; otherwise the `storage.on_store_error` mode in force while it does not. */
export type StoreMode = 'ok' | 'fail_open' | 'fail_closed';

/** A configured limit (`project:web:daily`, `tier:free:rate`, ...) and its own store-error setting, for logs and metrics. */
export interface LimitStoreSetting {
  id: string;
  mode: LimitMode;
  /** Undefined follows `storage.on_store_error`. */
  onStoreError?: OnStoreError;
}

/** One counter to rebuild (CounterStore.restore). */
export interface RestoreEntry {
  item: CounterItem;
  /** What the counter should hold now, at least. */
  used: number;
  /**
   * Sliding windows: the usage per slot (each slot's start, ms), so each slot is raised to at least its
   * own figure and leaves the window when its usage does. Without it, `used` lands in the current slot
   * and counts for a whole window from now (a day-long window would count yesterday's usage until tomorrow).
   */
  slots?: Array<{ atMs: number; used: number }>;
  /**
   * Fixed windows: `used` is settled usage (the ledger's figure, plus what this instance's calls in flight
   * hold that the store does not count itself: CounterStore.restoreHeld). A store that keeps reservations
   * in flight apart (Redis: lua-held-index.ts) compares it with the counter less what they hold, any
   * instance's; others compare it with the whole counter. A sliding window's `kept` total is settled usage too.
   */
  settled?: boolean;
  /**
   * With `settled` (or a sliding window's `kept`): the ledger's figure plus everything this instance's calls
   * in flight hold (`held`), for a store that cannot tell reservations in flight apart this time (Redis:
   * an organization with more than MAX_HELD_READ calls in flight) and compares with the whole counter.
   */
  wholeUsed?: number;
  /**
   * With `settled` (or a sliding window's `kept`): calls the store may still hold as in flight whose rows are
   * in the ledger's figure already, by reservation id, and what each adds to this counter (held-in-ledger.ts).
   */
  counted?: Array<{ id: string; amount: number }>;
  /**
   * Sliding windows with `slots`, into a store that kept its counters: raised by no more than the window's
   * total falls short of `used`, the slots below their figure filled newest first and any rest counted
   * from now. A call may sit one slot off between the ledger and the store (rebuild-counters.ts): a slot
   * short by it while the next holds it is no loss. A counter with nothing in it (a limit a reload added)
   * still gets every slot back where it was.
   */
  kept?: boolean;
  /**
   * Fixed windows: the start of the window `used` was counted in. Restored only while that window is the
   * current one: a rebuild that read the ledger before an edge (23:59:59 on the 31st) and reaches the store
   * after it (or an instance clock behind Redis TIME) put the month that ended into the new month's counter.
   */
  windowStartMs?: number;
}

/**
 * Who a response stored at the provider (Responses API) belongs to: the Tollgate project that created it
 * (all tenants share the gateway's provider key, so the provider cannot tell them apart) and the
 * provider that holds it, which its retrieval goes to.
 */
/** Conversation ids (`conv_...`) are recorded beside response ids, apart from them. */
export function isConversationId(id: string): boolean {
  return id.startsWith('conv_');
}

export interface ResponseOwner {
  organization: string;
  /** Absent for a key that names no project: such responses belong to the organization's project-less keys. */
  project?: string;
  provider: string;
  /**
   * Input tokens a follow-up (`previous_response_id`) brings in from this response: its call's input plus
   * output. Kept beside the owner so that any instance reserves the real size, not the allowance for
   * context it did not see created.
   */
  contextTokens?: number;
}

/** Reservations a shared store notes as in flight (CounterStore.heldCalls). */
export interface HeldCalls {
  /** By reservation id, with the keys of the counters each holds. */
  calls: Array<{ id: string; keys: string[] }>;
  /** The earliest time any of them can have been made. */
  sinceMs: number;
}

/** Every method reports a failure by rejecting, never by throwing (LimitsEngine relies on it). */
export interface CounterStore {
  /** Atomically checks every item and reserves all of them, or none. */
  reserve(req: ReserveRequest): Promise<ReserveOutcome>;
  /**
   * Replaces a reservation's amounts with real usage. Settling twice, or an unknown id, is a no-op.
   * A shared store may resolve before the settlement is applied; it still counts as open until then.
   */
  settle(id: string, usage: SettleUsage): Promise<void>;
  /**
   * Raises counters to at least `used` in the window containing now (rebuilding from the ledger after
   * the store lost its state). Idempotent: restoring the same figures twice, or from several
   * instances at once, never double-counts, because it takes the larger of the two values.
   */
  restore(entries: RestoreEntry[]): Promise<void>;
  /** Current state of the given items, without changing them. */
  peek(items: CounterItem[]): Promise<LimitState[]>;
  /**
   * Shared stores only: while the store is unreachable, the local counters limits that fail open are
   * admitted against (the whole limit, this instance's room left), undefined for the others. For the
   * headroom gauges, which `peek` (failing at once during an outage) would leave empty.
   */
  peekDegraded?(items: CounterItem[]): Promise<Array<LimitState | undefined>>;
  /** Reservations not yet settled. */
  openReservations(): Promise<number>;
  /**
   * Remembers who owns provider response `id` for `ttlMs` (shared by every instance on a shared store).
   * Recording it again replaces the record. Conversations (`conv_...` ids) are recorded here too.
   */
  recordResponse(id: string, owner: ResponseOwner, ttlMs: number): Promise<void>;
  /** The owner recorded for response `id`, or undefined when none is (never recorded, expired or forgotten). */
  responseOwner(id: string): Promise<ResponseOwner | undefined>;
  /**
   * Adds `tokens` to the size recorded for `id` and keeps the record `ttlMs` from now, in one step: two
   * instances adding items to one conversation at once each add theirs (a read, then a write, kept one).
   * A record without a size, or none, is left as it is.
   */
  growResponse(id: string, tokens: number, ttlMs: number): Promise<void>;
  /**
   * What this instance's reservations not yet settled hold of each item now, in the item's unit: in the
   * counters, not yet in the ledger (the audit subtracts it). Other instances' are not known here.
   */
  held?(items: CounterItem[]): Promise<number[]>;
  /**
   * The part of `held` that `restore` does not count by itself, which a rebuild adds to the ledger's figure
   * (absent: all of `held`). A shared store that keeps what every instance's reservations hold apart from
   * settled usage (Redis: lua-held-index.ts) counts those itself, other instances' too.
   */
  restoreHeld?(items: CounterItem[]): Promise<number[]>;
  /**
   * A store that keeps what every instance's reservations in flight hold (Redis): those of `organizations`,
   * by reservation id with the keys of the counters each holds, and the earliest time any of them can have
   * been made.
   */
  heldCalls?(organizations: string[]): Promise<HeldCalls>;
  /**
   * What every instance's reservations in flight hold of each item now, as far as the store keeps it apart
   * (Redis: all but budget leases and token buckets); `restoreHeld` is the rest, this instance's own.
   */
  heldInStore?(items: CounterItem[]): Promise<number[]>;
  close(): Promise<void>;
  /**
   * Shared stores only (absent means always `ok`): the mode in force for limits that follow
   * `storage.on_store_error`, for the `tollgate_counter_store_mode` gauge.
   */
  readonly mode?: StoreMode;
  /** Shared stores only: the mode in force for a limit whose own setting is `onStoreError` (shadow limits: `fail_open`). */
  modeFor?(onStoreError: OnStoreError): StoreMode;
  /** With budget leases (`storage.lease_ms`): how they are used, for the metrics. */
  leaseStats?(): LeaseStats;
  /**
   * Shared stores that fail open: told by budget leases above them how much of a limit this instance holds
   * in slices, which go on admitting through an outage. Its local share leaves that much to them (outage-counters.ts).
   */
  countLeasedSlices?(slicesOf: (item: CounterItem) => number): void;
  /** Shared stores only: calls `listener` on every change of `mode` (recovery included). */
  onModeChange?(listener: (mode: StoreMode) => void): void;
  /** Shared stores only: the configured limits, so the outage log line can say which fail open and which fail closed. */
  describeLimits?(limits: () => LimitStoreSetting[]): void;
  /**
   * Shared stores only: marks `organizations`' counters as present now (call right after rebuilding them),
   * and from then on runs `rebuild` before admitting anything for an organization whose counters the store
   * has lost (a flushed or restarted Redis), so losing them never hands out a fresh budget.
   */
  rebuildWhenLost?(organizations: string[], rebuild: () => Promise<void>): Promise<void>;
  /**
   * What the ledger row of call `id`, just settled, waits for before it is written (rows-after-rebuild.ts):
   * a call admitted against fail-open local counters, whose usage is replayed after the rebuilds of its
   * lost counters under way, or one whose settlement lands after a rebuild that reads the ledger now, must
   * not also be in what they read. Undefined: written at once.
   */
  rowAfter?(id: string): Promise<void> | undefined;
  /**
   * Resolves once the rows of calls that ended and wait only for their settlement's answer (rowAfter) have
   * been handed to the ledger's writer: the dashboard and the audit flush after it, so they see a call
   * answered just before. Bounded by the store's command timeout.
   */
  settlingRows?(): Promise<void>;
  /**
   * The gateway is stopping: from now on no row waits (rowAfter), since every call's row must reach the
   * ledger before it closes.
   */
  stopping?(): void;
  /**
   * Shared stores only: whether the store still holds every one of `organizations`' counters (each one's
   * presence marker is there), so a gateway (re)starting on it need not wait for their rebuild from the
   * ledger. False when it cannot tell (the store does not answer).
   */
  holdsCounters?(organizations: string[]): Promise<boolean>;
}
