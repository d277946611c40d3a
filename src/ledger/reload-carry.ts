// A reload that gives a limit a new count (another algorithm, a fixed window of another length, a limit the
// old configuration did not have) starts it from the ledger. The old configuration's calls in flight then
// are in neither: they were charged to the old count, and their rows are written after the rebuild read
// the ledger. Each one is carried into the new counts once its row exists, by the instance that served it.
// The rebuild that runs once they have all ended compares counters with the ledger and raises them, which
// is not enough with several instances: another instance's calls in flight then fill the counter with
// reservations the ledger has no rows for, hiding the old calls' usage, and once they settle below what they
// reserved, the limit has that usage's room again (1,400 output tokens admitted within 1,000).
import type { Policy } from '../config/policy.js';
import type { CounterItem, CounterStore } from '../limits/counter-store.js';
import { counterIdentity } from '../limits/windows.js';
import { LedgerCombos } from './ledger-combos.js';
import type { LedgerRow } from './ledger.js';
import { weighRow } from './limit-usage.js';

export class ReloadCarry {
  private readonly combos = new WeakMap<Policy, LedgerCombos>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly store: CounterStore) {}

  /**
   * Charges the call of `row`, admitted under `from`, to the counts of `to` it was not charged to, as the
   * rebuild would weigh its row. Never refused: the call has been served.
   */
  carry(row: LedgerRow, from: Policy, to: Policy): Promise<void> {
    const items = this.itemsToCarry(row, from, to);
    if (items.length === 0) return Promise.resolve();
    const carried = this.charge(`${row.requestId}:carried`, items);
    this.pending.add(carried);
    return carried.finally(() => this.pending.delete(carried));
  }

  /**
   * Resolves once the carries under way have reached the store: a rebuild that read the ledger before one
   * of them lands raised the counter to a figure that holds its row already, and the carry counted it twice.
   */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** The counts of `to` that `row` counts towards and that `from` did not charge, each weighted by its amount. */
  itemsToCarry(row: LedgerRow, from: Policy, to: Policy): CounterItem[] {
    const now = this.combosOf(to).resolve(row);
    if (!now) return [];
    const charged = new Set(this.combosOf(from).resolve(row)?.limits.map((l) => counterIdentity(l.item)));
    const items: CounterItem[] = [];
    for (const { item } of now.limits) {
      if (charged.has(counterIdentity(item))) continue;
      const amount = weighRow(item, row);
      if (amount <= 0) continue;
      // One reservation for every count: each item's input weight is its amount, reserved and settled as one
      // input token. Shadow mode: counted, never refused.
      items.push({
        key: item.key,
        algorithm: item.algorithm,
        window: item.window,
        max: item.max,
        mode: 'shadow',
        weights: { input: amount, output: 0, request: 0 },
        ...(item.onStoreError ? { onStoreError: item.onStoreError } : {}),
      });
    }
    return items;
  }

  private async charge(id: string, items: CounterItem[]): Promise<void> {
    const outcome = await this.store.reserve({ id, items, input: 1, output: 0, clamp: false, minOutput: 0 });
    if (outcome.ok) await this.store.settle(id, { input: 1, output: 0, request: 0 });
  }

  private combosOf(policy: Policy): LedgerCombos {
    let combos = this.combos.get(policy);
    if (combos === undefined) {
      combos = new LedgerCombos(policy);
      this.combos.set(policy, combos);
    }
    return combos;
  }
}
