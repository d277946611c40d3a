// Where managed keys are kept: a table in the ledger's database (ledger/key-table-sql.ts), shared by
// every gateway instance that shares the ledger.
import type { ManagedKey } from './managed-key.js';

export interface KeyTable {
  /** Every managed key, revoked ones included (their ids are never given again), oldest first. */
  listKeys(): Promise<ManagedKey[]>;
  /** Adds a key; false when its id (or its hash) is taken already. */
  insertKey(key: ManagedKey): Promise<boolean>;
  /**
   * Writes `key` over the stored key of its id if that one was last changed at `expectedUpdatedAt`; false
   * when it was changed since (by another admin call, perhaps on another instance) or is not there.
   */
  replaceKey(key: ManagedKey, expectedUpdatedAt: number): Promise<boolean>;
}
