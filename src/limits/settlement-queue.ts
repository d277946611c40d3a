// Settlements on their way to the shared store for ResilientStore: sent at once and not awaited while the
// store answers (only the call's ledger row waits for the answer), kept (by reservation id) while it does
// not, and sent again once it is back. A reservation of an id that is still settling waits for that
// settlement first (see beforeReserving).
import type { SettleUsage } from './counter-store.js';
import type { SharedCounterStore } from './resilient-store.js';
import { ChurnMap } from '../util/churn-map.js';

// Settlements waiting for the store beyond this are dropped: their reservations stay charged (the safe side).
const MAX_PENDING_SETTLES = 100_000;
const SETTLE_CONCURRENCY = 64;

export class SettlementQueue {
  /** Settlements waiting for the store to answer again, by reservation id. */
  private readonly pending = new Map<string, SettleUsage>();
  /** Settlements sent and not yet answered (the value is unused). */
  private readonly settling = new ChurnMap<Promise<void>, true>();
  /** The same, by reservation id: a reservation of an id again waits for its earlier attempt's (beforeReserving). */
  private readonly settlingIds = new ChurnMap<string, Promise<void>>();

  constructor(
    private readonly primary: SharedCounterStore,
    /** Told of a failed call (the store may be down). */
    private readonly failed: (err: unknown) => void,
  ) {}

  /** Settlements waiting for the store. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Sent now; the response does not wait for it. Commands keep their order on the connection (and slot),
   * so this instance's next reserve or peek already sees the settlement. Kept to be sent again if it fails.
   * Resolves once the store has answered (or it is kept): never rejects.
   */
  send(id: string, usage: SettleUsage): Promise<void> {
    const sent: Promise<void> = this.primary
      .settle(id, usage)
      .catch((err: unknown) => {
        this.failed(err);
        this.keep(id, usage);
      })
      .finally(() => {
        this.settling.delete(sent);
        if (this.settlingIds.get(id) === sent) this.settlingIds.delete(id);
      });
    this.settling.set(sent, true);
    this.settlingIds.set(id, sent);
    return sent;
  }

  /** Kept until the store answers again (applied then, idempotently). */
  keep(id: string, usage: SettleUsage): void {
    if (this.pending.size >= MAX_PENDING_SETTLES) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.set(id, usage);
  }

  /**
   * The same id reserved again (the engine's exact retry, right after refunding the first attempt): the
   * shared store knows a reservation by its id only, so a settlement of the earlier attempt still on its
   * way, or waiting to be sent again, would be applied to this one (and the call's usage then lost). It
   * is answered, or sent now (when the store answers), first: the store binds it to the attempt open when
   * it is sent.
   */
  beforeReserving(id: string, healthy: () => boolean): Promise<void> | undefined {
    // Undefined (nothing to wait for) on the common path, so the reservation goes on without a turn.
    const earlier = this.settlingIds.get(id);
    if (earlier) return earlier.then(() => this.sendWaitingOf(id, healthy));
    this.sendWaitingOf(id, healthy);
    return undefined;
  }

  private sendWaitingOf(id: string, healthy: () => boolean): void {
    const usage = healthy() ? this.pending.get(id) : undefined;
    if (usage) {
      this.pending.delete(id);
      // Not kept again if it fails: the id names this attempt from now on. The earlier one stays charged (the safe side).
      void this.primary.settle(id, usage).catch((err: unknown) => this.failed(err));
    }
  }

  /** Resolves once every settlement sent so far has been answered (or kept for later). */
  async quiesce(): Promise<void> {
    while (this.settling.size > 0) await Promise.allSettled([...this.settling.keys()]);
  }

  /** Sends the waiting settlements, a few at a time; rejects on the first failure (the rest stay). */
  async sendWaiting(): Promise<void> {
    while (this.pending.size > 0) {
      const chunk: Array<[string, SettleUsage]> = [];
      for (const entry of this.pending) if (chunk.push(entry) >= SETTLE_CONCURRENCY) break;
      await Promise.all(chunk.map(([id, usage]) => this.primary.settle(id, usage)));
      for (const [id] of chunk) this.pending.delete(id);
    }
  }
}
