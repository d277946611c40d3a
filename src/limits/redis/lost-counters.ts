// Counters Redis lost (a flush, a restart without persistence, a failover to a replica that was behind)
// are rebuilt from the ledger. RESERVE_LUA notices the loss two ways: an organization's presence marker
// is missing (TGLOST), or Redis shows fewer admitted reservations than this instance saw before (it went
// back in time). This class keeps what the store needs for both and runs each rebuild once, however
// many requests notice. Behind Redis Sentinel the client also sees a failover itself (another primary):
// then every counter is rebuilt once before the next reservation, since writes other instances made
// may be the ones lost, which this instance's own counts cannot show.
import { CountersNotRebuiltError } from '../store-errors.js';
import { organizationTag } from '../applicable-limits.js';
import { lastPrimaryKey, presenceKey } from './hash-tags.js';
import type { RedisClient } from './redis-client.js';
import { LAST_PRIMARY_LUA } from './lua-scripts.js';

const LOST_ERROR = /^TGLOST/;
const FAILOVER_ERROR = /^TGFAILOVER/;

/**
 * Why RESERVE_LUA refused a reservation before admitting it, when the counters are in question: `lost`
 * (TGLOST: the presence marker gone, or a count that went back) or `failover` (TGFAILOVER: a replica of
 * the node that answered before, promoted since). Undefined for any other error.
 */
export function refusalOf(err: Error): 'lost' | 'failover' | undefined {
  if (LOST_ERROR.test(err.message)) return 'lost';
  if (FAILOVER_ERROR.test(err.message)) return 'failover';
  return undefined;
}

/** In `reading`: the rebuild after a failover, which covers every organization. */
const EVERY_TAG = '*';

/** After a failed rebuild of lost counters, how long requests are refused before it is tried again. */
const REBUILD_RETRY_MS = 1000;

/** `storage.rebuild_wait_ms`'s default: the most a reservation waits for a rebuild (see waitFor). */
export const DEFAULT_REBUILD_WAIT_MS = 2000;

export class LostCounters {
  private rebuild?: () => Promise<void>;
  /** The organizations whose counters are rebuilt (the last watch()). */
  private organizations: string[] = [];
  /**
   * The hash tags reserved with the checks since start (seenArg), whose last primary's id may be stored:
   * those of organizations a reload added too, which the rebuild covers (it reads the current config) but
   * watch() never named. Their ids must be forgotten with the others' (forgetLastPrimaries), or every reservation of
   * theirs is refused as TGFAILOVER again and sets off one more rebuild, forever.
   */
  private readonly reservedTags = new Set<string>();
  private rebuilding?: Promise<void>;
  /** One to start when the rebuild under way ends (see rebuildFor). */
  private nextRebuild?: Promise<void>;
  /** The hash tags (EVERY_TAG: a failover's) whose rebuild has begun to read the ledger and not ended. */
  private readonly reading = new Set<string>();
  // The last failed rebuild: requests within REBUILD_RETRY_MS of it fail at once instead of each retrying.
  private rebuildFailure?: { atMs: number; error: CountersNotRebuiltError };
  /** Rebuilds finished (counters restored and marked present) per hash tag. */
  private readonly rebuilds = new Map<string, number>();
  /**
   * Per hash tag, the highest count of admitted reservations Redis has shown this instance (RESERVE_LUA):
   * Redis showing less has gone back in time, and the counters are rebuilt from the ledger.
   */
  private readonly seen = new Map<string, number>();
  /** Per hash tag, the rebuild and marking under way. */
  private readonly marking = new Map<string, Promise<void>>();
  /** Rebuilds after a failover, counted for every hash tag (see rebuildsOf). */
  private failoverRebuilds = 0;
  /** The rebuild after a failover, once started; reservations wait for it. */
  private failoverRebuild?: Promise<void>;
  /** A failover was seen and its rebuild has not finished: reservations call rebuildAfterFailover() first. */
  failoverPending = false;

  constructor(
    private readonly client: RedisClient,
    /** The most a reservation waits for a rebuild before it fails as one whose counters are not rebuilt. */
    private readonly waitMs = DEFAULT_REBUILD_WAIT_MS,
    /**
     * Runs after a rebuild of `tag`'s counters (undefined: every organization's), before they are marked
     * present again: the store places its reservations still in flight back (their records were lost too).
     */
    private readonly afterRebuild: (tag: string | undefined) => Promise<void> = async () => {},
    /**
     * With budget leases: runs before a rebuild of `tag`'s counters (undefined: every organization's) reads
     * the ledger, until the slices other instances were granted before the loss have ended (lease-wait.ts).
     */
    private readonly beforeRebuild?: (tag: string | undefined) => Promise<void>,
  ) {}

