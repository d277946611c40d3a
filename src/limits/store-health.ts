// Whether the shared (Redis) counter store is in use, and the way back when it is not: what ResilientStore
// (resilient-store.ts) asks before each call, and what it reports after a failed one.
//
// States: up → down (first failure) → holding (answers again, local usage replayed) → up. While holding,
// fail-open-only requests keep counting locally: the other instances notice the recovery up to a reconnect
// delay later, and until they have replayed their own local usage the shared counters read too low.
// A timeout first makes the store suspect (a PING decides): only a failed PING is an outage.
import type { OnStoreError } from '../config/policy.js';
import type { LimitStoreSetting, StoreMode } from './counter-store.js';
import { isPermissionRefusal, isTimeout, isUnavailable } from './store-errors.js';
import { throttledLog } from '../util/log-throttle.js';
import { outageMessage } from './store-outage.js';

/** Longer than the reconnect backoff cap plus a probe interval, so every instance has replayed by then. */
export const RECOVERY_HOLD_MS = 2000;

/** The pino methods used (a pino logger fits). */
export interface StoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface StoreHealthOptions {
  log: StoreLog;
  /** The store URL without credentials, for logs. */
  description: string;
  defaultMode: OnStoreError;
  instances: number;
  /** How often to check a store that stopped answering. */
  probeIntervalMs?: number;
}

/** What the wrapper does at each turn of the way back. */
export interface RecoverySteps {
  /** Usage counted locally and settlements not yet sent, for the recovery log line. */
  waiting(): { replayed: number; settled: number };
  /** Sends what waits into the store; rejects on the first failure. */
  flush(): Promise<void>;
  /** Sends what still waits, in the background (usage settled during a flush, a flush that failed). */
  flushRest(): void;
  /** Back to the shared counters: local counters dropped, local calls still running placed in the store. */
  rejoin(): void;
}

export class StoreHealth {
  private state: 'up' | 'down' | 'holding' = 'up';
  private closed = false;
  /** A timeout is being confirmed by a PING. */
  private checking = false;
  private holdTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private limitSettings: (() => LimitStoreSetting[]) | undefined;
  private readonly listeners: Array<(mode: StoreMode) => void> = [];
  private lastUsageErrorLog = 0;
  /** The last reason logged for this outage, so that a probe refused every 200 ms for the same reason says it once. */
  private downReason: string | undefined;
  // A false alarm is no outage and says nothing else, yet the calls that waited on it followed on_store_error.
  private readonly falseAlarmLog = throttledLog(5000);

  constructor(
    private readonly store: { ping(): Promise<void> },
    private readonly opts: StoreHealthOptions,
    private readonly steps: RecoverySteps,
  ) {}

  /** The mode in force for a limit whose own setting is `onStoreError` (per-limit overrides). */
  modeFor(onStoreError: OnStoreError): StoreMode {
    if (this.state === 'up' || (this.state === 'holding' && onStoreError === 'fail_closed')) return 'ok';
    return onStoreError;
  }

  get mode(): StoreMode {
    return this.modeFor(this.opts.defaultMode);
  }

  /** The store is used (up, or holding after an outage). */
  get healthy(): boolean {
    return this.state !== 'down';
  }

  /** Back after an outage, fail-open limits still counted locally until every instance has replayed. */
  get holding(): boolean {
    return this.state === 'holding';
  }

  /** Up, and no timeout in doubt: local counters of an earlier scare are over. */
  get settled(): boolean {
    return this.state === 'up' && !this.checking;
  }

  /** True while the store is down: the probe pings it, and its ping checks the user's commands too. */
  get probing(): boolean {
    return !this.healthy && !this.closed;
  }

  onModeChange(listener: (mode: StoreMode) => void): void {
    this.listeners.push(listener);
  }

  /** The configured limits (read at each transition), so the outage log line names those that fail open and closed. */
  describeLimits(limits: () => LimitStoreSetting[]): void {
    this.limitSettings = limits;
    // Down since start-up: the first line could not name them.
    if (this.state !== 'down') return;
    const { msg, ...fields } = this.outageLine();
    if (fields.fail_open) this.opts.log.warn({ store: this.opts.description, mode: this.opts.defaultMode, ...fields }, msg);
  }

  /** Starts degraded (probing in the background) when the store did not answer at start-up. */
  startDegraded(why: string): void {
    this.markDown(new Error(why));
  }

  /**
   * The store answers but cannot count (its user may not run a command it needs): unavailable until the
   * probe finds otherwise. Said even when it already is: its outage line gave the reason it did not answer.
   */
  markUnavailable(why: string): void {
    if (this.healthy) return this.markDown(new Error(why));
    this.downReason = why;
    this.opts.log.warn({ store: this.opts.description, error: why }, 'counter store answers but cannot count: still unavailable');
  }

