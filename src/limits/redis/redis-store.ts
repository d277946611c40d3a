// Counters shared by many gateway instances, in Redis or Redis Cluster. Every operation is one Lua script
// call (EVALSHA; EVAL with its text when Redis does not hold it) on the node that owns the organization's hash tag.
import type { CounterItem, CounterStore, HeldCalls, LimitState, ReserveOutcome, ReserveRequest, ResponseOwner, RestoreEntry, SettleUsage } from '../counter-store.js';
import { COMMAND_TIMED_OUT } from '../store-errors.js';
import { amountFor } from '../admission.js';
import { LIST_PRICE } from '../price-factors.js';
import { ItemArgs, restoreValue, type WindowTable } from './item-args.js';
import { WindowCalls, type ScriptCall } from './window-calls.js';
import { HELD_LUA, LOST_AT_LUA, PEEK_LUA, RECONCILE_LUA, RESERVE_LUA, RESTORE_LUA, SETTLE_LUA } from './lua-scripts.js';
import type { RedisClient } from './redis-client.js';
import { onPrimaryChange } from './sentinel-failover.js';
import { ScriptBatcher } from './script-batcher.js';
import { CommandsRefusedError, permissionProblem } from './command-permissions.js';
import { Script } from './script-call.js';
import { withTimeout } from '../../util/with-timeout.js';
import { organizationTag } from '../applicable-limits.js';
import { admittedKey, hashTagOf, heldIndexKey, lastPrimaryKey, lossKey, presenceKey, sameTag } from './hash-tags.js';
import { waitOutLeases } from './lease-wait.js';
import type { ReconcileEntry, RedisStoreOptions } from './redis-store-options.js';
import { decodeResponseOwner, encodeResponseOwner, GROW_OWNER_LUA, responseOwnerKey } from './response-owner-keys.js';
import { DEFAULT_REBUILD_WAIT_MS, LostCounters, refusalOf } from './lost-counters.js';
import { endedFixedWindows, notedInHeldIndex, OpenReservations, type OpenReservation } from './open-reservations.js';
import { WindowCalculator } from '../windows.js';
import { replyIndexes, replyNumber, type Reply } from './script-reply.js';
import { countedArg, readHeldCalls } from './held-index-text.js';
import { KEY_GRACE_MS } from './lua-prelude.js';

/** The weights of an item placed again with nothing (its window ended: placeInFlightAgain). */
const NOTHING: CounterItem['weights'] = { input: 0, output: 0, request: 0 };

interface Scripts {
  tgPeek: ScriptCall;
  tgRestore: ScriptCall;
  tgReconcile: ScriptCall;
  tgLostAt: ScriptCall;
  tgHeld: ScriptCall;
  tgGrowOwner: ScriptCall;
}

// The rarer calls; reservations and settlements go through the batcher (script-batcher.ts).
const SCRIPTS = { tgPeek: PEEK_LUA, tgRestore: RESTORE_LUA, tgReconcile: RECONCILE_LUA, tgLostAt: LOST_AT_LUA, tgHeld: HELD_LUA, tgGrowOwner: GROW_OWNER_LUA };
/**
 * With budget leases, how many lease periods the moment a loss was first noticed is kept: an instance
 * noticing it later (its own slice ended first, or a call on a slice ending after the rebuild and finding
 * its record gone) then needs no wait of its own. Flushes and empty restarts remove it with the rest.
 */
const LOSS_KEPT_LEASES = 10;

export class RedisCounterStore implements CounterStore {
  private readonly scripts: Scripts;
  private readonly args: ItemArgs;
  private readonly open: OpenReservations;
  private readonly windows: WindowCalculator;
  private readonly calls: WindowCalls;
  private readonly lost: LostCounters;
  private readonly batcher: ScriptBatcher;
  /** Per hash tag, the replication id of the node that last answered its reservation (see RESERVE_LUA). */
  private readonly replids = new Map<string, string>();

