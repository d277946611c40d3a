// The managed keys this gateway applies (managed-key.ts), kept in step with the key table: read at start,
// again every `storage.key_refresh_ms`, and at once after this gateway's own admin calls. A change is
// handed to `apply` (a reload of the policy with the new keys), so a key made or revoked on one instance
// is in force on every instance sharing the ledger within one refresh.
import type { KeyTable } from './key-table.js';
import type { ManagedKey } from './managed-key.js';

export interface KeyRingOptions {
  table: KeyTable;
  /** Puts `keys` in force; resolves once they are (a config reload with them). */
  apply: (keys: readonly ManagedKey[]) => Promise<void>;
  /** After each read of the table: its error when it failed (the database away; the keys in force stay). */
  onRead: (err?: Error) => void;
}

export class KeyRing {
  private current: readonly ManagedKey[] = [];
  /** The table as last read, compared as text: a small table, read every few seconds. */
  private seen = '[]';
  private refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: KeyRingOptions) {}

  /** The managed keys in force (revoked ones included: withManagedKeys leaves them out). */
  get keys(): readonly ManagedKey[] {
    return this.current;
  }

  /**
   * Reads the table (the start's first read: nothing to apply yet, the caller builds the first policy
   * with `keys`). Rejects when the table cannot be read.
   */
  async load(): Promise<void> {
    const keys = await this.read();
    this.current = keys;
    this.seen = JSON.stringify(keys);
  }

  /** Reads the table and applies it when it changed; one at a time, in order. Rejects when the read fails. */
  refresh(): Promise<void> {
    const run = this.refreshing.then(async () => {
      const keys = await this.read();
      const text = JSON.stringify(keys);
      if (text === this.seen) return;
      this.seen = text;
      this.current = keys;
      await this.opts.apply(keys);
    });
    this.refreshing = run.catch(() => {});
    return run;
  }

  /**
   * Refreshes every `intervalMs` for as long as the process runs (the timer does not hold it open); a failed
   * read (reported to onRead) is tried again next time.
   */
  start(intervalMs: number): void {
    const tick = (): void => {
      this.refresh()
        .catch(() => {})
        .finally(() => setTimeout(tick, intervalMs).unref());
    };
    setTimeout(tick, intervalMs).unref();
  }

  private async read(): Promise<ManagedKey[]> {
    try {
      const keys = await this.opts.table.listKeys();
      this.opts.onRead();
      return keys;
    } catch (err) {
      this.opts.onRead(err as Error);
      throw err;
    }
  }
}