  /**
   * `rebuild` (a rebuildLost or rebuildAfterFailover), waited for at most `waitMs`. The ledger query has
   * no timeout of its own (a large ledger, a table lock, a stalled database), and every reservation of
   * the organization waits on it: past the bound this one fails as CountersNotRebuiltError (refused under
   * fail_closed, counted locally under fail_open) while the rebuild goes on; later reservations are
   * admitted as usual once it is done.
   */
  waitFor(rebuild: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CountersNotRebuiltError(`they are still being rebuilt from the ledger after ${this.waitMs} ms`, this.waitMs)), this.waitMs);
    });
    return Promise.race([rebuild, late]).finally(() => clearTimeout(timer));
  }

  /**
   * A reservation of `tag` was refused (refusalOf): resolves once the counters are rebuilt, within `waitMs`,
   * for the caller to send it again. After a cluster failover every counter is rebuilt once, as after a
   * Sentinel failover: the promoted replica may lack any instance's latest writes. `rebuildsBefore` is
   * rebuildsOf(tag) when it was sent: a rebuild finished since covers it (calls sent together must not
   * rebuild once per reply that happens to arrive after it).
   */
  async recover(refusal: 'lost' | 'failover', tag: string, rebuildsBefore: number): Promise<void> {
    if (this.rebuildsOf(tag) !== rebuildsBefore) return;
    if (refusal === 'lost') return this.waitFor(this.rebuildLost(tag));
    // Until a rebuild succeeds, the node refuses again (the stored id of the primary it may lack writes of
    // stays, and so does this instance's own): the reservation fails as one whose counters are not rebuilt,
    // and within REBUILD_RETRY_MS of a failed rebuild at once, not with a ledger query of its own each.
    const failure = this.rebuildFailure;
    if (!this.failoverRebuild && failure && Date.now() - failure.atMs < REBUILD_RETRY_MS) throw failure.error;
    const done = this.failoverRebuilds;
    this.failedOver();
    await this.waitFor(this.rebuildAfterFailover());
    if (this.failoverRebuilds === done) throw this.rebuildFailure?.error ?? new CountersNotRebuiltError('the rebuild after a failover failed');
  }

  /** Whether reservations check that Redis still holds the counters (a rebuild was registered). */
  get watching(): boolean {
    return this.rebuild !== undefined;
  }

  /** Registers the rebuild and marks the organizations' counters present. */
  async watch(organizations: string[], rebuild: () => Promise<void>): Promise<void> {
    this.rebuild = rebuild;
    this.organizations = organizations;
    // Best effort (Redis may be down at start-up): an organization left unmarked is rebuilt, idempotently,
    // on its first reservation.
    await Promise.all(organizations.map((org) => this.client.set(presenceKey(organizationTag(org)), '1', 'NX'))).catch(() => {});
  }

  /** The reservation count this instance has seen for `tag`, as RESERVE_LUA takes it ('' for none). */
  seenArg(tag: string): string {
    this.reservedTags.add(tag);
    return String(this.seen.get(tag) ?? '');
  }

  /** Redis answered a reservation with this count of admitted ones. */
  noteSeen(tag: string, count: number): void {
    this.seen.set(tag, Math.max(this.seen.get(tag) ?? 0, count));
  }

  /** The hash tags whose last primary's id may be stored: the watched organizations' and those reserved since. */
  private tagsWithPrimaries(): string[] {
    return [...new Set([...this.organizations.map(organizationTag), ...this.reservedTags])];
  }

  /**
   * Just before a rebuild after a failover reads the ledger: the id of the node holding each organization
   * now (forgetLastPrimaries). An organization whose node does not answer is left out (its id is kept).
   */
  private async primariesAtRead(): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    await Promise.all(
      this.tagsWithPrimaries().map(async (tag) => {
        const id: unknown = await this.client.eval(LAST_PRIMARY_LUA, 1, lastPrimaryKey(tag)).catch(() => '');
        if (typeof id === 'string' && id !== '') ids.set(tag, id);
      }),
    );
    return ids;
  }

  /**
   * After every counter was rebuilt: the primary each organization was last admitted on is no reason to
   * rebuild again (RESERVE_LUA compares it with the node's previous id); the next admission notes the
   * node's own. Only where the node is still the one that held the organization when the rebuild read the
   * ledger (`atRead`): one promoted since may lack writes made after the read, which the rebuild missed.
   * Best effort: a key left behind costs one more rebuild.
   */
  private async forgetLastPrimaries(atRead: Map<string, string>): Promise<void> {
    await Promise.all([...atRead].map(([tag, id]) => this.client.eval(LAST_PRIMARY_LUA, 1, lastPrimaryKey(tag), id))).catch(() => {});
  }

  /** Rebuilds of `tag`'s counters finished so far. */
  rebuildsOf(tag: string): number {
    return (this.rebuilds.get(tag) ?? 0) + this.failoverRebuilds;
  }

  /** The client reached another primary (a Sentinel failover): the counters are rebuilt before the next reservation. */
  failedOver(): void {
    if (this.rebuild) this.failoverPending = true;
  }

  /**
   * Rebuilds every counter from the ledger once after a failover. A ledger that does not answer leaves the
   * counters as the new primary has them; a reservation the node refuses as TGFAILOVER then fails
   * (recover()) until a rebuild succeeds, since the node names a primary whose latest writes it may lack
   * (RESERVE_LUA), whoever made them. Without that refusal (a Sentinel switch the node does not show,
   * or no reservation of an organization there) reservations are admitted against those counters.
   */
  rebuildAfterFailover(): Promise<void> {
    this.failoverRebuild ??= (async () => {
      try {
        let atRead = new Map<string, string>();
        await this.rebuildFor(undefined, async () => {
          atRead = await this.primariesAtRead();
        });
        await this.afterRebuild(undefined);
        await this.forgetLastPrimaries(atRead);
        this.rebuildFailure = undefined;
        // What this instance saw counted before is covered now: a lower count on the new primary is no
        // second loss. Reservations confirmed before, whose records may have gone, settle as old ones.
        this.seen.clear();
        this.failoverRebuilds++;
      } catch {
        // recover() refuses the reservations that wait for it (see there)
      } finally {
        this.failoverPending = false;
        this.failoverRebuild = undefined;
        this.reading.delete(EVERY_TAG);
      }
    })();
    return this.failoverRebuild;
  }

  /**
   * Rebuilds lost counters once however many requests notice, then marks them present again. Requests
   * noticing while that runs, up to the marker being set, wait for the same rebuild.
   */
  rebuildLost(tag: string): Promise<void> {
    let marking = this.marking.get(tag);
    if (!marking) {
      const failure = this.rebuildFailure;
      if (failure && Date.now() - failure.atMs < REBUILD_RETRY_MS) return Promise.reject(failure.error);
      marking = (async () => {
        await this.rebuildFor(tag);
        await this.afterRebuild(tag);
        this.rebuildFailure = undefined;
        // NX: after a rollback the marker is there, and the (lower) admitted count, which every instance
        // then learns afresh, is left alone (hash-tags.ts admittedKey).
        await this.client.set(presenceKey(tag), '1', 'NX');
        this.seen.delete(tag);
        this.rebuilds.set(tag, (this.rebuilds.get(tag) ?? 0) + 1);
      })().finally(() => {
        this.marking.delete(tag);
        this.reading.delete(tag);
      });
      this.marking.set(tag, marking);
    }
    return marking;
  }

  /**
   * The rebuilds under way that cover `tag`, if any (undefined: none, so callers stay synchronous), and
   * whether each has begun to read the ledger (it writes the buffered rows first): until then a call's
   * row written now is in what it reads.
   */
  underWay(tag: string): { readStarted: boolean; done: Promise<void> } | undefined {
    const marking = this.marking.get(tag);
    const failover = this.failoverRebuild;
    if (!marking && !failover) return undefined;
    const readStarted = (!marking || this.reading.has(tag)) && (!failover || this.reading.has(EVERY_TAG));
    return { readStarted, done: Promise.allSettled([marking, failover]).then(() => {}) };
  }

  /**
   * Resolves once no rebuild that may cover `tag` is under way (however it ends). Usage counted locally
   * meanwhile is added to Redis only after it: `restore` keeps the larger of counter and ledger, so usage
   * added before would be lost under the ledger's figure (which misses calls still running at its query).
   */
  async settled(tag: string): Promise<void> {
    await Promise.allSettled([this.marking.get(tag), this.failoverRebuild]);
  }

  /**
   * A rebuild covering `tag` (undefined: every organization). After a wait (budget leases), one that reads
   * the ledger from now on: a rebuild under way may have read it before the slices ended. `beforeRead` runs
   * after the wait, just before.
   */
  private async rebuildFor(tag: string | undefined, beforeRead?: () => Promise<void>): Promise<void> {
    if (this.beforeRebuild) await this.beforeRebuild(tag);
    if (beforeRead) await beforeRead();
    // Reading from now until the rebuild's marking ends (rebuildLost, rebuildAfterFailover): a row written
    // meanwhile may miss what it reads.
    this.reading.add(tag ?? EVERY_TAG);
    return this.beforeRebuild ? this.freshRebuild() : this.runRebuild();
  }

  /** A rebuild that reads the ledger from now on: one under way may have read it already. */
  private freshRebuild(): Promise<void> {
    const underWay = this.rebuilding;
    if (!underWay) return this.runRebuild();
    this.nextRebuild ??= underWay
      .catch(() => {})
      .then(() => {
        this.nextRebuild = undefined; // starting now: a wait that ends later needs the one after
        return this.runRebuild();
      });
    return this.nextRebuild;
  }

  /** The rebuild under way, or a new one: one at a time, whatever asked for it. */
  private runRebuild(): Promise<void> {
    this.rebuilding ??= this.rebuild!()
      .catch((err: Error) => {
        const error = err instanceof CountersNotRebuiltError ? err : new CountersNotRebuiltError(err.message);
        this.rebuildFailure = { atMs: Date.now(), error };
        throw error;
      })
      .finally(() => (this.rebuilding = undefined));
    return this.rebuilding;
  }
}