  constructor(
    readonly client: RedisClient,
    private readonly opts: RedisStoreOptions,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { lua });
    // Bound, so each can be handed on alone (WindowCalls.perTag).
    const commands = client as unknown as Scripts;
    this.scripts = Object.fromEntries(Object.keys(SCRIPTS).map((name) => [name, (...args: string[]) => commands[name as keyof Scripts](...args)])) as unknown as Scripts;
    this.batcher = new ScriptBatcher(client, { reserve: new Script(RESERVE_LUA), settle: new Script(SETTLE_LUA) });
    this.args = new ItemArgs(opts.timezone);
    this.calls = new WindowCalls(this.args, opts.clock, opts.timeOverride, () => this.batcher.flush());
    const leases = opts.leases;
    this.lost = new LostCounters(
      client,
      (opts.rebuildWaitMs ?? DEFAULT_REBUILD_WAIT_MS) + (leases?.ms ?? 0),
      (tag) => {
        if (tag === undefined) this.replids.clear(); // every counter rebuilt: each node's id is learnt afresh
        return this.placeInFlightAgain(tag);
      },
      leases && ((tag) => waitOutLeases(leases, tag === undefined ? undefined : () => this.sinceLossNoticed(tag, leases.ms))),
    );
    onPrimaryChange(client, () => this.lost.failedOver());
    this.open = new OpenReservations(opts.clock, opts.reservationTtlMs);
    this.windows = new WindowCalculator(opts.timezone);
  }

  async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    const items = req.items;
    if (items.length === 0) return { ok: true, output: req.output, states: [], shadowBlocked: [] };
    if (this.lost.failoverPending) await this.lost.waitFor(this.lost.rebuildAfterFailover());
    const tag = sameTag(items);
    const recordKey = `${tag}:res:${req.id}`;
    const factors = req.factors ?? LIST_PRICE;
    const entry: OpenReservation = {
      items,
      tag,
      recordKey,
      input: req.input,
      output: req.output,
      factors,
      confirmed: false,
      atMs: this.opts.clock.now(),
      rebuildsBefore: 0, // set when Redis confirms it
      placeAgain: req.placeAgain,
    };
    // Known before the call, so a reservation whose answer is lost can still be cancelled by id later.
    this.open.set(req.id, entry);
    const call = (): Promise<[Reply, WindowTable]> =>
      this.calls.withWindows((windows) => {
        const watchKeys = this.lost.watching ? { presence: presenceKey(tag), lastPrimary: lastPrimaryKey(tag), admitted: admittedKey(tag) } : undefined;
        const seen = this.lost.seenArg(tag);
        const replid = watchKeys === undefined ? '' : (this.replids.get(tag) ?? '');
        const a = this.args.reserveArgs({ req, recordKey, heldIndex: heldIndexKey(tag), noteHeld: notedInHeldIndex(entry), watchKeys, override: this.calls.override(), ttlMs: this.opts.reservationTtlMs, windows, factors, seen, replid });
        return this.batcher.reserve(tag, a);
      }, items);
    const rebuildsBefore = this.lost.rebuildsOf(tag);
    const [reply, table] = await this.bounded(call()).catch(async (err: Error) => {
      const refusal = refusalOf(err);
      if (!refusal) throw err;
      await this.lost.recover(refusal, tag, rebuildsBefore).catch((e: Error) => {
        this.open.delete(req.id); // refused before admission: nothing of it is in Redis to cancel later
        throw e;
      });
      if (refusal === 'failover') this.replids.clear(); // learnt again from each organization's next answer
      return this.bounded(call());
    });
    const now = replyNumber(reply[2]);
    if (reply[5] !== '') {
      const [count, replid] = String(reply[5]).split(' ');
      this.lost.noteSeen(tag, Number(count));
      if (replid) this.replids.set(tag, replid);
    }
    const states = items.map((item, i): LimitState => {
      const used = replyNumber(reply[6 + 2 * i]);
      return { used, max: item.max, resetAtMs: this.args.resetAt(item, now, used, reply[7 + 2 * i], table) };
    });
    const shadowBlocked = replyIndexes(reply[4]);
    if (reply[0] !== '1') {
      this.open.delete(req.id);
      const blocked = replyIndexes(reply[3]);
      // Refusals only: after the per-item fields, one per blocked item (in `blocked` order) listing a sliding
      // window's counted slots, so the 429 can say when this request fits (see RESERVE_LUA). Missing
      // fields (a reply without them) leave `leaving` unset: the Retry-After then uses the oldest slot.
      const base = 6 + 2 * items.length;
      blocked.forEach((b, k) => {
        const slots = reply[base + k];
        if (items[b].algorithm === 'sliding_window' && slots !== undefined) states[b].leaving = this.args.leaving(items[b], slots);
      });
      return { ok: false, blocked, states, shadowBlocked };
    }
    entry.output = replyNumber(reply[1]);
    entry.confirmed = true;
    entry.admittedAtStoreMs = now;
    // Made after any rebuild this answer waited for (a TGLOST retried), so counted from then.
    entry.rebuildsBefore = this.lost.rebuildsOf(tag);
    return { ok: true, output: entry.output, states, shadowBlocked, storeTimeMs: now };
  }

  /** Sent with the other settlements of this turn of the event loop (see script-batcher.ts). */
  async settle(id: string, usage: SettleUsage): Promise<void> {
    const entry = this.open.get(id);
    if (!entry) return;
    // A rebuild of its organization's counters is under way, and its record may have gone with the loss.
    // The call's ledger row is written just after this. Before the rebuild reads the ledger (it may be
    // waiting out budget leases), the row will be in what it reads: a missing record is no new loss ('o'),
    // nothing to count. Once it reads, the row may miss it: sent once the rebuild has placed the
    // reservation back (it is not `settling` meanwhile), the settlement replaces it with real usage. A
    // lease's return is sent at once: its amount was worked out before the rebuild rebased the lease.
    let known: 'u' | 'c' | 'o' | undefined;
    const rebuild = entry.confirmed ? this.lost.underWay(entry.tag) : undefined;
    if (rebuild && !rebuild.readStarted) known = 'o';
    else if (rebuild && !entry.placeAgain) {
      await rebuild.done;
      // Settled meanwhile, or the id reserved again (the engine's exact retry): that one is not this.
      if (this.open.get(id) !== entry) return;
    }
    // Only items whose amount changes go to Redis. After a lost answer the granted output is unknown here
    // (the record has it), so then every item goes.
    const billed = usage.factors ?? LIST_PRICE;
    const reserved = entry.factors;
    const changed: number[] = [];
    entry.items.forEach((item, i) => {
      if (entry.endedWindows?.has(i)) return; // counted in a window that has ended (placeInFlightAgain)
      if (!entry.confirmed || amountFor(item, usage.input, usage.output, usage.request, billed) !== amountFor(item, entry.input, entry.output, 1, reserved)) changed.push(i);
    });
    const a = this.args.settleSection({
      recordKey: entry.recordKey,
      presenceKey: presenceKey(entry.tag),
      heldIndex: heldIndexKey(entry.tag),
      items: entry.items,
      changed,
      usage,
      reservedInput: entry.input,
      reserved,
      billed,
      known: known ?? this.open.knownState(entry, this.lost.rebuildsOf(entry.tag)),
    });
    entry.settling = true;
    try {
      await this.bounded(this.batcher.settle(entry.tag, this.calls.override(), a));
    } catch (err) {
      entry.settleSent = true;
      throw err;
    } finally {
      entry.settling = false;
    }
    // Only once Redis answered: a failed settlement is retried with the same id and stays exactly-once.
    if (this.open.get(id) === entry) this.open.delete(id);
  }

  /**
   * Just after counters Redis lost were rebuilt from the ledger (`tag`'s; undefined: every organization's,
   * after a failover): this instance's calls still running are in no ledger row yet, and their records
   * went with the loss, so the rebuilt counters missed them and a limit could be passed by what they hold.
   * Each is placed again as it was reserved, under its own id, as a shadow reservation (the call is running:
   * never refused), in the current window; its settlement then finds the record and replaces it with real
   * usage as usual. A record Redis still has (a failover that kept it) answers TGDONE: counted already.
   * A fixed window it was admitted in that has ended since is left out (placed with nothing, and not
   * settled): the call counted there, not in the window that began (a flush just after midnight charged
   * the new day with yesterday's calls still running).
   * Best effort, before the counters are marked present again, so nothing is admitted in between.
   */
  private async placeInFlightAgain(tag: string | undefined): Promise<void> {
    const placements: Promise<unknown>[] = [];
    const nowInStore = this.calls.inRedisTime(this.opts.clock.now());
    for (const [id, entry] of this.open.placeableAgain(tag)) {
      const input = entry.placeAgain?.input() ?? entry.input;
      const ended = endedFixedWindows(entry, nowInStore, this.windows);
      entry.endedWindows = ended;
      const items = entry.items.map((item, i): CounterItem => (ended?.has(i) ? { ...item, mode: 'shadow', weights: NOTHING } : { ...item, mode: 'shadow' }));
      const req: ReserveRequest = { id, items, input, output: entry.output, clamp: false, minOutput: 0, factors: entry.factors };
      const placed = this.calls.withWindows(
        (windows) => this.batcher.reserve(entry.tag, this.args.reserveArgs({ req, recordKey: entry.recordKey, heldIndex: heldIndexKey(entry.tag), noteHeld: notedInHeldIndex(entry), watchKeys: undefined, override: this.calls.override(), ttlMs: this.opts.reservationTtlMs, windows, factors: entry.factors, seen: '', replid: '' })),
        req.items,
      );
      // As sent: a settlement made from now on reaches Redis after it (the batcher keeps each
      // organization's calls in order), so it must already settle from what is placed.
      entry.input = input;
      entry.placeAgain?.placed(input);
      // Made after this rebuild (counted once the marker is back): a record missing later is a new loss.
      placements.push(this.bounded(placed).then(() => (entry.rebuildsBefore = this.lost.rebuildsOf(entry.tag) + 1), () => {}));
    }
    await Promise.all(placements);
  }

  async restore(entries: RestoreEntry[]): Promise<void> {
    await this.calls.perTag(this.scripts.tgRestore, entries.map((e) => e.item), {
      keysAfter: (tag) => [heldIndexKey(tag)],
      argsBefore: (tag, group) => [countedArg(group.flatMap((i) => (entries[i].counted ?? []).map((c) => ({ field: `${tag}:res:${c.id}`, key: entries[i].item.key, amount: c.amount }))))],
      argsOf: (i) => [this.args.spec(entries[i].item), restoreValue(entries[i])],
    });
  }

  async peek(items: CounterItem[]): Promise<LimitState[]> {
    const states: LimitState[] = new Array(items.length);
    await this.calls.perTag(this.scripts.tgPeek, items, {}, (reply, group, table) => {
      const now = replyNumber(reply[0]);
      group.forEach((i, j) => {
        const used = replyNumber(reply[1 + 2 * j]);
        states[i] = { used, max: items[i].max, resetAtMs: this.args.resetAt(items[i], now, used, reply[2 + 2 * j], table) };
      });
    });
    return states;
  }

  /** Adds usage counted elsewhere into Redis, once per `batchId` (retrying a batch is a no-op). One organization per batch. */
  async reconcile(batchId: string, entries: ReconcileEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const tag = sameTag(entries.map((e) => e.item));
    await this.lost.settled(tag);
    this.batcher.flush(); // what was queued before reaches Redis before this
    const specs = entries.map((e) => this.args.spec(e.item));
    const args = [String(entries.length + 1)];
    for (const e of entries) args.push(e.item.key);
    args.push(`${tag}:rec:${batchId}`, this.calls.override(), String(this.opts.reservationTtlMs), this.args.windows(this.calls.estimate()).arg);
    // Stamped with the instance clock: placed in Redis time, as every other call (see withWindows).
    entries.forEach((e, i) => args.push(specs[i], String(this.calls.inRedisTime(e.atMs)), String(e.amount)));
    await this.scripts.tgReconcile(...args);
  }

  /** Ms since a loss of `tag`'s counters was first noticed, by any instance (noted now if not yet: 0). */
  private async sinceLossNoticed(tag: string, leaseMs: number): Promise<number> {
    return Number(await this.bounded(this.scripts.tgLostAt('1', lossKey(tag), this.calls.override(), String(LOSS_KEPT_LEASES * leaseMs))));
  }

  /**
   * The rebuilds of lost counters under way that cover `items` (their waits for budget leases included, and
   * those chained behind another), resolving once they have ended; undefined when there are none.
   */
  rebuildUnderWay(items: readonly CounterItem[]): Promise<void> | undefined {
    const done = [...new Set(items.map((item) => hashTagOf(item.key)))].flatMap((tag) => this.lost.underWay(tag)?.done ?? []);
    if (done.length === 0) return undefined;
    return done.length === 1 ? done[0] : Promise.all(done).then(() => {});
  }

  /**
   * For reservation `id` still open, whose counters are being rebuilt by a rebuild that has begun to read the
   * ledger: the rebuild's end. Its settlement waits for the rebuild to place it back (settle), so its ledger
   * row must miss what the rebuild reads. Undefined otherwise: settled before the read, a call's row is in it
   * (settle counts nothing then); a budget lease's return is settled at once.
   */
  rebuildReading(id: string): Promise<void> | undefined {
    const entry = this.open.get(id);
    if (!entry?.confirmed || entry.placeAgain) return undefined;
    const rebuild = this.lost.underWay(entry.tag);
    return rebuild?.readStarted ? rebuild.done : undefined;
  }

  /** Reservations check from now on that Redis still holds the counters, and `rebuild` them when not (lost-counters.ts). */
  rebuildWhenLost(organizations: string[], rebuild: () => Promise<void>): Promise<void> {
    return this.lost.watch(organizations, rebuild);
  }

  async holdsCounters(organizations: string[]): Promise<boolean> {
    try {
      const present = await this.bounded(Promise.all(organizations.map((org) => this.client.exists(presenceKey(organizationTag(org))))));
      return present.every((n) => n === 1);
    } catch {
      return false;
    }
  }

  /** One SET with its expiry: the record lives as long as the provider keeps the response. */
  async recordResponse(id: string, owner: ResponseOwner, ttlMs: number): Promise<void> {
    await this.bounded(this.client.set(responseOwnerKey(id), encodeResponseOwner(owner), 'PX', Math.max(1, Math.ceil(ttlMs))));
  }

  async growResponse(id: string, tokens: number, ttlMs: number): Promise<void> {
    await this.bounded(this.scripts.tgGrowOwner('1', responseOwnerKey(id), String(tokens), String(Math.max(1, Math.ceil(ttlMs)))));
  }

  async responseOwner(id: string): Promise<ResponseOwner | undefined> {
    return decodeResponseOwner(await this.bounded(this.client.get(responseOwnerKey(id))));
  }

  /** Proves the store answers, and that its user may run what the counters need (the probe's way back after an outage). */
  async ping(): Promise<void> {
    await this.client.ping();
    const problem = await permissionProblem(this.client);
    if (problem !== undefined) throw new CommandsRefusedError(problem);
  }

  async openReservations(): Promise<number> {
    return this.open.confirmedCount();
  }

  /** What this instance's reservations in flight hold of each counter (see OpenReservations.held). */
  async held(items: CounterItem[]): Promise<number[]> {
    return this.open.held(items);
  }

  /** What the held index says every instance's reservations in flight hold of each item now (CounterStore.heldInStore). */
  async heldInStore(items: CounterItem[]): Promise<number[]> {
    const out: number[] = new Array(items.length).fill(0);
    await this.calls.perTag(this.scripts.tgHeld, items, { keysAfter: (tag) => [heldIndexKey(tag)] }, (reply, group) => {
      // An index too large to read (MAX_HELD_READ): this instance's own, as it knows them.
      const own = reply.length === 0 ? this.open.heldNoted(group.map((i) => items[i])) : undefined;
      group.forEach((i, j) => (out[i] = own ? own[j] : replyNumber(reply[j])));
    });
    return out;
  }

  /** The reservations noted in the held indexes of `organizations` (CounterStore.heldCalls). */
  async heldCalls(organizations: string[]): Promise<HeldCalls> {
    const now = this.opts.clock.now();
    const tags = [...new Set(organizations.map(organizationTag))];
    const calls = (await Promise.all(tags.map((tag) => readHeldCalls(this.client, (p) => this.bounded(p), tag, now)))).flat();
    // A reservation is made at most its record's life before now (another instance's may be configured
    // longer: its calls' rows before this are not looked up, and count as held, the safe side).
    return { calls, sinceMs: now - this.opts.reservationTtlMs - KEY_GRACE_MS };
  }

  /** What of that the restore does not read from the held index itself: budget leases' and token buckets'. */
  async restoreHeld(items: CounterItem[]): Promise<number[]> {
    return this.open.held(items, true);
  }

  async close(): Promise<void> {
    this.open.stop();
    this.batcher.flush(); // quit waits for their replies
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** `p`, failing as a command timeout does once `callTimeoutMs` have passed (when set). */
  private bounded<T>(p: Promise<T>): Promise<T> {
    return this.opts.callTimeoutMs === undefined ? p : withTimeout(p, this.opts.callTimeoutMs, COMMAND_TIMED_OUT);
  }
}
