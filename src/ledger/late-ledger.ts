// A PostgreSQL ledger whose database did not answer when the gateway started. With counters in Redis the
// gateway need not wait for it (the counters are there; rows can wait in the writer's buffer), so a
// database outage does not keep restarted gateways down: the ledger is opened in the background, and
// until then every call on it fails at once with LedgerNotReadyError, which the writer retries like any
// failed write.
import type { KeyTable } from '../auth/key-table.js';
import type { ManagedKey } from '../auth/managed-key.js';
import type { Ledger, LedgerRow, ObjectOwner, RowQuery, UsageEvent, UsageGroup, UsageQuery } from './ledger.js';

/** The ledger's database has not been reachable since the gateway started. */
export class LedgerNotReadyError extends Error {
  override readonly name = 'LedgerNotReadyError';
}

// Connection-level failures, and PostgreSQL's "starting up" / "too many connections": the database may
// come. A wrong password, a missing database or a bad URL will not fix itself, and still stop the start.
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', '57P03', '53300']);

/** Whether an error opening the ledger is the database being unreachable for now. */
export function isTransientOpenError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** Retries start at this and double up to the cap. */
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export interface LateLedgerOptions {
  /** Opens (and migrates) the ledger; rejects while the database is unreachable. */
  open: () => Promise<Ledger>;
  /** The error that made the first open fail. */
  firstError: Error;
  /** Each failed retry (throttle the log in the caller). */
  onRetryFailed?: (err: Error) => void;
  /** Once, when the ledger is open. */
  onReady?: () => void;
}

export class LateLedger implements Ledger, KeyTable {
  readonly kind = 'postgres';
  private inner: Ledger | undefined;
  private lastError: Error;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private delayMs = FIRST_RETRY_MS;

  constructor(private readonly opts: LateLedgerOptions) {
    this.lastError = opts.firstError;
    this.schedule();
  }

  /** Whether the database has been reached and the ledger opened. */
  get ready(): boolean {
    return this.inner !== undefined;
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.attempt(), this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(MAX_RETRY_MS, this.delayMs * 2);
  }

  private async attempt(): Promise<void> {
    try {
      const ledger = await this.opts.open();
      if (this.closed) return void (await ledger.close().catch(() => {}));
      this.inner = ledger;
      this.opts.onReady?.();
    } catch (err) {
      this.lastError = err as Error;
      this.opts.onRetryFailed?.(err as Error);
      if (!this.closed) this.schedule();
    }
  }

  private get ledger(): Ledger {
    if (this.inner) return this.inner;
    throw new LedgerNotReadyError(`the ledger database has not been reachable since the gateway started (${this.lastError.message})`);
  }

  // Nothing to do: the ledger is opened (and migrated) in the background.
  async init(): Promise<void> {}

  async append(rows: LedgerRow[]): Promise<void> {
    return this.ledger.append(rows);
  }

  async recordConversation(id: string, owner: ObjectOwner, atMs: number): Promise<void> {
    return this.ledger.recordConversation(id, owner, atMs);
  }

  get keys(): KeyTable {
    return this;
  }

  async listKeys(): Promise<ManagedKey[]> {
    return this.ledger.keys!.listKeys();
  }

  async insertKey(key: ManagedKey): Promise<boolean> {
    return this.ledger.keys!.insertKey(key);
  }

  async replaceKey(key: ManagedKey, expectedUpdatedAt: number): Promise<boolean> {
    return this.ledger.keys!.replaceKey(key, expectedUpdatedAt);
  }

  async conversationOwner(id: string): Promise<ObjectOwner | undefined> {
    return this.ledger.conversationOwner(id);
  }

  async responseOwner(id: string, sinceMs: number): Promise<ObjectOwner | undefined> {
    return this.ledger.responseOwner(id, sinceMs);
  }

  async summarize(q: UsageQuery): Promise<UsageGroup[]> {
    return this.ledger.summarize(q);
  }

  async events(sinceMs: number, organization?: string): Promise<UsageEvent[]> {
    return this.ledger.events(sinceMs, organization);
  }

  async eachGroup(q: UsageQuery, visit: (g: UsageGroup) => void): Promise<void> {
    return this.ledger.eachGroup(q, visit);
  }

  async eachEvent(sinceMs: number, organization: string | undefined, visit: (e: UsageEvent) => void): Promise<void> {
    return this.ledger.eachEvent(sinceMs, organization, visit);
  }

  async rows(q: RowQuery): Promise<LedgerRow[]> {
    return this.ledger.rows(q);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.inner?.close();
  }
}