  /** A call to the store failed: a timeout makes it suspect, a lost connection down, anything else is logged. */
  failed(err: unknown): void {
    if (isTimeout(err)) return this.confirm(err);
    if (isUnavailable(err)) return this.markDown(err);
    // A malformed call (a bug): this request follows its mode, the store stays in use. Logged at most every 10 s.
    const now = Date.now();
    if (now - this.lastUsageErrorLog > 10_000) {
      this.lastUsageErrorLog = now;
      this.opts.log.warn({ store: this.opts.description, error: (err as Error).message }, 'counter store refused a call');
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
    clearTimeout(this.holdTimer);
  }

  /**
   * One timeout is not enough to give up on the store: a stalled event loop (GC, a busy machine) fires
   * timers before reading replies that have arrived. A PING, bounded by the same timeout, decides.
   */
  private confirm(err: unknown): void {
    if (!this.healthy || this.checking) return;
    this.checking = true;
    this.store.ping().then(
      () => {
        this.checking = false;
        if (this.state === 'down') return; // the probe replays once it answers
        this.falseAlarmLog((falseAlarms) =>
          this.opts.log.warn(
            { store: this.opts.description, falseAlarms, error: (err as Error).message },
            'a counter store command timed out (storage.timeout_ms), yet the store answered a PING right after: not an outage, but the calls that waited on it followed on_store_error (limits that fail closed answered 503 store_unavailable)',
          ),
        );
        // A false alarm: what was admitted locally meanwhile is replayed (and remembered for the next
        // outage's seed), the local counters are dropped, and cancels of lost reservations are sent.
        // While holding, the local counters stay until the hold ends; a replay or cancel whose timeout
        // led here is sent again now: nothing else would send it once the hold is over.
        if (this.state === 'up') this.steps.rejoin();
        this.steps.flushRest();
      },
      () => {
        this.checking = false;
        this.markDown(err);
      },
    );
  }

  private markDown(err: unknown): void {
    if (!this.healthy || this.closed) return;
    // The wrapper keeps its local counters: they already hold what was admitted locally while the timeout
    // that led here was being confirmed (or, down again while holding, this outage's usage). A share is
    // never handed out twice in one outage.
    clearTimeout(this.holdTimer);
    const before = this.mode;
    this.state = 'down';
    const { msg, ...fields } = this.outageLine();
    this.downReason = (err as Error).message;
    this.opts.log.warn({ store: this.opts.description, mode: this.opts.defaultMode, ...fields, error: this.downReason }, msg);
    if (this.mode !== before) this.emit();
    this.scheduleProbe();
  }

  /** The outage log line, naming the limits on each side when overrides mix the modes. */
  private outageLine(): ReturnType<typeof outageMessage> {
    let settings: LimitStoreSetting[] | undefined;
    try {
      settings = this.limitSettings?.();
    } catch {
      settings = undefined; // a log line never breaks the switch
    }
    return outageMessage(settings, this.opts.defaultMode, this.opts.instances);
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.opts.probeIntervalMs ?? 200);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    if (this.closed) return;
    try {
      await this.store.ping();
      const { replayed, settled } = this.steps.waiting();
      await this.steps.flush();
      const before = this.mode;
      this.state = 'holding';
      this.opts.log.info(
        { store: this.opts.description, replayed, settled, holdMs: RECOVERY_HOLD_MS },
        'counter store reachable again: local usage reconciled; fail_open limits rejoin the shared counters once every instance has had time to reconcile',
      );
      if (this.mode !== before) this.emit();
      // Local requests that finished during the flush wait for no one.
      this.steps.flushRest();
      this.holdTimer = setTimeout(() => this.endHold(), RECOVERY_HOLD_MS);
      this.holdTimer.unref();
    } catch (err) {
      // Answers, but its user may not run what the counters need: said once per reason, as markUnavailable does.
      if (isPermissionRefusal(err) && (err as Error).message !== this.downReason) this.markUnavailable((err as Error).message);
      this.scheduleProbe();
    }
  }

  private endHold(): void {
    if (this.state !== 'holding') return;
    const before = this.mode;
    this.state = 'up';
    this.steps.rejoin();
    if (this.mode !== before) this.emit();
    // Whatever still waits (a flush that failed during the hold) leaves now, not at the next scare.
    this.steps.flushRest();
  }

  private emit(): void {
    for (const l of this.listeners) l(this.mode);
  }
}
